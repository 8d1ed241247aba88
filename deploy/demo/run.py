"""Run the rotation DAG end to end against a local moto server and a demo organisation.

    python -m deploy.demo.run               # enforce mode: keys are rotated
    python -m deploy.demo.run --dry-run     # audit mode: nothing changes
    python -m deploy.demo.run --standalone  # Airflow (UI, scheduler) against the demo, dry
    python -m deploy.demo.run --standalone --enforce  # ... whose runs rotate keys

The moto server runs in this process (so the demo can set key ages and read the sent
emails back); Airflow runs as its own processes with SQLite as its metadata database and
reaches moto over HTTP on 127.0.0.1, like it reaches AWS.
"""

from __future__ import annotations

import argparse
import email
import json
import logging
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from typing import Any

from moto.server import ThreadedMotoServer

from deploy.demo.moto_access import assume_role_requires_role
from deploy.demo.organization import (
    DEMO_ACCOUNTS,
    EXEMPTION_GROUP,
    MANAGEMENT_ACCOUNT_ID,
    MEMBER_ROLE_NAME,
    REGION,
    SENDER_EMAIL,
    SeededOrganization,
    age_key_in_moto,
    assume_into,
    boto3_clients,
    seed_organization,
    verify_sender,
)
from deploy.demo.processes import Component, free_port, port_is_free, stop_all

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "iam_access_key_rotation"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "demo",
    "AWS_SECRET_ACCESS_KEY": "demo",  # moto accepts any credentials
    "AWS_DEFAULT_REGION": REGION,
}


def main(argv: list[str] | None = None) -> int:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per moto request
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="run in audit mode")
    parser.add_argument("--standalone", action="store_true", help="start the Airflow UI")
    parser.add_argument(
        "--enforce",
        action="store_true",
        help="with --standalone: the Variable lets runs rotate keys (default: every run dry)",
    )
    parser.add_argument(
        "--api-port", type=int, default=8080, help="with --standalone: UI and REST API port"
    )
    parser.add_argument("--output", type=Path, default=REPO / "demo-output")
    parser.add_argument("--port", type=int, default=0, help="moto server port (0: any free)")
    args = parser.parse_args(argv)
    if args.enforce and not args.standalone:
        parser.error("--enforce goes with --standalone (the demo run enforces unless --dry-run)")
    ports = _standalone_ports(args.api_port) if args.standalone else {}

    output: Path = args.output.resolve()
    if output.exists():
        shutil.rmtree(output)
    (output / "emails").mkdir(parents=True)
    os.environ.update(FAKE_CREDENTIALS)

    port = args.port or free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        with assume_role_requires_role():
            print(f"moto server (AWS APIs) on {endpoint}")
            seeded = seed_organization(
                boto3_clients(endpoint),
                assume_into(endpoint),
                age_keys=age_key_in_moto(datetime.now(UTC)),
            )
            verify_sender(boto3_clients(endpoint))
            _print_organization(seeded)
            dry_variable = args.standalone and not args.enforce
            env = _airflow_environment(output, endpoint, dry_run=dry_variable)
            if args.standalone:
                env.update(standalone_environment(ports))
            _prepare_airflow(env)
            if args.standalone:
                return _standalone(env, output, ports, dry_run=dry_variable)
            code = _run_dag(env, output, dry_run=args.dry_run)
            _print_results(output, seeded, dry_run=args.dry_run)
            return code
    finally:
        server.stop()


def _airflow_environment(output: Path, endpoint: str, *, dry_run: bool) -> dict[str, str]:
    settings = {
        "dry_run": dry_run,
        "member_role_name": MEMBER_ROLE_NAME,
        "exemption_group": EXEMPTION_GROUP,
        "owner_tag": "owner",
        "sender_email": SENDER_EMAIL,
        "report_uri": str(output / "report"),
    }
    connection = {
        "conn_type": "aws",
        "login": "demo",
        "password": "demo",
        "extra": {"region_name": REGION, "endpoint_url": endpoint},
    }
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(output / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection),
        "AIRFLOW_VAR_IAM_ACCESS_KEY_ROTATION": json.dumps(settings),
        "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)]),
        # Airflow standalone starts its components as `airflow ...` from PATH.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    print(f"Airflow home: {env['AIRFLOW_HOME']} (SQLite metadata database)")
    print(f"Variable iam_access_key_rotation = {json.dumps(settings)}")
    return env


