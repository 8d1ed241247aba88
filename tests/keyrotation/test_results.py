"""The task log's summary table names exemptions and secret upkeep, not only key actions."""

from __future__ import annotations

from keyrotation.results import Account, ActionRecord, format_summary_table


def test_the_summary_table_says_who_is_exempt_why_and_until_when() -> None:
    records = [
        ActionRecord(
            account_id="111122223333",
            user_name="",
            access_key_id="",
            action="EXEMPT",
            reason="EXEMPT",
            due="2026-07-01T00:00:00+00:00",
            outcome="exempt",
            exemption_source="account tag iam-key-rotation:exempt-until (AWS Organizations)",
            exemption_reason="audit freeze",
            exempt_until="2026-06-30",
        ),
        ActionRecord(
            account_id="111122223333",
            user_name="bob",
            access_key_id="",
            action="DELETE_ORPHANED_SECRET",
            reason="DELETE_ORPHANED_SECRET",
            due=None,
            outcome="done",
            secret_name="Account_111122223333_User_bob_AccessKey",
        ),
    ]

    table = format_summary_table(records).splitlines()

    assert table[2].split()[:3] == ["(account)", "EXEMPT", "account"]
    assert "audit freeze" in table[2] and "2026-06-30" in table[2]
    assert "Account_111122223333_User_bob_AccessKey" in table[3]


def test_an_account_round_trips_with_its_tags() -> None:
    account = Account("111122223333", "prod", "p@example.com", {"team": "payments"})
    assert Account.from_dict(account.to_dict()) == account
    assert Account.from_dict({"id": "111122223333"}).tags == {}
