"""The run context: read once per task, frozen, and one rule for the AWS connection."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from keyrotation.compat import AirflowFailException
from keyrotation.run_context import load_run_context

WHEN = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def context(conf=None):
    dag_run = SimpleNamespace(conf=conf or {}, run_type="manual", run_after=WHEN)
    return {"dag_run": dag_run, "logical_date": WHEN}


def test_the_variables_connection_is_used_when_the_dag_names_none(monkeypatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_VAR_IAM_ACCESS_KEY_ROTATION", json.dumps({"aws_conn_id": "aws_security"})
    )
    run = load_run_context(
        context(), settings_variable="iam_access_key_rotation", dag_aws_conn_id=None
    )
    assert run.aws_conn_id == "aws_security"
    assert run.now == WHEN
    assert run.dry_run is True  # the settings' default


def test_the_dags_connection_wins(monkeypatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_VAR_IAM_ACCESS_KEY_ROTATION",
        json.dumps({"aws_conn_id": "aws_security", "dry_run": False}),
    )
    run = load_run_context(
        context({"dry_run": False}),
        settings_variable="iam_access_key_rotation",
        dag_aws_conn_id="aws_from_dag",
    )
    assert run.aws_conn_id == "aws_from_dag"
    assert run.dry_run is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.aws_conn_id = "other"  # type: ignore[misc]


def test_a_dry_run_param_makes_an_enforcing_setting_dry(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_IAM_ACCESS_KEY_ROTATION", json.dumps({"dry_run": False}))
    run = load_run_context(
        context({"dry_run": True}),
        settings_variable="iam_access_key_rotation",
        dag_aws_conn_id=None,
    )
    assert run.dry_run is True


@pytest.mark.parametrize(
    ("variable", "conf", "message"),
    [
        ({"rotation_period_days": 0}, {}, "rotation_period_days"),
        ({}, {"force_rotation": ["alice"]}, "force_rotation"),
    ],
)
def test_bad_input_fails_without_retries_naming_it(monkeypatch, variable, conf, message) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_IAM_ACCESS_KEY_ROTATION", json.dumps(variable))
    with pytest.raises(AirflowFailException, match=message):
        load_run_context(
            context(conf), settings_variable="iam_access_key_rotation", dag_aws_conn_id=None
        )
