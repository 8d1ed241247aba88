"""The distributed stage: CeleryExecutor with two workers, PostgreSQL as the metadata
database and Redis as the broker, as on Amazon MWAA and in docker-compose.yaml."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.system.conftest import running_stack
from tests.system.organization import Organization
from tests.system.scenarios import (
    assert_dry_run_changes_nothing,
    assert_enforce_run_rotates_each_account_once_across_a_denied_role,
)
from tests.system.services import postgres_database, redis_broker
from tests.system.stack import AirflowApi, AirflowStack

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def organization(moto_endpoint: str) -> Organization:
    return Organization(moto_endpoint)


@pytest.fixture(scope="module")
def celery_airflow(
    request, tmp_path_factory, organization
) -> Iterator[tuple[AirflowStack, AirflowApi]]:
    broker = redis_broker()
    with postgres_database() as database_url:
        home = tmp_path_factory.mktemp("airflow-celery")
        with running_stack(
            request,
            home,
            executor="CeleryExecutor",
            database_url=database_url,
            organization=organization,
            extra_env={
                "AIRFLOW__CELERY__BROKER_URL": broker,
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + database_url.replace("+psycopg2", ""),
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
            },
            celery_workers=2,
        ) as stack:
            yield stack


def test_dry_run_on_celery_workers_changes_nothing(celery_airflow, organization):
    _, api = celery_airflow
    assert_dry_run_changes_nothing(api, organization)


def test_denied_account_then_cleared_task_on_celery_workers(celery_airflow, organization):
    _, api = celery_airflow
    assert_enforce_run_rotates_each_account_once_across_a_denied_role(api, organization)


def test_both_workers_ran_tasks(celery_airflow):
    stack, api = celery_airflow
    hostnames = {
        ti["hostname"]
        for run in api.dag_runs()
        for ti in api.task_instances(run["dag_run_id"])
        if ti.get("hostname")
    }
    workers_logging_tasks = [
        name
        for name, component in stack.components.items()
        if name.startswith("celery-worker") and "rotate_account_keys" in component.log.read_text()
    ]
    assert hostnames, "no task instance records the host that ran it"
    assert len(workers_logging_tasks) == 2, workers_logging_tasks
