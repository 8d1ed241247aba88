"""An account's report rows: every scanned key with what the run did to it and what comes
next, the keys the run created, and the exempt users whose keys were not read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from keyrotation.aws.scan import ScannedKey, ScannedUser
from keyrotation.policy import PolicySettings
from keyrotation.report.rows import account_rows
from keyrotation.results import Account, ActionRecord

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ACCOUNT = Account(id="111111111111", name="prod", email="prod@example.com")
POLICY = PolicySettings()


def key(key_id: str, age_days: float, status: str = "Active", used: bool = True) -> ScannedKey:
    created = NOW - timedelta(days=age_days)
    return ScannedKey(
        access_key_id=key_id,
        status=status,
        created=created,
        last_used=NOW - timedelta(hours=1) if used else None,
    )


def user(name: str, *keys: ScannedKey, tags=None) -> ScannedUser:
    return ScannedUser(
        name=name, arn=f"arn:aws:iam::111111111111:user/{name}", keys=keys, tags=tags
    )


def record(user_name: str, key_id: str, action: str, **extra) -> ActionRecord:
    return ActionRecord(
        account_id=ACCOUNT.id,
        user_name=user_name,
        access_key_id=key_id,
        action=action,
        reason=extra.pop("reason", "EXPIRED_ACTIVE_KEY"),
        due=None,
        outcome=extra.pop("outcome", "done"),
        **extra,
    )


def test_rotated_key_gets_its_outcome_and_the_new_key_a_row_of_its_own() -> None:
    alice = user("alice", key("AKIAALICEOLD00000001", 95), tags={"Owner": "alice@example.com"})
    rows = account_rows(
        ACCOUNT,
        users=[alice],
        records=[
            record("alice", "AKIAALICEOLD00000001", "ROTATE", new_access_key_id="AKIAALICENEW0001")
        ],
        now=NOW,
        policy=POLICY,
        owner_tag="owner",
    )
    old, new = rows
    assert (old.access_key_id, old.action, old.outcome, old.owner) == (
        "AKIAALICEOLD00000001",
        "ROTATE",
        "done",
        "alice@example.com",
    )
    assert (new.access_key_id, new.status, new.created, new.action) == (
        "AKIAALICENEW0001",
        "Active",
        NOW,
        "CREATED",
    )
    assert new.next_action == "ROTATE"
    assert new.next_action_date == NOW + timedelta(days=90)


def test_next_action_is_what_the_policy_announces_next() -> None:
    # 60 days old: rotation due at day 90, 30 days from now.
    bob = user("bob", key("AKIABOB0000000000001", 60))
    # An Inactive key last used an hour ago beside a 5-day-old Active key: deleted
    # I + R days after its last use (the spec's rotated_at = max(A.created, X.used)).
    carol = user(
        "carol",
        key("AKIACAROLOLD00000001", 120, status="Inactive"),
        key("AKIACAROLNEW00000001", 5),
    )
    rows = {
        r.access_key_id: r
        for r in account_rows(ACCOUNT, users=[bob, carol], records=[], now=NOW, policy=POLICY)
    }
    assert rows["AKIABOB0000000000001"].next_action == "ROTATE"
    assert rows["AKIABOB0000000000001"].next_action_date == NOW + timedelta(days=30)
    assert rows["AKIACAROLOLD00000001"].next_action == "DELETE"
    assert rows["AKIACAROLOLD00000001"].next_action_date == NOW - timedelta(hours=1) + timedelta(
        days=20
    )
    # The new key rotates at 90 days.
    assert rows["AKIACAROLNEW00000001"].next_action_date == NOW + timedelta(days=85)
    assert rows["AKIABOB0000000000001"].action is None


def test_users_without_keys_and_exempt_users_are_rows_too() -> None:
    exempt = ActionRecord(
        account_id=ACCOUNT.id,
        user_name="break-glass",
        access_key_id="",
        action="EXEMPT",
        reason="EXEMPT",
        due=None,
        outcome="exempt",
        exemption_source="group IAMKeyRotationExemptionGroup",
    )
    tagged = ActionRecord(
        account_id=ACCOUNT.id,
        user_name="legacy",
        access_key_id="",
        action="EXEMPT",
        reason="EXEMPT",
        due=None,
        outcome="exempt",
        exemption_source="tag iam-key-rotation:exempt-until",
        exemption_reason="vendor migration",
        exempt_until="2026-12-31",
    )
    legacy = user("legacy", key("AKIALEGACY0000000001", 200))
    rows = account_rows(
        ACCOUNT,
        users=[user("nokeys"), legacy],
        records=[exempt, tagged],
        now=NOW,
        policy=POLICY,
    )
    by_user = {r.user_name: r for r in rows}
    assert by_user["nokeys"].access_key_id is None and by_user["nokeys"].status is None
    assert by_user["legacy"].exemption_until == "2026-12-31"
    assert (
        by_user["legacy"].exemption_reason == "tag iam-key-rotation:exempt-until: vendor migration"
    )
    assert by_user["break-glass"].exemption_reason == "group IAMKeyRotationExemptionGroup"
    assert by_user["break-glass"].access_key_id is None
