"""The distributed stage: CeleryExecutor with two workers, PostgreSQL as the metadata
database and Redis as the broker, as on Amazon MWAA and in docker-compose.yaml."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from deploy.demo.processes import Component
from keyrotation.account_results import TaskOutput
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
from tests.system.stack import DAG_ID, TERMINAL_RUN_STATES, AirflowApi, AirflowStack, wait_for

pytestmark = pytest.mark.system


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
                # A task a lost worker had taken from the broker but not started is sent
                # again after this long (the default, 10 minutes, outlasts the test).
                "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "90",
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
        killed = _workers_running(stack, ti["id"])
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


def _workers_running(stack: AirflowStack, ti_id: str) -> list[Component]:
    """The Celery worker that logged executing the task instance; every worker when
    none did."""
    workers = [c for n, c in stack.components.items() if n.startswith("celery-worker")]
    holding = [w for w in workers if ti_id in w.log.read_text(errors="replace")]
    return holding or workers


def test_backfill_of_the_last_week_rotates_once_and_emails_each_change_once(
    celery_airflow, moto_endpoint
):
    """A 7-day enforcing backfill, created as the UI's Backfill does (backfills need a
    database that takes concurrent writers, as on PostgreSQL): runs in date order,
    each deciding at its own data interval end, ending where one run today ends."""
    _, api = celery_airflow
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    # Key ages count back from today 00:00, the last backfill run's evaluation time.
    organization = Organization(moto_endpoint, now=midnight)
    keys_before = organization.keys()
    emails_before = len(organization.emails())

    api.backfill(midnight - timedelta(days=6), midnight, conf={})

    def backfill_runs() -> list[dict] | None:
        runs = [r for r in api.dag_runs() if r["run_type"] == "backfill"]
        finished = len(runs) == 7 and all(r["state"] in TERMINAL_RUN_STATES for r in runs)
        return runs if finished else None

    runs = wait_for("the 7 backfill runs", backfill_runs, timeout=600, interval=5)
    runs.sort(key=lambda r: r["logical_date"])
    assert [r["state"] for r in runs] == ["success"] * 7
    assert [r["end_date"] for r in runs] == sorted(r["end_date"] for r in runs)
    assert [r["data_interval_end"][:10] for r in runs] == [
        (midnight - timedelta(days=days)).date().isoformat() for days in range(6, -1, -1)
    ]

    # Each run decides at its own time: erin's never-used key (95 days old today)
    # reaches 90 days in the run whose interval ends 5 days ago.
    erin = organization.account_id("analytics-dev")
    erin_runs = [
        run["data_interval_end"][:10]
        for run in runs
        for record in _records(api, run["dag_run_id"])
        if record["user_name"] == "erin"
        and record["outcome"] == "done"
        and record["account_id"] == erin
    ]
    assert erin_runs == [(midnight - timedelta(days=5)).date().isoformat()]

    # The end state is one run's: each due user rotated once, carol's old key
    # deactivated, dave's long-inactive key deleted.
    every_account = set(organization.seeded.accounts.values())
    assert_rotated_once(organization, keys_before, accounts=every_account)
    data = organization.account_id("data-prod")
    carol_old = organization.seeded.keys[(data, "carol")][0]
    dave_old = organization.seeded.keys[(data, "dave")][0]
    assert (carol_old, "Inactive") in organization.keys()[(data, "carol")]
    assert dave_old not in {key for key, _ in organization.keys()[(data, "dave")]}

    # Nobody hears about the same key over and over: a change is emailed once, and
    # warnings are left to the next scheduled run.
    mentions = Counter(
        (sent.to, key_id)
        for sent in organization.emails()[emails_before:]
        for key_id in set(KEY_ID.findall(sent.text))
    )
    assert mentions, "the backfill's changes were emailed"
    assert max(mentions.values()) <= 2, mentions.most_common(3)
    payments = organization.account_id("payments-prod")
    bob_key = organization.seeded.keys[(payments, "bob")][0]
    assert not [m for m in mentions if m[1] == bob_key]


KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")


def _records(api: AirflowApi, run_id: str) -> list[dict]:
    records = []
    for ti in api.task_instances(run_id):
        if ti["task_id"] != ROTATION_TASK:
            continue
        entry = api.request(
            "GET",
            f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{ROTATION_TASK}"
            "/xcomEntries/return_value",
            params={"map_index": ti["map_index"], "deserialize": True},
        )
        value = entry["value"]
        output = TaskOutput.from_value(json.loads(value) if isinstance(value, str) else value)
        records += [record.to_dict() for result in output.accounts for record in result.records]
    return records
