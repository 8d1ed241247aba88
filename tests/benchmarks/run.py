"""Benchmarks that print numbers: policy evaluation, and a whole account on moto.

python -m tests.benchmarks.run [--users 2000]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins"))

from keyrotation.policy import PolicySettings, evaluate_keys


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
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    try:
        from keyrotation.benchmarking import account_rotation_benchmark
    except ImportError:
        print("account benchmark: keyrotation.benchmarking not available")
        return
    account_rotation_benchmark(users)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=20000)
    parser.add_argument("--account-users", type=int, default=500)
    args = parser.parse_args()
    bench_policy(args.users)
    bench_account_on_moto(args.account_users)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
