"""The DAG file: imports cleanly and has the shape users and the README rely on."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from keyrotation.compat import HITL_AVAILABLE, ParamValidationError, TriggerRule
from keyrotation.operators import (
    IamUsersConsoleLink,
    ListAccountsOperator,
    RotateAccountKeysOperator,
    SendNotificationsOperator,
)
from tests.airflow_support import schedule_of


def test_dag_contract(dag):
    assert dag.dag_id == "iam_access_key_rotation"
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.doc_md and "force_rotate" in dag.doc_md
    assert set(dag.tags) >= {"security", "iam"}
    assert dag.owner == "security"
    assert dag.start_date is not None
    assert schedule_of(dag) == "@daily"


APPROVAL_TASKS = {"approval_needed", "plan_account_keys", "approve_plan"}


def test_tasks_and_flow(dag):
    tasks = {task.task_id: task for task in dag.tasks}
    core = {"list_accounts", "rotate_account_keys", "send_notifications"}
    assert set(tasks) == (core | APPROVAL_TASKS if HITL_AVAILABLE else core)
    assert isinstance(tasks["list_accounts"], ListAccountsOperator)
    rotate = tasks["rotate_account_keys"]
    assert issubclass(getattr(rotate, "operator_class", type(rotate)), RotateAccountKeysOperator)
    notify = tasks["send_notifications"]
    assert isinstance(notify, SendNotificationsOperator)
    assert notify.trigger_rule == TriggerRule.ALL_DONE
    if HITL_AVAILABLE:
        assert rotate.upstream_task_ids == {"list_accounts", "approve_plan"}
        # The approval may be skipped; the rotation then runs on the listing alone.
        assert rotate.trigger_rule == TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS
        assert notify.upstream_task_ids == {"list_accounts", "rotate_account_keys", "approve_plan"}
    else:
        assert rotate.upstream_task_ids == {"list_accounts"}
        assert notify.upstream_task_ids == {"list_accounts", "rotate_account_keys"}


@pytest.mark.skipif(not HITL_AVAILABLE, reason="human-in-the-loop needs Airflow 3.1+")
def test_the_approval_stage_plans_then_waits_and_is_skipped_as_a_whole(dag):
    from keyrotation.operators import (
        ApprovalPathOperator,
        ApprovePlanOperator,
        PlanAccountKeysOperator,
    )

    branch = dag.get_task("approval_needed")
    plans = dag.get_task("plan_account_keys")
    approve = dag.get_task("approve_plan")
    assert isinstance(branch, ApprovalPathOperator)
    assert branch.upstream_task_ids == {"list_accounts"}
    assert branch.downstream_task_ids == {"plan_account_keys"}
    assert issubclass(plans.operator_class, PlanAccountKeysOperator)
    assert plans.upstream_task_ids == {"list_accounts", "approval_needed"}
    assert isinstance(approve, ApprovePlanOperator)
    assert approve.upstream_task_ids == {"plan_account_keys", "list_accounts"}
    # Skipped planning skips the approval; a plan that failed still reaches the approver.
    assert approve.trigger_rule == TriggerRule.NONE_SKIPPED
    assert approve.retries == 0
    # Planning is scheduled like the rotation: same concurrency bound, named by account.
    assert plans.partial_kwargs["max_active_tis_per_dagrun"] == 4
    assert plans.map_index_template == "{{ account_label }}"


def test_mapped_task_retries_with_backoff_and_bounded_concurrency(dag):
    rotate = dag.get_task("rotate_account_keys")
    partial = rotate.partial_kwargs
    assert partial["retries"] >= 1
    assert (
        partial["retry_exponential_backoff"] in (True, 2, 2.0)
        or partial["retry_exponential_backoff"]
    )
    assert partial["max_retry_delay"] <= timedelta(hours=1)
    # Nothing to create first: the default pool, 4 accounts of a run at once.
    assert "pool" not in partial or partial["pool"] in (None, "default_pool")
    assert partial["max_active_tis_per_dagrun"] == 4
    assert rotate.map_index_template == "{{ account_label }}"
    assert IamUsersConsoleLink().name in {link.name for link in rotate.operator_extra_links}


def test_no_cycles(dag):
    # topological sort raises on a cycle
    order = [task.task_id for task in dag.topological_sort()]
    assert order.index("list_accounts") < order.index("rotate_account_keys")
    assert order.index("rotate_account_keys") < order.index("send_notifications")


@pytest.mark.parametrize(
    ("conf", "valid"),
    [
        ({}, True),
        ({"dry_run": True, "force_rotate": ["alice", "123456789012:bob"]}, True),
        ({"accounts": ["123456789012"]}, True),
        ({"dry_run": "yes"}, False),
        ({"force_rotate": "alice"}, False),
        ({"force_rotate": ["bad name!"]}, False),
        ({"accounts": ["12345"]}, False),
    ],
)
def test_params_validate(dag, conf, valid):
    params = copy.deepcopy(dag.params)
    if valid:
        params.update(conf)
        resolved = params.validate()
        assert set(resolved) == {"dry_run", "force_rotate", "accounts"}
        assert all(resolved[key] == value for key, value in conf.items())
    else:
        with pytest.raises(ParamValidationError, match="Invalid input for param"):
            params.update(conf)
            params.validate()


def test_param_defaults(dag):
    resolved = {key: dag.params[key] for key in ("dry_run", "force_rotate", "accounts")}
    assert resolved == {"dry_run": False, "force_rotate": [], "accounts": []}


def test_scheduling_options_come_from_the_configuration(monkeypatch):
    from keyrotation.operators import rotation_scheduling

    monkeypatch.setenv("AIRFLOW__IAM_ACCESS_KEY_ROTATION__MAX_CONCURRENT_ACCOUNTS", "2")
    monkeypatch.setenv("AIRFLOW__IAM_ACCESS_KEY_ROTATION__POOL", "iam_rotation")
    assert rotation_scheduling() == {"max_active_tis_per_dagrun": 2, "pool": "iam_rotation"}
    monkeypatch.setenv("AIRFLOW__IAM_ACCESS_KEY_ROTATION__MAX_CONCURRENT_ACCOUNTS", "0")
    with pytest.raises(ValueError, match="max_concurrent_accounts must be at least 1"):
        rotation_scheduling()


def test_a_named_pool_that_does_not_exist_fails_listing_with_how_to_create_it(dag, monkeypatch):
    from airflow.models.pool import Pool

    from keyrotation.compat import AirflowFailException

    monkeypatch.setenv("AIRFLOW__IAM_ACCESS_KEY_ROTATION__POOL", "iam_rotation_missing")
    operator = ListAccountsOperator(task_id="list_accounts_check")
    with pytest.raises(AirflowFailException) as failure:
        operator._check_pool()
    assert (
        'airflow pools set iam_rotation_missing 4 "IAM key rotation: concurrent accounts"'
        in str(failure.value)
    )
    Pool.create_or_update_pool(
        "iam_rotation_missing", slots=4, description="IAM key rotation", include_deferred=False
    )
    try:
        operator._check_pool()  # exists now: no error
    finally:
        Pool.delete_pool("iam_rotation_missing")
