"""Seeding on moto's backends makes the same organisation as seeding through the AWS API.

Both seed the same accounts into a fresh ``mock_aws``; the organisation is then read back
through the AWS API, with account ids replaced by account names (moto draws them at
random), and the two readings must be equal.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moto import mock_aws

from deploy.demo.moto_access import assume_role_requires_role
from deploy.demo.moto_seeding import seed_organization_in_moto
from deploy.demo.organization import (
    DEMO_ACCOUNTS,
    REGION,
    DemoAccount,
    DemoKey,
    DemoUser,
    SeededOrganization,
    age_key_in_moto,
    assume_into,
    boto3_clients,
    seed_organization,
)
from tests.benchmarks.airflow_run import organisation

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ACCOUNTS: tuple[DemoAccount, ...] = (
    *DEMO_ACCOUNTS,
    DemoAccount(
        "no-member-role", ("Sandbox",), (DemoUser("zoe", (DemoKey(3),)),), member_role=False
    ),
    *organisation(2, 12),
)


def _read_back(seeded: SeededOrganization) -> dict[str, Any]:
    """The organisation as the AWS API shows it, account ids replaced by names."""
    names = {account_id: name for name, account_id in seeded.accounts.items()}

    def named(value: Any) -> Any:
        text = repr(value)
        for account_id, name in names.items():
            text = text.replace(account_id, f"<{name}>")
        return text

    org = boto3_clients(None)("organizations")
    ou_names = {ou_id: path[-1] for path, ou_id in seeded.ous.items()}
    accounts = {}
    for account in org.list_accounts()["Accounts"]:
        if account["Id"] not in names:
            continue  # the management account
        parents = org.list_parents(ChildId=account["Id"])["Parents"]
        tags = org.list_tags_for_resource(ResourceId=account["Id"])["Tags"]
        accounts[names[account["Id"]]] = {
            "email": account["Email"],
            "status": account["Status"],
            "parent": [ou_names.get(parent["Id"], parent["Type"]) for parent in parents],
            "tags": sorted((tag["Key"], tag["Value"]) for tag in tags),
            "iam": _read_account(assume_into(None)(account["Id"])),
        }
    management = boto3_clients(None)("iam")
    return {
        "ous": sorted(seeded.ous),
        "accounts": named(accounts),
        "management_roles": _roles(management),
        "orphaned_secrets": named(sorted(seeded.orphaned_secrets.items())),
        "keys": sorted((names[account_id], user) for account_id, user in seeded.keys),
    }


def _roles(iam: Any) -> list[Any]:
    return sorted(
        (
            role["RoleName"],
            role["Path"],
            role["AssumeRolePolicyDocument"],
            role.get("Description"),
            role["MaxSessionDuration"],
        )
        for role in iam.list_roles()["Roles"]
    )


def _read_account(client: Callable[[str], Any]) -> dict[str, Any]:
    iam = client("iam")
    users = {}
    for user in iam.list_users()["Users"]:
        name = user["UserName"]
        keys = []
        for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
            used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
            keys.append((key["Status"], key["CreateDate"], used["AccessKeyLastUsed"]))
        users[name] = {
            "path": user["Path"],
            "tags": iam.list_user_tags(UserName=name)["Tags"],
            "groups": [g["GroupName"] for g in iam.list_groups_for_user(UserName=name)["Groups"]],
            "keys": sorted(keys, key=repr),
        }
    secrets = client("secretsmanager")
    stored = []
    for secret in secrets.list_secrets()["SecretList"]:
        value = secrets.get_secret_value(SecretId=secret["ARN"])["SecretString"]
        stored.append((secret["Name"], secret.get("Description"), secret.get("Tags"), value))
    return {
        "roles": _roles(iam),
        "groups": sorted(g["GroupName"] for g in iam.list_groups()["Groups"]),
        "users": users,
        "secrets": sorted(stored, key=repr),
    }


def test_backend_seeding_makes_the_organisation_the_api_seeding_makes() -> None:
    with mock_aws(), assume_role_requires_role():
        through_api = seed_organization(
            boto3_clients(None),
            assume_into(None),
            accounts=ACCOUNTS,
            age_keys=age_key_in_moto(NOW),
        )
        expected = _read_back(through_api)
    with mock_aws(), assume_role_requires_role():
        on_backends = seed_organization_in_moto(ACCOUNTS, now=NOW)
        assert set(on_backends.accounts.values()).isdisjoint(through_api.accounts.values())
        actual = _read_back(on_backends)

    assert actual == expected
    # The reading covers what the pipeline depends on: roles, ages, owners, exemptions.
    assert "iam-key-rotation-member-role" in actual["accounts"]
    assert "'owner'" in actual["accounts"]
    assert "IAMKeyRotationExemptionGroup" in actual["accounts"]
    assert len(on_backends.suspended) == 1
    assert on_backends.orphaned_secrets


def test_backend_seeding_ages_keys_as_told() -> None:
    account = DemoAccount(
        "aged",
        ("Workloads",),
        (DemoUser("old", (DemoKey(120, 2), DemoKey(5, active=False)), owner="o@example.com"),),
    )
    with mock_aws():
        seeded = seed_organization_in_moto((account,), now=NOW)
        iam = assume_into(None)(seeded.accounts["aged"])("iam")
        keys = {
            key["AccessKeyId"]: key
            for key in iam.list_access_keys(UserName="old")["AccessKeyMetadata"]
        }
        old_id, new_id = seeded.keys[(seeded.accounts["aged"], "old")]
        used = iam.get_access_key_last_used(AccessKeyId=old_id)["AccessKeyLastUsed"]
        never = iam.get_access_key_last_used(AccessKeyId=new_id)["AccessKeyLastUsed"]

    assert (NOW - keys[old_id]["CreateDate"]).days == 120
    assert keys[old_id]["Status"] == "Active"
    assert (NOW - used["LastUsedDate"]).days == 2
    assert used["Region"] == REGION
    assert (NOW - keys[new_id]["CreateDate"]).days == 5
    assert keys[new_id]["Status"] == "Inactive"
    assert "LastUsedDate" not in never
