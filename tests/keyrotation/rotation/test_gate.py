"""The approval gate: its truth table, and rotate_account under a gate on moto."""

from __future__ import annotations

import pytest

from deploy.demo.organization import DemoKey, DemoUser
from keyrotation.aws.secret_store import secret_name
from keyrotation.policy import ActionType
from keyrotation.results import Outcome
from keyrotation.rotation import ActionGate
from keyrotation.settings import RotationSettings

A = ActionType
CHANGES = (A.ROTATE, A.ROTATE_AND_DELETE, A.DEACTIVATE, A.DELETE)
ASKED = frozenset({A.DEACTIVATE, A.DELETE, A.ROTATE_AND_DELETE})


def K(age_days: float, used_days_ago: float | None = None, active: bool = True) -> DemoKey:
    return DemoKey(age_days, used_days_ago, active)


@pytest.mark.parametrize("action", list(A))
def test_without_approvals_asked_every_action_is_allowed(action: ActionType) -> None:
    assert ActionGate().allows("alice", "AKIA1", action)


@pytest.mark.parametrize("action", CHANGES)
def test_a_rejected_plan_allows_no_change_even_an_approved_one(action: ActionType) -> None:
    gate = ActionGate(
        needs_approval=frozenset(CHANGES),
        approved=frozenset({("alice", "AKIA1", action.name)}),
        rejected=True,
        reason="rejected by alice",
    )
    assert not gate.allows("alice", "AKIA1", action)


def test_a_warning_is_always_allowed_it_changes_nothing() -> None:
    assert ActionGate(needs_approval=frozenset(A), rejected=True).allows("a", "K", A.WARN)


@pytest.mark.parametrize(
    ("approved", "user", "key", "action", "allowed"),
    [
        ({("alice", "AKIA1", "DELETE")}, "alice", "AKIA1", A.DELETE, True),
        (set(), "alice", "AKIA1", A.DELETE, False),
        ({("alice", "AKIA1", "DELETE")}, "alice", "AKIA2", A.DELETE, False),  # other key
        ({("alice", "AKIA1", "DELETE")}, "bob", "AKIA1", A.DELETE, False),  # other user
        ({("alice", "AKIA1", "DEACTIVATE")}, "alice", "AKIA1", A.DELETE, False),  # other type
        (set(), "alice", "AKIA1", A.ROTATE, True),  # needs no approval
    ],
)
def test_an_action_that_needs_approval_runs_only_when_approved(
    approved, user, key, action, allowed
) -> None:
    gate = ActionGate(needs_approval=ASKED, approved=frozenset(approved))
    assert gate.allows(user, key, action) is allowed


def state(account) -> tuple[dict, list]:
    """Every user's keys and every secret (name, tags, versions) of the account."""
    iam = account.iam()
    users = [u["UserName"] for u in iam.list_users()["Users"]]
    secrets = [
        (s["Name"], sorted((t["Key"], t["Value"]) for t in s.get("Tags", [])), s.get("DeletedDate"))
        for s in account.secrets().list_secrets(IncludePlannedDeletion=True)["SecretList"]
    ]
    return {user: account.keys(user) for user in users}, sorted(secrets)


def test_an_approved_delete_runs(member, rotate) -> None:
    account = member(DemoUser("erin", (K(95), K(10, 1))))
    unused = account.seeded_keys["erin"][0]
    gate = ActionGate(needs_approval=ASKED, approved=frozenset({("erin", unused, "DELETE")}))

    (record,) = rotate(account, gate=gate).records

    assert (record.action, record.outcome) == ("DELETE", Outcome.DONE)
    assert unused not in account.keys("erin")


def test_a_delete_not_approved_is_recorded_and_the_key_kept(member, rotate, sessions) -> None:
    account = member(DemoUser("erin", (K(95), K(10, 1))))
    unused = account.seeded_keys["erin"][0]
    gate = ActionGate(needs_approval=ASKED, approved=frozenset({("erin", "AKIAOTHER", "DELETE")}))

    (record,) = rotate(account, gate=gate).records

    assert (record.access_key_id, record.action) == (unused, "DELETE")
    assert record.outcome == Outcome.NOT_APPROVED
    assert record.error == "not in the approved plan: left for the next run"
    assert not record.failed
    assert unused in account.keys("erin")
    assert "DeleteAccessKey" not in sessions.calls


def test_after_an_action_not_approved_the_users_later_actions_do_not_run(member, rotate) -> None:
    # Two expired active keys: DELETE the least recently used, then ROTATE the other.
    account = member(DemoUser("ivan", (K(150, 3), K(100, 1))))
    before = account.keys("ivan")

    records = rotate(account, gate=ActionGate(needs_approval=ASKED)).records

    assert [(r.action, r.outcome) for r in records] == [
        ("DELETE", "not approved"),
        ("ROTATE", "not approved"),
    ]
    assert records[1].error == "not attempted: the DELETE before it was not approved"
    assert account.keys("ivan") == before


def test_a_rotation_needs_no_approval_when_only_deletions_do(member, rotate) -> None:
    account = member(DemoUser("alice", (K(120, 1),)))

    (record,) = rotate(account, gate=ActionGate(needs_approval=ASKED)).records

    assert (record.action, record.outcome) == ("ROTATE", Outcome.DONE)
    assert record.new_access_key_id in account.keys("alice")


def test_a_rejected_plan_changes_nothing_in_iam_or_secrets_manager(
    member, rotate, sessions
) -> None:
    account = member(
        DemoUser("alice", (K(120, 1),)),
        DemoUser("erin", (K(95),)),
        DemoUser("ivan", (K(150, 3), K(100, 1))),
        DemoUser("olga", (K(25, 1, active=False),)),
    )
    # The secret of a user that is gone: the upkeep would schedule its deletion.
    account.secrets().create_secret(
        Name=secret_name(account.id, "gone"),
        SecretString="{}",
        Tags=[
            {"Key": "iam-key-rotation:account-id", "Value": account.id},
            {"Key": "iam-key-rotation:user-name", "Value": "gone"},
        ],
    )
    before = state(account)
    sessions.calls.clear()

    report = rotate(
        account,
        RotationSettings(dry_run=False),
        gate=ActionGate(rejected=True, reason="rejected by alice"),
    )

    assert state(account) == before
    assert set(sessions.mutating_calls()) == {"AssumeRole"}
    held = {(r.user_name, r.action): (r.outcome, r.error) for r in report.records}
    assert held == {
        ("alice", "ROTATE"): ("not approved", "rejected by alice"),
        ("erin", "ROTATE_AND_DELETE"): ("not approved", "rejected by alice"),
        ("ivan", "DELETE"): ("not approved", "rejected by alice"),
        ("ivan", "ROTATE"): (
            "not approved",
            "not attempted: the DELETE before it was not approved",
        ),
        ("olga", "DELETE"): ("not approved", "rejected by alice"),
        ("gone", "DELETE_ORPHANED_SECRET"): ("not approved", "rejected by alice"),
    }


def test_a_dry_run_ignores_the_gate(member, rotate) -> None:
    account = member(DemoUser("erin", (K(95), K(10, 1))))

    (record,) = rotate(account, dry_run=True, gate=ActionGate(rejected=True)).records

    assert record.outcome == Outcome.DRY_RUN
