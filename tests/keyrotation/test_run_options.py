"""Run conf validation and the evaluation time of a run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from keyrotation.run_options import (
    RunConfError,
    RunOptions,
    evaluation_time,
    trigger_form_params,
)

RUN_AFTER = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
INTERVAL_END = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


def test_empty_conf_means_enforce_per_settings_all_accounts():
    assert RunOptions.from_conf(None) == RunOptions(dry_run=False, force_rotate=(), accounts=())


def test_valid_conf_is_read_and_deduplicated():
    options = RunOptions.from_conf(
        {"dry_run": True, "force_rotate": ["alice", "123456789012:bob", "alice"], "accounts": []}
    )
    assert options == RunOptions(True, ("alice", "123456789012:bob"), ())


@pytest.mark.parametrize(
    ("conf", "named"),
    [
        ({"force_rotation": ["alice"]}, "force_rotation"),
        ({"dry_run": "true"}, "dry_run"),
        ({"force_rotate": "alice"}, "force_rotate"),
        ({"force_rotate": ["bad user!"]}, "force_rotate"),
        ({"force_rotate": ["12345:alice"]}, "force_rotate"),
        ({"accounts": ["12345678901"]}, "accounts"),
        ({"accounts": [123456789012]}, "accounts"),
    ],
)
def test_bad_conf_names_the_parameter(conf, named):
    with pytest.raises(RunConfError, match=named):
        RunOptions.from_conf(conf)


def _context(run_type: str, **values):
    dag_run = SimpleNamespace(run_type=run_type, run_after=values.pop("run_after", RUN_AFTER))
    return {"dag_run": dag_run, "data_interval_end": INTERVAL_END, **values}


def test_scheduled_runs_decide_at_the_end_of_their_data_interval():
    assert evaluation_time(_context("scheduled")) == INTERVAL_END


def test_manual_runs_decide_at_run_after():
    assert evaluation_time(_context("manual")) == RUN_AFTER


def test_evaluation_time_is_utc():
    local = RUN_AFTER.astimezone(timezone(timedelta(hours=5)))
    moment = evaluation_time(_context("manual", run_after=local))
    assert moment == RUN_AFTER
    assert moment.utcoffset() == timedelta(0)


def test_a_run_without_any_time_is_an_error():
    with pytest.raises(RunConfError):
        evaluation_time({"dag_run": SimpleNamespace(run_type="manual", run_after=None)})


def test_every_param_accepts_an_empty_value_so_the_form_does_not_require_it():
    from keyrotation.compat import Param

    for name, param in trigger_form_params().items():
        assert "null" in param.schema["type"], name
        assert Param(None, **param.schema).resolve() is None
    assert RunOptions.from_conf({"dry_run": None, "force_rotate": None, "accounts": None}) == (
        RunOptions()
    )
