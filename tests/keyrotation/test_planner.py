from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from keyrotation.aws.scan import ScannedKey, ScannedUser
from keyrotation.planner import forced_users, plan_users
from keyrotation.policy import ActionType, PolicySettings, Reason

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
POLICY = PolicySettings()
ACCOUNT = "111111111111"
OTHER = "222222222222"


def user(name: str, *ages: int, used: bool = True) -> ScannedUser:
    keys = tuple(
        ScannedKey(
            access_key_id=f"AKIA{name.upper():0<12}{i:04d}",
            status="Active",
            created=NOW - timedelta(days=age),
            last_used=NOW - timedelta(days=1) if used else None,
        )
        for i, age in enumerate(ages)
    )
    return ScannedUser(name=name, arn=f"arn:aws:iam::{ACCOUNT}:user/{name}", keys=keys)


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (["alice"], {"alice"}),
        ([f"{ACCOUNT}:alice"], {"alice"}),
        ([f"{OTHER}:alice"], set()),
        (["alice", f"{OTHER}:bob", f"{ACCOUNT}:carol", " dave ", ""], {"alice", "carol", "dave"}),
        ([], set()),
    ],
)
def test_forced_users_keeps_plain_names_and_this_accounts_qualified_names(entries, expected):
    assert forced_users(entries, ACCOUNT) == frozenset(expected)


@pytest.mark.parametrize(
    "entry", ["12345:alice", "alice:", f"{ACCOUNT}:a:b", "arn:aws:iam::1:user/x"]
)
def test_forced_users_rejects_malformed_qualified_entries(entry):
    with pytest.raises(ValueError, match="force rotation entry"):
        forced_users([entry], ACCOUNT)


def test_plan_users_plans_every_user_in_order_including_users_without_actions():
    users = [user("alice", 120), user("bob", 10), user("carol")]

    plans = plan_users(users, now=NOW, settings=POLICY)

    assert [p.user.name for p in plans] == ["alice", "bob", "carol"]
    assert [(a.action, a.reason) for a in plans[0].actions] == [
        (ActionType.ROTATE, Reason.EXPIRED_ACTIVE_KEY)
    ]
    assert plans[0].changes_iam
    assert plans[1].actions == ()
    assert not plans[1].changes_iam
    assert plans[2].actions == ()


def test_plan_users_forces_only_the_named_users():
    users = [user("alice", 10), user("bob", 10)]

    plans = plan_users(users, now=NOW, settings=POLICY, forced=forced_users(["bob"], ACCOUNT))

    by_name = {p.user.name: p for p in plans}
    assert by_name["alice"].actions == ()
    assert [(a.action, a.reason) for a in by_name["bob"].actions] == [
        (ActionType.ROTATE, Reason.FORCED_ROTATION)
    ]


def test_plan_users_passes_the_keys_as_the_policy_reads_them():
    never_used = user("erin", 95, used=False)

    (plan,) = plan_users([never_used], now=NOW, settings=POLICY)

    (action,) = plan.actions
    assert action.action is ActionType.ROTATE_AND_DELETE
    assert action.access_key_id == never_used.keys[0].access_key_id
    assert action.user_name == "erin"


def test_warnings_only_do_not_change_iam():
    (plan,) = plan_users([user("bob", 86)], now=NOW, settings=POLICY)

    assert [a.action for a in plan.actions] == [ActionType.WARN]
    assert not plan.changes_iam
