"""The AWS calls of a dry run, triaged scan against per-user scan, on a moto server.

python -m tests.benchmarks.scan [--accounts 20] [--users 500]

Seeds a moto server on 127.0.0.1 (in this process, so that key ages can be set on its
backend) with A accounts of U users: 5% with something due, 5% near it, the rest in
every quiet state (two keys, inactive keys, never-used keys, no key), some exempt, some
with an owner tag. Then runs every account in dry run with each scan mode, counting
every call with a botocore ``before-call`` hook, and prints both side by side.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import socket
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path[:0] = [
    str(Path(__file__).resolve().parents[2] / "plugins"),
    str(Path(__file__).resolve().parents[2]),
]

from deploy.demo.organization import EXEMPTION_GROUP, DemoKey  # noqa: E402

K = DemoKey
DUE = (
    (K(120, 1),),  # expired: rotate
    (K(100, 1), K(15, 1)),  # rotated 15 days ago: deactivate the old key
    (K(130, 25, active=False), K(25, 1)),  # inactive beyond the recovery grace: delete
    (K(95),),  # never used and expired: replace
)
NEAR = (
    (K(86, 1),),  # rotation announced
    (K(85),),  # never used, about to expire
    (K(95, 1), K(5, 1)),  # deactivation announced
)
QUIET = (
    (K(30, 1),),
    (K(60, 2),),
    (K(10),),  # never used, fresh
    (K(40, 1), K(20, 1)),  # two fresh keys
    (K(5, 4, active=False),),  # a fresh inactive key
    (),  # no key
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def seed(
    accounts: int, users: int, now: datetime, *, single_key_due: bool = False
) -> tuple[list[str], dict[str, int]]:
    """Create the users; returns the account ids and how many users of each kind."""
    import boto3

    from deploy.demo.organization import age_key_in_moto

    age = age_key_in_moto(now)
    rng = random.Random(9)
    kinds: Counter[str] = Counter()
    account_ids = [f"{100000000000 + n:012d}" for n in range(accounts)]
    sts = boto3.client("sts")
    for account_id in account_ids:
        credentials = sts.assume_role(
            RoleArn=f"arn:aws:iam::{account_id}:role/seed", RoleSessionName="bench-seed"
        )["Credentials"]
        iam = boto3.client(
            "iam",
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        iam.create_group(GroupName=EXEMPTION_GROUP)
        for index in range(users):
            draw = rng.random()
            due, near = (DUE[:1], NEAR[:1]) if single_key_due else (DUE, NEAR)
            if draw < 0.05:
                kind, keys = "due", due[index % len(due)]
            elif draw < 0.10:
                kind, keys = "near", near[index % len(near)]
            else:
                kind, keys = "quiet", QUIET[index % len(QUIET)]
            name = f"{kind}-{index:05d}"
            tags = [{"Key": "owner", "Value": f"{name}@example.com"}] if rng.random() < 0.3 else []
            iam.create_user(UserName=name, Tags=tags)
            if rng.random() < 0.02:
                iam.add_user_to_group(GroupName=EXEMPTION_GROUP, UserName=name)
                kind = "exempt"
            kinds[kind] += 1
            for key in keys:
                key_id = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
                if not key.active:
                    iam.update_access_key(UserName=name, AccessKeyId=key_id, Status="Inactive")
                age(account_id, name, key_id, key)
    return account_ids, kinds


def run(account_ids: list[str], mode: str, now: datetime) -> dict[str, Any]:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    from keyrotation.aws.sessions import AccountSessions
    from keyrotation.results import Account
    from keyrotation.rotation import rotate_account
    from keyrotation.settings import RotationSettings

    calls: Counter[str] = Counter()

    class CountingSessions(AccountSessions):
        def client(self, service: str, session: Any = None, region_name: str | None = None) -> Any:
            client = super().client(service, session, region_name)
            client.meta.events.register(
                "before-call", lambda model, **_: calls.update([model.name])
            )
            return client

    sessions = CountingSessions(AwsBaseHook(aws_conn_id=None, client_type="sts"))
    settings = RotationSettings(scan_mode=mode, member_role_name="bench-role")
    plan: list[tuple] = []
    acting = 0
    start = time.perf_counter()
    for account_id in account_ids:
        account = Account(account_id, f"bench-{account_id}", "bench@example.com")
        report = rotate_account(
            account, sessions=sessions, settings=settings, now=now, dry_run=True
        )
        plan += sorted(
            (r.account_id, r.user_name, r.access_key_id, r.action, r.reason, r.due, r.owner)
            for r in report.records
        )
        acting += len({r.user_name for r in report.records})
    return {"calls": calls, "seconds": time.perf_counter() - start, "plan": plan, "acting": acting}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--users", type=int, default=500, help="users per account")
    parser.add_argument(
        "--single-key-due",
        action="store_true",
        help="due and near users hold one key (an expired or an expiring one), "
        "the rest keep every state",
    )
    args = parser.parse_args()

    from moto.server import ThreadedMotoServer

    port = _free_port()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
    )
    logging.disable(logging.WARNING)  # one log line per user would drown the numbers
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        now = datetime.now(UTC)
        start = time.perf_counter()
        account_ids, kinds = seed(
            args.accounts, args.users, now, single_key_due=args.single_key_due
        )
        print(
            f"seeded {args.accounts} accounts x {args.users} users on a moto server at "
            f"127.0.0.1:{port} in {time.perf_counter() - start:.0f} s: "
            + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        )
        for mode in ("auto", "per_user"):  # warm up: models loaded, connections open
            run(account_ids[:1], mode, now)
        triaged = run(account_ids, "auto", now)
        per_user = run(account_ids, "per_user", now)
    finally:
        server.stop()
    report(args.accounts, args.users, triaged, per_user)
    return 0 if triaged["plan"] == per_user["plan"] else 1


def report(accounts: int, users: int, triaged: dict, per_user: dict) -> None:
    apis = sorted(set(triaged["calls"]) | set(per_user["calls"]))
    width = max(len(api) for api in apis) + 2
    print(f"\n{'calls per account by API':<{width}}{'triaged':>12}{'per-user':>12}")
    for api in apis:
        cells = [
            f"{run['calls'][api] / accounts:.2f}" if run["calls"][api] else "-"
            for run in (triaged, per_user)
        ]
        print(f"  {api:<{width - 2}}{cells[0]:>12}{cells[1]:>12}")
    totals = [sum(run["calls"].values()) for run in (triaged, per_user)]
    print(
        f"{'calls per account':<{width}}{totals[0] / accounts:>12.1f}{totals[1] / accounts:>12.1f}"
    )
    print(
        f"{'calls per user':<{width}}{totals[0] / accounts / users:>12.3f}"
        f"{totals[1] / accounts / users:>12.3f}"
    )
    print(f"{'wall time (s)':<{width}}{triaged['seconds']:>12.1f}{per_user['seconds']:>12.1f}")
    acting = triaged["acting"] / accounts
    target = 10 + 3 * acting
    print(f"\ncalls: {totals[1] / totals[0]:.1f} x fewer than the per-user scan")
    print(
        f"users needing an action or a warning: {acting:.1f} per account; target "
        f"10 + 3 x {acting:.1f} = {target:.1f} calls per account: "
        f"{'met' if totals[0] / accounts <= target else 'MISSED'} ({totals[0] / accounts:.1f})"
    )
    same = triaged["plan"] == per_user["plan"]
    print(
        f"same plan from both scans: {'yes' if same else 'NO'} "
        f"({len(triaged['plan'])} actions and warnings)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
