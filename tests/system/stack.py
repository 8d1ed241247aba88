"""Real Airflow components as subprocesses on 127.0.0.1, and a client of their REST API.

Every component runs in its own process group, so stopping it (SIGTERM, then SIGKILL
after a grace period) also stops the task processes and workers it forked
(``deploy.demo.processes``, shared with ``make up``).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx

from deploy.demo.processes import AIRFLOW, Component, free_port, stop_all

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "iam_access_key_rotation"
ADMIN_USER = "admin"
TERMINAL_RUN_STATES = {"success", "failed"}
T = TypeVar("T")


def wait_for(
    what: str, probe: Callable[[], T | None], *, timeout: float, interval: float = 2.0
) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = probe()
        except (httpx.HTTPError, OSError) as error:
            last_error, result = error, None
        if result:
            return result
        time.sleep(interval)
    detail = f" (last error: {last_error})" if last_error else ""
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")


@dataclass
class AirflowStack:
    """An Airflow home with its configuration (environment) and its components."""

    home: Path
    env: dict[str, str]
    api_port: int
    password: str = ""
    components: dict[str, Component] = field(default_factory=dict)

    @classmethod
    def configure(
        cls,
        home: Path,
        *,
        executor: str,
        database_url: str,
        settings: Mapping[str, Any],
        aws_endpoint: str,
        region: str,
        extra: Mapping[str, str] | None = None,
    ) -> AirflowStack:
        home.mkdir(parents=True, exist_ok=True)
        (home / "logs").mkdir(exist_ok=True)
        api_port = free_port()
        password = secrets.token_urlsafe(12)
        passwords = home / "passwords.json"
        passwords.write_text(json.dumps({ADMIN_USER: password}))
        connection = {
            "conn_type": "aws",
            "login": "system-test",
            "password": "system-test",
            "extra": {"region_name": region, "endpoint_url": aws_endpoint},
        }
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": executor,
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection),
            "AIRFLOW_VAR_IAM_ACCESS_KEY_ROTATION": json.dumps(dict(settings)),
            "AWS_ACCESS_KEY_ID": "system-test",
            "AWS_SECRET_ACCESS_KEY": "system-test",
            "AWS_DEFAULT_REGION": region,
            "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)]),
            "PATH": os.pathsep.join([str(Path(AIRFLOW).parent), os.environ.get("PATH", "")]),
            **(extra or {}),
        }
        # Not the unit tests' settings: a deployment's.
        for name in ("MOTO_ACCOUNT_ID", "AIRFLOW__CORE__UNIT_TEST_MODE", "AWS_SECURITY_TOKEN"):
            env.pop(name, None)
        env.pop("AWS_SESSION_TOKEN", None)
        return cls(home=home, env=env, api_port=api_port, password=password)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def run_cli(self, *args: str, timeout: float = 300) -> str:
        result = subprocess.run(
            [AIRFLOW, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode:
            raise RuntimeError(
                f"`airflow {' '.join(args)}` failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result.stdout

    def start(self, name: str, *args: str, env: Mapping[str, str] | None = None) -> Component:
        component = Component(name, args, self.home / f"{name}.log", dict(env or {}))
        component.start(self.env)
        self.components[name] = component
        return component

    def start_celery_worker(self, number: int, concurrency: int = 2) -> Component:
        # Each worker serves its task logs on a port of its own.
        return self.start(
            f"celery-worker-{number}",
            *("celery", "worker", "--concurrency", str(concurrency)),
            *("--celery-hostname", f"worker{number}@%h", "--without-mingle", "--without-gossip"),
            env={"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())},
        )

    def restart(self, name: str) -> Component:
        old = self.components[name]
        old.stop()
        return self.start(name, *old.args, env=old.env)

    def stop(self) -> None:
        stop_all(self.components.values(), grace=15)

    def check_running(self) -> None:
        dead = [c.name for c in self.components.values() if not c.running]
        if dead:
            raise RuntimeError(f"Airflow component(s) exited: {', '.join(dead)}\n{self.tails()}")

    def tails(self, lines: int = 40) -> str:
        return "\n".join(
            f"--- {c.name} ({c.log}) ---\n{c.tail(lines)}" for c in self.components.values()
        )

    def client(self) -> AirflowApi:
        return AirflowApi(self.api_url, ADMIN_USER, self.password, self)


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


class AirflowApi:
    """The stable REST API v2, authenticated with a JWT from the auth manager's
    ``/auth/token`` endpoint, as a script or the UI would."""

    def __init__(self, base_url: str, username: str, password: str, stack: AirflowStack):
        self.base_url = base_url
        self.stack = stack
        token = httpx.post(
            f"{base_url}/auth/token",
            json={"username": username, "password": password},
            timeout=30,
        )
        token.raise_for_status()
        self.http = httpx.Client(
            base_url=f"{base_url}/api/v2",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            timeout=60,
        )

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise AssertionError(
                f"{method} {path} -> {response.status_code}: {response.text[:2000]}"
            )
        return response.json() if response.content else None

    def unpause(self, dag_id: str = DAG_ID) -> None:
        self.request("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, conf: Mapping[str, Any], dag_id: str = DAG_ID) -> str:
        run = self.request(
            "POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": dict(conf)}
        )
        return run["dag_run_id"]

    def dag_run(self, run_id: str, dag_id: str = DAG_ID) -> dict[str, Any]:
        return self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def dag_runs(self, dag_id: str = DAG_ID) -> list[dict[str, Any]]:
        return self.request(
            "GET", f"/dags/{dag_id}/dagRuns", params={"order_by": "run_after", "limit": 100}
        )["dag_runs"]

    def wait_for_run(self, run_id: str, *, timeout: float = 300) -> str:
        def finished() -> str | None:
            self.stack.check_running()
            state = self.dag_run(run_id)["state"]
            return state if state in TERMINAL_RUN_STATES else None

        try:
            return wait_for(f"run {run_id} to finish", finished, timeout=timeout)
        except TimeoutError as error:
            states = self.task_states(run_id)
            raise TimeoutError(f"{error}; task states: {states}") from None

    def task_instances(self, run_id: str, dag_id: str = DAG_ID) -> list[dict[str, Any]]:
        return self.request(
            "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100}
        )["task_instances"]

    def task_states(self, run_id: str) -> dict[tuple[str, str], str | None]:
        """(task id, rendered map index or '') -> state."""
        return {
            (ti["task_id"], ti.get("rendered_map_index") or ""): ti["state"]
            for ti in self.task_instances(run_id)
        }

    def clear(self, run_id: str, task_ids: Iterable[str | tuple[str, int]], **options: Any):
        body = {
            "dry_run": False,
            "dag_run_id": run_id,
            "task_ids": [list(t) if isinstance(t, tuple) else t for t in task_ids],
            "only_failed": False,
            **options,
        }
        return self.request("POST", f"/dags/{DAG_ID}/clearTaskInstances", json=body)

    def hitl_detail(self, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        """A human-in-the-loop task's request (subject, body, options) and its answer."""
        return self.request(
            "GET",
            f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}/hitlDetails",
        )

    def respond(self, run_id: str, task_id: str, option: str, map_index: int = -1) -> Any:
        """Answer a human-in-the-loop task as a person in the UI would."""
        return self.request(
            "PATCH",
            f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}/hitlDetails",
            json={"chosen_options": [option], "params_input": {}},
        )

    def set_pool(self, name: str, slots: int) -> None:
        existing = self.http.get(f"/pools/{name}")
        body = {"name": name, "slots": slots, "description": "per-account IAM rotation"}
        if existing.status_code == 200:
            self.request("PATCH", f"/pools/{name}", json=body)
        else:
            self.request("POST", "/pools", json=body)

    def backfill(self, start: datetime, end: datetime, conf: Mapping[str, Any]) -> dict:
        return self.request(
            "POST",
            "/backfills",
            json={
                "dag_id": DAG_ID,
                "from_date": start.isoformat(),
                "to_date": end.isoformat(),
                "dag_run_conf": dict(conf),
                "max_active_runs": 1,
                "reprocess_behavior": "none",
            },
        )
