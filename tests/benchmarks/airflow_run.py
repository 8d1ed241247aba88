"""The whole DAG on a real Airflow: a dry run over A accounts x U users, timed.

python -m tests.benchmarks.airflow_run [--accounts 300] [--users 10]
    [--concurrent-accounts N] [--accounts-per-task N] [--parallelism N] [--max-map-length N]

Seeds a moto server on 127.0.0.1 (in this process, straight on moto's backends) with an
organisation, starts `airflow standalone` (scheduler, LocalExecutor, API server) against
it, triggers a dry run through the REST API and reads the task instances back. Prints the
seeding time, the run's span, the median mapped-task duration, and how much of it is ours
(one account's rotation, timed in this process against the same moto server) versus
Airflow's (process start-up, imports, XCom, state updates), the median wait from queued
to running, the CPU time of each Airflow component during the run and the load average
before and after it (the machine may be shared).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path[:0] = [
    str(Path(__file__).resolve().parents[2] / "plugins"),
    str(Path(__file__).resolve().parents[2]),
]

from deploy.demo.organization import DemoAccount, DemoKey, DemoUser  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "iam_access_key_rotation"
K = DemoKey
STATES = ((K(120, 1),), (K(86, 1),), (K(30, 1),), (K(40, 1), K(20, 1)), (K(10),), ())


def organisation(accounts: int, users: int) -> tuple[DemoAccount, ...]:
    """Accounts of users in every state; one user in ten has something due or near."""
    return tuple(
        DemoAccount(
            f"bench-{a:04d}",
            ("Workloads",),
            tuple(
                DemoUser(
                    f"user-{u:03d}",
                    STATES[u % 2] if u % 10 == 0 else STATES[2 + u % 4],
                    owner=f"user-{u:03d}@example.com" if u % 3 == 0 else None,
                )
                for u in range(users)
            ),
        )
        for a in range(accounts)
    )


class Api:
    def __init__(self, base: str) -> None:
        self.base = base
        self.token = ""

    def call(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json"}
            | ({"Authorization": f"Bearer {self.token}"} if self.token else {}),
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def wait(self, what: str, probe: Any, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                result = probe()
                if result:
                    return result
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {what}")
            time.sleep(2)


def _load(average: tuple[float, float, float]) -> str:
    return " ".join(f"{value:.2f}" for value in average)


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def ours_per_account(account_ids: list[str]) -> float:
    """The median time of one account's dry run in this process, against the same moto."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    from deploy.demo.organization import MEMBER_ROLE_NAME
    from keyrotation.aws.sessions import AccountSessions
    from keyrotation.results import Account
    from keyrotation.rotation import rotate_account
    from keyrotation.settings import RotationSettings

    sessions = AccountSessions(AwsBaseHook(aws_conn_id=None, client_type="sts"))
    settings = RotationSettings(member_role_name=MEMBER_ROLE_NAME)
    times = []
    for account_id in account_ids:
        start = time.perf_counter()
        rotate_account(
            Account(account_id, "bench", "bench@example.com"),
            sessions=sessions,
            settings=settings,
            now=datetime.now(UTC),
            dry_run=True,
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:] or times)  # the first loads the models


