"""Fixtures of the system tests: one moto server per session, one Airflow stack per module.

The logs of every Airflow component stay under pytest's temporary directory; when a test
of a module fails, their tails are printed as the module's stack stops.
"""

from __future__ import annotations

import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.system.organization import Organization, moto_server
from tests.system.stack import DAG_ID, AirflowApi, AirflowStack, wait_for

_FAILED_MODULES: set[str] = set()


def pytest_configure(config) -> None:
    # SIGTERM (a CI timeout, say) ends the session like Ctrl-C, so the fixtures still
    # stop every Airflow process they started.
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        _FAILED_MODULES.add(item.module.__name__)
    return report


@pytest.fixture(scope="module")
def organization(moto_endpoint: str) -> Organization:
    """The demo organisation, as each test module finds it."""
    return Organization(moto_endpoint)


@pytest.fixture(scope="module")
def airflow(request, tmp_path_factory, organization) -> Iterator[tuple[AirflowStack, AirflowApi]]:
    """Airflow with the LocalExecutor and SQLite, one per test module; the module's
    ``AIRFLOW_SETTINGS`` (if any) override keys of the settings Variable."""
    home = tmp_path_factory.mktemp("airflow-local")
    with running_stack(
        request,
        home,
        executor="LocalExecutor",
        database_url=f"sqlite:///{home}/airflow.db",
        organization=organization,
        settings=getattr(request.module, "AIRFLOW_SETTINGS", None),
    ) as stack:
        yield stack


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@contextmanager
def running_stack(
    request: pytest.FixtureRequest,
    home: Path,
    *,
    executor: str,
    database_url: str,
    organization: Organization,
    extra_env: dict[str, str] | None = None,
    celery_workers: int = 0,
    settings: dict[str, object] | None = None,
) -> Iterator[tuple[AirflowStack, AirflowApi]]:
    """Migrate the database, start the components, wait until the DAG is parsed and
    unpaused; stop every component (by process group) afterwards."""
    stack = AirflowStack.configure(
        home,
        executor=executor,
        database_url=database_url,
        settings=organization.settings(**(settings or {})),
        aws_endpoint=organization.endpoint,
        region="us-east-1",
        extra={
            # Only the runs a test asks for: no scheduled run once the DAG is unpaused.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            **(extra_env or {}),
        },
    )
    try:
        stack.run_cli("db", "migrate")
        stack.start("api-server", "api-server")
        stack.start("scheduler", "scheduler")
        stack.start("dag-processor", "dag-processor")
        stack.start("triggerer", "triggerer")
        for number in range(1, celery_workers + 1):
            stack.start_celery_worker(number)
        api = _wait_until_ready(stack)
        yield stack, api
    finally:
        stack.stop()
        if request.module.__name__ in _FAILED_MODULES:
            print(f"\nAirflow logs kept in {home}\n{stack.tails(80)}")
            task_logs = home / "logs"
            if task_logs.exists():
                shutil.copytree(task_logs, home / "task-logs-on-failure", dirs_exist_ok=True)


def _wait_until_ready(stack: AirflowStack) -> AirflowApi:
    import httpx

    def healthy() -> bool:
        stack.check_running()
        return httpx.get(f"{stack.api_url}/api/v2/monitor/health", timeout=5).status_code == 200

    wait_for("the API server", healthy, timeout=180)
    api = stack.client()
    api.set_pool("aws_iam", 4)

    def dag_parsed() -> bool:
        stack.check_running()
        errors = api.request("GET", "/importErrors")["import_errors"]
        if errors:
            raise AssertionError(f"DAG import errors: {errors}")
        return api.http.get(f"/dags/{DAG_ID}").status_code == 200

    wait_for(f"the DAG {DAG_ID} to be parsed", dag_parsed, timeout=180)
    api.unpause()
    return api