def _airflow(env: dict[str, str], *args: str, log: Path | None = None) -> int:
    command = [str(Path(sys.executable).with_name("airflow")), *args]
    if log is None:
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if result.returncode:
            sys.stderr.write(result.stdout + result.stderr)
            raise SystemExit(f"`airflow {' '.join(args)}` failed ({result.returncode})")
        return 0
    with log.open("w") as handle:
        return subprocess.run(command, env=env, stdout=handle, stderr=subprocess.STDOUT).returncode


def _prepare_airflow(env: dict[str, str]) -> None:
    print("Preparing the Airflow metadata database ...")
    _airflow(env, "db", "migrate")


def _run_dag(env: dict[str, str], output: Path, *, dry_run: bool) -> int:
    conf = json.dumps({"dry_run": dry_run})
    log = output / "dag-run.log"
    mode = "dry run (audit)" if dry_run else "enforce"
    print(f"\nRunning `airflow dags test {DAG_ID} -c '{conf}'` ({mode}); log: {log}")
    code = _airflow(env, "dags", "test", DAG_ID, "-c", conf, log=log)
    print(f"airflow dags test exited with {code}")
    return code


def _standalone_ports(api_port: int) -> dict[str, int]:
    """The API server's port (checked: fail loudly if taken) and free log-server ports."""
    api_port = api_port or free_port()
    if not port_is_free(api_port):
        raise SystemExit(
            f"Port {api_port} is already in use (another Airflow?): stop what listens there "
            f"or choose another port, e.g. `make up API_PORT=8081`."
        )
    ports = {"api": api_port, "worker_logs": free_port(), "trigger_logs": free_port()}
    if len(set(ports.values())) != len(ports):  # pragma: no cover - the OS hands out distinct
        raise SystemExit(f"Could not find distinct free ports: {ports}")
    return ports


def standalone_environment(ports: dict[str, int]) -> dict[str, str]:
    """Airflow's settings for its components as separate processes on 127.0.0.1."""
    from cryptography.fernet import Fernet

    api = f"http://127.0.0.1:{ports['api']}"
    return {
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
        # No login, so the UI listens on this machine only.
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(ports["api"]),
        "AIRFLOW__API__BASE_URL": api,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(ports["worker_logs"]),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(ports["trigger_logs"]),
    }


def _standalone(env: dict[str, str], output: Path, ports: dict[str, int], *, dry_run: bool) -> int:
    """Run api-server, scheduler, dag-processor and triggerer until Ctrl-C (or SIGTERM),
    then stop every process they started, each component by its process group."""
    api = f"http://127.0.0.1:{ports['api']}"
    logs = output / "airflow"
    components = [
        Component(name, (name,), logs / f"{name}.log")
        for name in ("api-server", "scheduler", "dag-processor", "triggerer")
    ]
    # Also for SIGINT: a shell that starts the demo in the background ignores it.
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for component in components:
            component.start(env)
        print(f"\nStarting Airflow (logs: {logs}/<component>.log) ...", flush=True)
        _wait_until_serving(api, components)
        mode = (
            "ENFORCE: the Variable says dry_run false, runs rotate keys unless the "
            "trigger form ticks dry_run."
            if not dry_run
            else "DRY: the Variable says dry_run true, so every run, triggered or scheduled, "
            "only reports what it would change. `make up ENFORCE=1` starts a demo whose "
            "runs rotate keys."
        )
        print(
            f"\nAirflow is ready: open {api} (DAG {DAG_ID}).\n"
            "Login: none. The demo runs the simple auth manager with "
            "simple_auth_manager_all_admins, so every visitor is an admin without a "
            "password; the UI listens on 127.0.0.1 only.\n"
            f"REST API: curl -s {api}/auth/token gives a JWT for "
            f"`Authorization: Bearer <token>` on {api}/api/v2/...\n"
            f"Runs: {mode}\n"
            "Ctrl-C stops Airflow and the moto server.",
            flush=True,
        )
        while True:
            _check_running(components)
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping Airflow ...", flush=True)
        return 0
    except RuntimeError as error:
        print(f"\n{error}", file=sys.stderr, flush=True)
        return 1
    finally:
        stop_all(components, grace=6)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _check_running(components: list[Component]) -> None:
    for component in components:
        if not component.running:
            raise RuntimeError(
                f"Airflow's {component.name} exited; the end of {component.log}:\n"
                f"{component.tail(40)}"
            )


