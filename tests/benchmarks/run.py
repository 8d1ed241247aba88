"""Benchmarks that print numbers: policy evaluation, and a whole account on moto.

python -m tests.benchmarks.run [--users 2000]
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path[:0] = [
    str(Path(__file__).resolve().parents[2] / "plugins"),
    str(Path(__file__).resolve().parents[2]),
]

from keyrotation.policy import PolicySettings, evaluate_keys  # noqa: E402


def random_user_keys(rng: random.Random, now: datetime, index: int) -> list[dict]:
    keys = []
    for slot in range(rng.choice((0, 1, 1, 2))):
        created = now - timedelta(days=rng.uniform(0, 400))
        used = created + (now - created) * rng.random() if rng.random() < 0.8 else None
        keys.append(
            {
                "UserName": f"user{index}",
                "AccessKeyId": f"AKIA{index:012d}{slot:04d}",
                "Status": rng.choice(("Active", "Active", "Inactive")),
                "CreateDate": created,
                "LastUsedDate": used,
            }
        )
    return keys


def bench_policy(users: int) -> None:
    rng = random.Random(7)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    settings = PolicySettings()
    population = [random_user_keys(rng, now, i) for i in range(users)]
    start = time.perf_counter()
    actions = sum(len(evaluate_keys(keys, now=now, settings=settings)) for keys in population)
    elapsed = time.perf_counter() - start
    print(
        f"policy: {users} users evaluated in {elapsed * 1000:.1f} ms "
        f"({users / elapsed:,.0f} users/s), {actions} actions"
    )


def bench_account_on_moto(users: int) -> None:
    """Scan, plan and rotate one account of ``users`` users on in-process moto."""
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    from moto import mock_aws

    from deploy.demo.organization import DemoKey, age_key_in_moto, assume_into
    from keyrotation.aws.sessions import AccountSessions
    from keyrotation.results import Account
    from keyrotation.rotation import rotate_account
    from keyrotation.settings import RotationSettings

    logging.disable(logging.INFO)  # one log line per user would drown the numbers
    account = Account("210987654321", "bench", "bench@example.com")
    now = datetime.now(UTC)
    rng = random.Random(11)
    with mock_aws():
        iam = assume_into(None)(account.id)("iam")
        age = age_key_in_moto(now)
        for index in range(users):
            name = f"user{index:05d}"
            iam.create_user(UserName=name)
            key = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
            age(account.id, name, key, DemoKey(rng.uniform(0, 120), rng.uniform(0, 1)))
        sessions = AccountSessions(AwsBaseHook(aws_conn_id=None, client_type="sts"))
        for dry_run in (True, False):
            settings = RotationSettings(dry_run=dry_run, member_role_name="bench-role")
            start = time.perf_counter()
            report = rotate_account(
                account, sessions=sessions, settings=settings, now=now, dry_run=dry_run
            )
            elapsed = time.perf_counter() - start
            changes = sum(1 for r in report.records if r.action != "WARN")
            print(
                f"account on moto ({'dry run' if dry_run else 'enforce'}): {users} users in "
                f"{elapsed:.2f} s ({users / elapsed:,.0f} users/s), {changes} changes planned"
            )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=20000)
    parser.add_argument("--account-users", type=int, default=300)
    args = parser.parse_args()
    bench_policy(args.users)
    bench_account_on_moto(args.account_users)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
