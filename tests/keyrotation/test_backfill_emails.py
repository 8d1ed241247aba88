"""What a run of a backfill emails about: the changes it made or attempted, only."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from keyrotation.operators import changes_made, is_backfill
from keyrotation.results import ActionRecord, Outcome


def _record(action: str, outcome: Outcome) -> ActionRecord:
    return ActionRecord(
        account_id="111122223333",
        user_name="bob",
        access_key_id="example-key-id",
        action=action,
        reason="KEY_EXPIRED",
        due=None,
        outcome=outcome.value,
    )


def test_a_backfill_run_reports_changes_made_or_failed_and_no_warnings():
    rotated = _record("ROTATE", Outcome.DONE)
    failed = _record("DELETE", Outcome.FAILED)
    warned = _record("WARN", Outcome.WARNED)
    would = _record("ROTATE", Outcome.DRY_RUN)

    assert changes_made([rotated, warned, failed, would]) == [rotated, failed]


@pytest.mark.parametrize(
    ("run_type", "expected"),
    [("backfill", True), ("scheduled", False), ("manual", False), (None, False)],
)
def test_backfill_runs_are_told_apart_by_run_type(run_type, expected):
    context = {"dag_run": SimpleNamespace(run_type=run_type)}

    assert is_backfill(context) is expected  # type: ignore[arg-type]