def _wait_until_serving(api: str, components: list[Component], timeout: float = 240) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _check_running(components)
        try:
            if httpx.get(f"{api}/api/v2/monitor/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"Airflow's API server did not answer on {api} within {timeout:.0f}s")


def _print_organization(seeded: SeededOrganization) -> None:
    print("\nDemo organisation:")
    for account in DEMO_ACCOUNTS:
        account_id = seeded.accounts[account.name]
        state = "SUSPENDED" if account_id in seeded.suspended else "ACTIVE"
        print(f"  {account_id} {account.name:<14} {state:<9} OU /{'/'.join(account.ou_path)}")
        if account.tags:
            print(f"      (account tags: {', '.join(f'{k}={v}' for k, v in account.tags)})")
        for user in account.users:
            print(f"      {user.name:<12} {user.story}")
        for user_name in account.deleted_users_with_secrets:
            print(f"      {user_name:<12} deleted user whose secret remains: deletion scheduled")


def _print_results(output: Path, seeded: SeededOrganization, *, dry_run: bool) -> None:
    names = {account_id: name for name, account_id in seeded.accounts.items()}
    names[MANAGEMENT_ACCOUNT_ID] = "management"
    records, states = _read_run(output / "airflow" / "airflow.db")
    print("\nTask states:")
    for task, state in states:
        print(f"  {task:<48} {state}")
    print(f"\nActions per account ({'dry run: nothing changed' if dry_run else 'enforced'}):")
    by_account: dict[str, list[dict]] = {}
    for record in records:
        by_account.setdefault(record["account_id"], []).append(record)
    for account_id in sorted(by_account):
        print(f"  {account_id} {names.get(account_id, '')}")
        for r in by_account[account_id]:
            if not r["access_key_id"]:
                # Not a key action: an exemption, a bad exemption tag, a secret's upkeep.
                what = r.get("exempt_until") or r.get("error") or r.get("secret_name") or ""
                who = r["user_name"] or "(account)"
                print(f"    {who:<12} {r['action']:<17} {what} [{r['outcome']}]")
                continue
            detail = f" -> new key in {r['secret_name']}" if r.get("new_access_key_id") else ""
            due = f" due {r['due'][:10]}" if r.get("due") else ""
            print(
                f"    {r['user_name']:<12} {r['action']:<17} {r['access_key_id']} "
                f"{r['reason']}{due} [{r['outcome']}]{detail}"
            )
    emails = _save_emails(output / "emails")
    print(f"\nEmails sent through SES, read back from it ({len(emails)}):")
    for path, recipient, subject in emails:
        print(f"  to {recipient:<34} {subject}\n      {path}")
    pages = sorted((output / "report").rglob("report.html"))
    if pages:
        print(f"\nEvidence report (CSV, JSON Lines and this page): {pages[-1]}")


def _read_run(database: Path) -> tuple[list[dict], list[tuple[str, str]]]:
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT value FROM xcom WHERE dag_id = ? AND task_id = 'rotate_account_keys' "
            "AND key = 'return_value' ORDER BY map_index",
            (DAG_ID,),
        ).fetchall()
        states = db.execute(
            "SELECT task_id || CASE WHEN map_index >= 0 THEN ' [' || "
            "COALESCE(rendered_map_index, map_index) || ']' ELSE '' END, state "
            "FROM task_instance WHERE dag_id = ? ORDER BY task_id, map_index",
            (DAG_ID,),
        ).fetchall()
    # Each rotation task returns {"version": 1, "accounts": [{"records": [...]}, ...]}.
    records = [
        record
        for (value,) in rows
        for result in _json(value)["accounts"]
        for record in result["records"]
    ]
    return records, states


def _json(value: str | bytes) -> Any:
    decoded = json.loads(value)
    return json.loads(decoded) if isinstance(decoded, str) else decoded


def _save_emails(folder: Path) -> list[tuple[Path, str, str]]:
    from moto.ses.models import ses_backends

    saved = []
    messages = ses_backends[MANAGEMENT_ACCOUNT_ID][REGION].sent_messages
    for number, message in enumerate(messages, start=1):
        parsed = email.message_from_string(message.raw_data)
        recipient = str(parsed["To"])
        html = _html_part(parsed)
        path = folder / f"{number:02d}-{recipient.replace('@', '_at_')}.html"
        path.write_text(html)
        saved.append((path, recipient, str(parsed["Subject"])))
    return saved


def _html_part(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True)
            return payload.decode(part.get_content_charset() or "utf-8")
    return "<pre>(no HTML part)</pre>"


if __name__ == "__main__":
    raise SystemExit(main())
