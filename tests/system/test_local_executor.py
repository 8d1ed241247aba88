"""The DAG on a real Airflow: api-server, scheduler, dag-processor and triggerer as
processes, LocalExecutor on SQLite, driven through the REST API v2."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.system.conftest import running_stack
from tests.system.organization import Organization
from tests.system.scenarios import (
    assert_dry_run_changes_nothing,
    assert_enforce_run_rotates_each_account_once_across_a_denied_role,
)
from tests.system.stack import AirflowApi, AirflowStack

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def organization(moto_endpoint: str) -> Organization:
    return Organization(moto_endpoint)


@pytest.fixture(scope="module")
def airflow(request, tmp_path_factory, organization) -> Iterator[tuple[AirflowStack, AirflowApi]]:
    home = tmp_path_factory.mktemp("airflow-local")
    with running_stack(
        request,
        home,
        executor="LocalExecutor",
        database_url=f"sqlite:///{home}/airflow.db",
        organization=organization,
    ) as stack:
        yield stack


def test_dry_run_names_tasks_by_account_and_changes_nothing(airflow, organization):
    _, api = airflow
    assert_dry_run_changes_nothing(api, organization)


def test_denied_account_fails_alone_and_a_cleared_task_completes_it(airflow, organization):
    _, api = airflow
    assert_enforce_run_rotates_each_account_once_across_a_denied_role(api, organization)
