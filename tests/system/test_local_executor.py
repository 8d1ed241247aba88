"""The DAG on a real Airflow: api-server, scheduler, dag-processor and triggerer as
processes, LocalExecutor on SQLite, driven through the REST API v2."""

from __future__ import annotations

import pytest

from tests.system.scenarios import (
    assert_dry_run_changes_nothing,
    assert_enforce_run_rotates_each_account_once_across_a_denied_role,
)

pytestmark = pytest.mark.system


def test_dry_run_names_tasks_by_account_and_changes_nothing(airflow, organization):
    _, api = airflow
    assert_dry_run_changes_nothing(api, organization)


def test_denied_account_fails_alone_and_a_cleared_task_completes_it(airflow, organization):
    _, api = airflow
    assert_enforce_run_rotates_each_account_once_across_a_denied_role(api, organization)
