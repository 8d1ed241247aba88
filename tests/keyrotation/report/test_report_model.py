"""The report's figures: Active keys younger than the rotation period, per account and for
the organisation; age bands; overdue keys; exemptions; failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from keyrotation.report import KeyRow, summarize

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def key(account: str, user: str, age: float | None, status: str | None = "Active", **kw) -> KeyRow:
    created = None if age is None else NOW - timedelta(days=age)
    return KeyRow(
        account_id=account,
        account_name=f"name-{account}",
        user_name=user,
        access_key_id=None if age is None else f"AKIA{user.upper():0<16}"[:20],
        status=status,
        created=created,
        last_used=None,
        **kw,
    )


def test_share_of_active_keys_younger_than_the_period_per_account_and_organisation() -> None:
    rows = [
        key("111111111111", "a", 10),
        key("111111111111", "b", 89.9),
        key("111111111111", "c", 90),  # exactly P days old: overdue
        key("111111111111", "d", 200, status="Inactive"),  # not Active: not counted
        key("222222222222", "e", 5),
        key("222222222222", "f", None, status=None),  # a user without keys
    ]
    summary = summarize(rows, now=NOW, rotation_period_days=90)

    first, second = summary.accounts
    assert (first.account_id, first.active_keys, first.active_within_period) == (
        "111111111111",
        3,
        2,
    )
    assert first.compliant_share == 2 / 3
    assert first.overdue == 1
    assert (second.active_keys, second.active_within_period, second.compliant_share) == (1, 1, 1.0)
    assert (summary.active_keys, summary.active_within_period) == (4, 3)
    assert summary.compliant_share == 0.75
    assert [r.user_name for r in summary.overdue] == ["c"]
    assert "3 of 4 Active keys younger than 90 days (75.0%)" in summary.headline()


def test_age_bands_count_active_keys_only() -> None:
    rows = [
        key("1", "a", 0),
        key("1", "b", 30.5),
        key("1", "c", 31),
        key("1", "d", 95),
        key("1", "e", 400),
        key("1", "f", 400, status="Inactive"),
    ]
    bands = dict(summarize(rows, now=NOW, rotation_period_days=90).age_bands)
    assert bands == {
        "0-30 days": 2,
        "31-60 days": 1,
        "61-90 days": 0,
        "91-180 days": 1,
        "181-365 days": 0,
        "over 365 days": 1,
    }


def test_exemptions_and_failures_are_listed() -> None:
    rows = [
        key("1", "exempt", 120, exemption_reason="migration", exemption_until="2026-12-31"),
        key("1", "broken", 100, action="ROTATE", outcome="failed"),
        key("1", "fine", 1),
    ]
    summary = summarize(
        rows,
        now=NOW,
        rotation_period_days=90,
        account_failures={"333333333333": "AssumeRole: AccessDenied"},
        account_names={"333333333333": "denied"},
    )
    assert [r.user_name for r in summary.exemptions] == ["exempt"]
    assert [r.user_name for r in summary.failed_rows] == ["broken"]
    # The exempt key is overdue all the same: the report shows it beside its exemption.
    assert {r.user_name for r in summary.overdue} == {"exempt", "broken"}
    failed = {a.account_id: a.failed for a in summary.accounts}
    assert failed == {"1": True, "333333333333": True}
    denied = next(a for a in summary.accounts if a.account_id == "333333333333")
    assert denied.compliant_share is None
    assert "2 failure(s)" in summary.headline()


def test_row_round_trips_through_its_dict() -> None:
    row = key("1", "a", 12.5, owner="a@example.com", next_action="ROTATE")
    data = row.to_dict(NOW)
    assert data["age_days"] == 12
    assert KeyRow.from_dict(data) == row
