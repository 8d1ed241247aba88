"""`make up` (python -m deploy.demo.run --standalone) as a new user meets it: dry runs,
the login explained, ports checked, and Ctrl-C stopping every process it started."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import psutil
import pytest

from deploy.demo.organization import assume_into, boto3_clients
from tests.system.stack import DAG_ID, REPO, free_port, wait_for

pytestmark = pytest.mark.system

_NOT_INHERITED = ("AIRFLOW_HOME", "AIRFLOW__CORE__UNIT_TEST_MODE", "AWS_SESSION_TOKEN")


def _make_up(port: int, output) -> list[str]:
    demo = ("-m", "deploy.demo.run", "--standalone")
    return [sys.executable, *demo, "--api-port", str(port), "--output", str(output)]


def _demo_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    env.pop("AWS_SECURITY_TOKEN", None)
    return env


@dataclass
class Demo:
    process: subprocess.Popen
    api: str
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def moto_endpoint(self) -> str:
        match = re.search(r"moto server \(AWS APIs\) on (http://\S+)", self.output)
        assert match, self.output
        return match.group(1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[Demo]:
    port = free_port()
    process = subprocess.Popen(
        _make_up(port, tmp_path_factory.mktemp("demo-output")),
        cwd=REPO,
        env=_demo_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a terminal's foreground group, as Ctrl-C reaches it
    )
    demo = Demo(process, f"http://127.0.0.1:{port}")
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: demo.lines.extend(process.stdout), daemon=True)
    reader.start()
    try:
        wait_for(
            "`make up` to report Airflow ready",
            lambda: "Airflow is ready" in demo.output or process.poll() is not None,
            timeout=300,
        )
        assert process.poll() is None, demo.output
        yield demo
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _key_state(endpoint: str) -> dict[tuple[str, str], list[tuple[str, str]]]:
    org = boto3_clients(endpoint)("organizations")
    state = {}
    for account in org.list_accounts()["Accounts"]:
        iam = assume_into(endpoint)(account["Id"])("iam")
        for user in iam.list_users()["Users"]:
            keys = iam.list_access_keys(UserName=user["UserName"])["AccessKeyMetadata"]
            state[(account["Id"], user["UserName"])] = sorted(
                (k["AccessKeyId"], k["Status"]) for k in keys
            )
    return state


def test_port_in_use_fails_loudly_naming_it(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            _make_up(port, tmp_path / "out"),
            cwd=REPO,
            env=_demo_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode != 0
    assert f"Port {port} is already in use" in result.stderr


def test_login_and_dry_mode_are_explained(demo):
    assert "Login: none" in demo.output
    assert f"REST API: curl -s {demo.api}/auth/token" in demo.output
    assert "Runs: DRY" in demo.output


def test_unpause_on_trigger_and_a_triggered_run_rotate_nothing(demo):
    endpoint = demo.moto_endpoint()
    keys_before = _key_state(endpoint)
    token = httpx.get(f"{demo.api}/auth/token", timeout=30).json()["access_token"]
    api = httpx.Client(
        base_url=f"{demo.api}/api/v2", headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    wait_for(
        "the DAG to be parsed",
        lambda: api.get(f"/dags/{DAG_ID}").status_code == 200,
        timeout=180,
    )

    # What the trigger form does with its default "Unpause on trigger" ticked and the
    # form's own defaults: unpause (which schedules the latest interval), then trigger.
    api.patch(f"/dags/{DAG_ID}", json={"is_paused": False}).raise_for_status()
    api.post(f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": {}}).raise_for_status()

    def finished_runs() -> list[dict] | None:
        runs = api.get(f"/dags/{DAG_ID}/dagRuns").json()["dag_runs"]
        done = len(runs) >= 2 and all(r["state"] in {"success", "failed"} for r in runs)
        return runs if done else None

    runs = wait_for("the scheduled and the triggered run", finished_runs, timeout=300)
    assert {r["run_type"] for r in runs} == {"scheduled", "manual"}
    assert {r["state"] for r in runs} == {"success"}
    assert _key_state(endpoint) == keys_before


def test_ctrl_c_stops_every_process_within_10_seconds(demo):
    started = psutil.Process(demo.process.pid).children(recursive=True)
    assert len(started) >= 4  # api-server, scheduler, dag-processor, triggerer, and theirs

    began = time.monotonic()
    os.killpg(demo.process.pid, signal.SIGINT)  # what Ctrl-C sends the foreground group
    demo.process.wait(timeout=30)
    elapsed = time.monotonic() - began

    _, alive = psutil.wait_procs(started, timeout=1)
    assert elapsed <= 10, f"took {elapsed:.1f}s"
    assert [p.pid for p in alive if _not_a_zombie(p)] == []
    assert "Stopping Airflow" in demo.output


def _not_a_zombie(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
