"""The distributed stage: CeleryExecutor with two workers, PostgreSQL as the metadata
database and Redis as the broker, as on Amazon MWAA and in docker-compose.yaml."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from deploy.demo.processes import Component
from tests.system.conftest import running_stack
from tests.system.organization import Organization, pause_after_key_creation
from tests.system.scenarios import (
    ROTATION_TASK,
    assert_dry_run_changes_nothing,
    assert_enforce_run_rotates_each_account_once_across_a_denied_role,
    assert_rotated_once,
    map_index_of,
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


def test_killed_worker_restarted_scheduler_and_a_second_run(celery_airflow, moto_endpoint):
    """SIGKILL the worker that holds an account's rotation between CreateAccessKey and
    storing the key, restart the scheduler meanwhile, with a second run triggered on top:
    Airflow notices, retries, the retry removes the undelivered key and finishes the
    rotation, the second run waits its turn, and nobody is rotated twice."""
    stack, api = celery_airflow
    organization = Organization(moto_endpoint)  # fresh keys: the earlier runs rotated
    account = organization.account_id("data-prod")
    keys_before = organization.keys()

    with pause_after_key_creation(account, "ivan") as paused:
        first = api.trigger({})
        second = api.trigger({})
        assert paused.reached.wait(timeout=240), api.task_states(first)
        assert api.dag_run(second)["state"] == "queued"  # max_active_runs=1
        ti = _rotation_ti(api, first, account)
        killed = _workers_running(stack, ti["pid"])
        for worker in killed:
            worker.kill()
        stack.restart("scheduler")
    for worker in killed:
        stack.restart(worker.name)

    assert api.wait_for_run(first, timeout=480) == "success", api.task_states(first)
    assert api.dag_run(second)["state"] in {"queued", "running", "success"}
    assert api.wait_for_run(second, timeout=300) == "success", api.task_states(second)
    assert _rotation_ti(api, first, account)["try_number"] >= 2
    assert_rotated_once(
        organization, keys_before, accounts=set(organization.seeded.accounts.values())
    )


def _rotation_ti(api: AirflowApi, run_id: str, account_id: str) -> dict:
    index = map_index_of(api, run_id, account_id)
    return next(
        ti
        for ti in api.task_instances(run_id)
        if ti["task_id"] == ROTATION_TASK and ti["map_index"] == index
    )


def _workers_running(stack: AirflowStack, pid: int | None) -> list[Component]:
    """The Celery worker whose processes include the task's; every worker when the task
    does not say its pid."""
    workers = [c for n, c in stack.components.items() if n.startswith("celery-worker")]
    holding = [w for w in workers if pid and pid in w.descendant_pids()]
    return holding or workers
