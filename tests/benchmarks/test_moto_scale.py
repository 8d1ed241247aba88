"""The benchmark's faster moto lookups give moto's answers, and are undone afterwards."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import moto.iam.models as iam_models
from moto import mock_aws

from deploy.demo.moto_seeding import seed_organization_in_moto
from deploy.demo.organization import DemoAccount, DemoKey, DemoUser, assume_into
from tests.benchmarks.moto_scale import key_lookups_per_account

NOW = datetime(2026, 3, 1, tzinfo=UTC)
ACCOUNTS = tuple(
    DemoAccount(
        f"account-{n}",
        ("Workloads",),
        (DemoUser("used", (DemoKey(100, 3),)), DemoUser("unused", (DemoKey(20),))),
    )
    for n in range(3)
)


def _answers() -> dict[str, Any]:
    seeded = seed_organization_in_moto(ACCOUNTS, now=NOW)
    answers: dict[str, Any] = {}
    for name, account_id in seeded.accounts.items():
        client = assume_into(None)(account_id)
        iam = client("iam")
        answers[name] = {
            "caller": client("sts").get_caller_identity()["Account"] == account_id,
            "keys": {
                user: iam.get_access_key_last_used(AccessKeyId=seeded.keys[(account_id, user)][0])[
                    "AccessKeyLastUsed"
                ]
                for user in ("used", "unused")
            },
        }
    return answers


def test_the_lookups_answer_as_moto_does() -> None:
    with mock_aws():
        plain = _answers()
    with mock_aws(), key_lookups_per_account():
        faster = _answers()

    assert faster == plain
    assert all(answer["caller"] for answer in faster.values())
    assert all("LastUsedDate" in answer["keys"]["used"] for answer in faster.values())
    assert all("LastUsedDate" not in answer["keys"]["unused"] for answer in faster.values())


def test_the_lookups_are_moto_s_own_again_afterwards() -> None:
    find_account = iam_models.get_account_id_from
    last_used = iam_models.IAMBackend.get_access_key_last_used
    with key_lookups_per_account():
        assert iam_models.get_account_id_from is not find_account
        assert iam_models.IAMBackend.get_access_key_last_used is not last_used

    assert iam_models.get_account_id_from is find_account
    assert iam_models.IAMBackend.get_access_key_last_used is last_used
