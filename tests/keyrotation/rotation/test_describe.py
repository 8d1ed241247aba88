"""A record in words for task logs: the user's log line and the summary table agree."""

from __future__ import annotations

from keyrotation.results import ActionRecord, format_summary_table
from keyrotation.rotation.describe import describe_record, outcome_words, summary_table


def key_record(**changes: str | None) -> ActionRecord:
    fields: dict = {
        "account_id": "111122223333",
        "user_name": "alice",
        "access_key_id": "AKIAOLD",
        "action": "ROTATE",
        "reason": "EXPIRED_ACTIVE_KEY",
        "due": None,
        "outcome": "done",
    }
    return ActionRecord(**{**fields, **changes})


def test_a_rotation_line_names_the_new_key_and_its_secret() -> None:
    record = key_record(new_access_key_id="AKIANEW", secret_name="Account_1_User_alice")

    assert describe_record(record) == (
        "AKIAOLD ROTATE (Active key has expired.) -> done, new key AKIANEW in secret "
        "Account_1_User_alice"
    )


def test_an_error_follows_the_new_key_in_the_line_and_the_outcome_in_the_table() -> None:
    record = key_record(
        outcome="failed",
        error="new key stored, but deleting the old key failed: AccessDenied",
        new_access_key_id="AKIANEW",
        secret_name="S",
    )

    assert describe_record(record).endswith(
        "-> failed, new key AKIANEW in secret S: new key stored, but deleting the old key "
        "failed: AccessDenied"
    )
    assert summary_table([record]).splitlines()[2].endswith(outcome_words(record))


def test_a_record_not_approved_reads_the_same_in_the_line_and_the_table() -> None:
    record = key_record(action="DELETE", outcome="not approved", error="not in the approved plan")

    said = "not approved: not in the approved plan"
    assert outcome_words(record) == said
    assert describe_record(record).endswith(f"-> {said}")
    assert summary_table([record]).splitlines()[2].endswith(said)


def test_a_notice_line_names_its_action_and_outcome() -> None:
    record = key_record(
        action="REPAIR_REPLICA",
        reason="REPAIR_REPLICA",
        access_key_id="",
        outcome="failed",
        error="replication failed again: Failed",
    )

    assert describe_record(record) == "REPAIR_REPLICA -> failed: replication failed again: Failed"


def test_the_results_table_is_the_rotation_summary_table() -> None:
    records = [key_record(), key_record(user_name="bob", outcome="not approved", error="x")]
    assert format_summary_table(records) == summary_table(records)
