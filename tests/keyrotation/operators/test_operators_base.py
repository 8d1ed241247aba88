"""The operators: thin shells whose templated fields and hooks follow the amazon provider."""

from __future__ import annotations

import pytest

from keyrotation.operators import (
    ListAccountsOperator,
    PlanAccountKeysOperator,
    RotateAccountKeysOperator,
    SendNotificationsOperator,
)
from keyrotation.run_context import RunContext
from keyrotation.run_options import RunOptions
from keyrotation.settings import RotationSettings


@pytest.mark.parametrize(
    ("operator", "kwargs"),
    [
        (ListAccountsOperator, {}),
        (PlanAccountKeysOperator, {"account": {"id": "111111111111"}}),
        (RotateAccountKeysOperator, {"account": {"id": "111111111111"}}),
        (SendNotificationsOperator, {"accounts": [], "results": []}),
    ],
)
def test_template_fields_exist_and_include_the_provider_hook_parameters(operator, kwargs) -> None:
    task = operator(task_id="t", **kwargs)
    fields = set(task.template_fields)
    assert {"aws_conn_id", "region_name", "verify", "settings_variable"} <= fields
    for name in fields:
        assert hasattr(task, name), name


def run_context(conn: str) -> RunContext:
    from datetime import UTC, datetime

    return RunContext(
        settings=RotationSettings(),
        options=RunOptions(),
        now=datetime(2026, 1, 1, tzinfo=UTC),
        aws_conn_id=conn,
    )


def test_hooks_take_the_runs_connection_and_the_operators_hook_parameters() -> None:
    task = ListAccountsOperator(
        task_id="t", region_name="eu-west-1", verify=False, botocore_config={"retries": {}}
    )
    run = run_context("aws_from_variable")
    for hook in (task.rotation_hook(run), task.ses_hook(run), task.s3_hook(run)):
        assert hook.aws_conn_id == "aws_from_variable"
        assert hook.region_name == "eu-west-1"
        assert hook.verify is False


def test_only_a_connection_given_in_the_dag_overrides_the_variables() -> None:
    assert ListAccountsOperator(task_id="a").dag_aws_conn_id is None
    assert ListAccountsOperator(task_id="b", aws_conn_id="aws_dag").dag_aws_conn_id == "aws_dag"


def test_approval_on_an_airflow_without_human_in_the_loop_fails_listing_saying_why(
    monkeypatch,
) -> None:
    from keyrotation.compat import AirflowFailException
    from keyrotation.operators import accounts

    monkeypatch.setattr(accounts, "HITL_AVAILABLE", False)
    monkeypatch.setattr(accounts, "AIRFLOW_VERSION", "2.11.2")
    operator = ListAccountsOperator(task_id="t")
    run = run_context("aws_default")
    operator._check_approval(run)  # approval "none": nothing to check
    approving = RunContext(
        settings=RotationSettings(approval="destructive"),
        options=run.options,
        now=run.now,
        aws_conn_id="aws_default",
    )
    with pytest.raises(AirflowFailException) as failure:
        operator._check_approval(approving)
    assert "approval='destructive' needs Airflow 3.1 or later" in str(failure.value)
    assert "Airflow 2.11.2" in str(failure.value)