def scale_settings(args: argparse.Namespace) -> dict[str, str]:
    """The Airflow settings of the run that differ from the defaults, as environment."""
    settings = {}
    if args.concurrent_accounts:
        settings["AIRFLOW__IAM_ACCESS_KEY_ROTATION__MAX_CONCURRENT_ACCOUNTS"] = str(
            args.concurrent_accounts
        )
    if args.accounts_per_task:
        settings["AIRFLOW__IAM_ACCESS_KEY_ROTATION__ACCOUNTS_PER_TASK"] = str(
            args.accounts_per_task
        )
    if args.parallelism:
        settings["AIRFLOW__CORE__PARALLELISM"] = str(args.parallelism)
    if args.max_map_length:
        settings["AIRFLOW__CORE__MAX_MAP_LENGTH"] = str(args.max_map_length)
    return settings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--users", type=int, default=10, help="users per account")
    parser.add_argument(
        "--concurrent-accounts",
        type=int,
        help="[iam_access_key_rotation] max_concurrent_accounts (default: the DAG's, 4)",
    )
    parser.add_argument(
        "--accounts-per-task",
        type=int,
        help="[iam_access_key_rotation] accounts_per_task: batches of this many accounts",
    )
    parser.add_argument(
        "--parallelism", type=int, help="[core] parallelism (default: Airflow's, 32)"
    )
    parser.add_argument(
        "--max-map-length",
        type=int,
        help="[core] max_map_length: fewer mapped tasks than accounts, each a batch",
    )
    parser.add_argument("--output", type=Path, default=REPO / "bench-output")
    args = parser.parse_args()
    # Stopped from outside (timeout, Ctrl-C): still stop Airflow on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    from moto.server import ThreadedMotoServer

    from deploy.demo.moto_access import assume_role_requires_role
    from deploy.demo.moto_seeding import seed_organization_in_moto
    from deploy.demo.organization import boto3_clients, verify_sender
    from deploy.demo.processes import free_port
    from deploy.demo.run import FAKE_CREDENTIALS, _airflow_environment
    from tests.benchmarks.moto_scale import key_lookups_per_account
    from tests.benchmarks.process_cpu import by_component, snapshot

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    output: Path = args.output.resolve()
    shutil.rmtree(output, ignore_errors=True)
    output.mkdir(parents=True)
    os.environ.update(FAKE_CREDENTIALS)
    port, api_port = free_port(), free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    standalone = None
    try:
        with assume_role_requires_role(), key_lookups_per_account():
            start = time.perf_counter()
            seeded = seed_organization_in_moto(
                organisation(args.accounts, args.users), now=datetime.now(UTC)
            )
            verify_sender(boto3_clients(endpoint))
            print(
                f"seeded {args.accounts} accounts x {args.users} users on {endpoint} "
                f"in {time.perf_counter() - start:.1f} s (on moto's backends)"
            )
            os.environ["AWS_ENDPOINT_URL"] = endpoint
            logging.disable(logging.WARNING)
            ours = ours_per_account(list(seeded.accounts.values())[:6])
            logging.disable(logging.NOTSET)
            del os.environ["AWS_ENDPOINT_URL"]

            env = (
                _airflow_environment(output, endpoint, dry_run=True)
                | {
                    "AIRFLOW__API__PORT": str(api_port),
                    "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
                    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                    "AIRFLOW__API__MAXIMUM_PAGE_LIMIT": "100000",
                    "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
                    # Not Airflow's fixed ports: another Airflow on the machine may hold them.
                    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                    "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                    # Unpausing the DAG would also start its @daily run, dry by the Variable;
                    # with max_active_runs=1 the measured run would wait for it to finish.
                    "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
                }
                | scale_settings(args)
            )
            print(f"settings: {scale_settings(args) or 'the defaults'}")
            log = (output / "standalone.log").open("w")
            airflow = str(Path(sys.executable).with_name("airflow"))
            started = time.perf_counter()
            # Its own process group: stopping it stops every Airflow process it started.
            standalone = subprocess.Popen(
                [airflow, "standalone"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            api = Api(f"http://127.0.0.1:{api_port}")
            api.token = api.wait(
                "the API server", lambda: api.call("GET", "/auth/token")["access_token"], 300
            )
            api.wait("the DAG to be parsed", lambda: api.call("GET", f"/api/v2/dags/{DAG_ID}"), 300)
            print(
                f"airflow standalone up and the DAG parsed in {time.perf_counter() - started:.0f} s"
            )
            load_before = os.getloadavg()
            cpu_before, moto_before = snapshot(standalone.pid), time.process_time()
            api.call("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": False})
            run = api.call(
                "POST",
                f"/api/v2/dags/{DAG_ID}/dagRuns",
                {"logical_date": None, "conf": {"dry_run": True}},
            )
            run_path = f"/api/v2/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}"
            final = api.wait(
                "the run to finish",
                lambda: (r := api.call("GET", run_path))["state"] in ("success", "failed") and r,
                3600,
            )
            cpu_after = snapshot(standalone.pid)
            cpu = by_component(cpu_before, cpu_after)
            (output / "processes.txt").write_text(
                "".join(
                    f"{pid} {seconds:.1f} s {title}\n"
                    for pid, (title, seconds) in cpu_after.items()
                )
            )
            cpu["moto server and this benchmark"] = time.process_time() - moto_before
            load_after = os.getloadavg()
            instances = api.call("GET", f"{run_path}/taskInstances?limit=100000")["task_instances"]
    finally:
        if standalone is not None:
            os.killpg(standalone.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                standalone.wait(timeout=60)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(standalone.pid, signal.SIGKILL)
        server.stop()

    report(final, instances, ours, args)
    print("CPU time during the run: " + ", ".join(f"{c} {s:.0f} s" for c, s in cpu.most_common()))
    print(f"load average (1, 5, 15 min): before {_load(load_before)}, after {_load(load_after)}")
    return 0 if final["state"] == "success" else 1


def report(run: dict, instances: list[dict], ours: float, args: argparse.Namespace) -> None:
    mapped = [ti for ti in instances if ti["task_id"] == "rotate_account_keys"]
    durations = [ti["duration"] for ti in mapped if ti.get("duration") is not None]
    waits = [
        (_moment(ti["start_date"]) - _moment(ti["queued_when"])).total_seconds()  # type: ignore[operator]
        for ti in mapped
        if ti.get("queued_when") and ti.get("start_date")
    ]
    span = (_moment(run["end_date"]) - _moment(run["start_date"])).total_seconds()  # type: ignore[operator]
    median = statistics.median(durations)
    # Every member account and the management account; a mapped task may hold a batch.
    per_task = (args.accounts + 1) / len(mapped)
    print(f"\nrun {run['state']}: {args.accounts} accounts x {args.users} users, dry run")
    print(f"run span: {span:.0f} s ({span / args.accounts:.2f} s per account)")
    print(
        f"mapped tasks: {len(mapped)} ({per_task:.1f} accounts each), "
        f"median duration {median:.2f} s"
    )
    print(
        f"of which ours ({per_task:.1f} x one account's rotation, timed alone): "
        f"{ours * per_task:.2f} s; Airflow's (task start-up, imports, XCom, state) and "
        f"waiting for the CPU: {median - ours * per_task:.2f} s"
    )
    others = ", ".join(
        f"{ti['task_id']} {ti['duration']:.0f} s"
        for ti in instances
        if ti["task_id"] != "rotate_account_keys" and ti.get("duration") is not None
    )
    print(f"the other tasks: {others}")
    if waits:
        print(f"median wait from queued to running: {statistics.median(waits):.2f} s")


if __name__ == "__main__":
    raise SystemExit(main())
