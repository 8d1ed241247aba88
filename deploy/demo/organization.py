"""A demo AWS Organization on moto: accounts in nested OUs and users covering the policy.

Seeding goes through plain boto3 clients, so it works against a moto server or inside
``mock_aws``. Key ages and last-used times cannot be set through the AWS API; they are
set on moto's backend objects, which is only possible in the process that runs moto.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import boto3

MANAGEMENT_ACCOUNT_ID = "123456789012"  # moto's account for the base credentials
MEMBER_ROLE_NAME = "iam-key-rotation-member-role"
EXEMPTION_GROUP = "IAMKeyRotationExemptionGroup"
SENDER_EMAIL = "iam-key-rotation@security.example.com"
REGION = "us-east-1"
EXEMPT_UNTIL_TAG = "iam-key-rotation:exempt-until"
EXEMPT_REASON_TAG = "iam-key-rotation:exempt-reason"

ClientFactory = Callable[..., object]


@dataclass(frozen=True)
class DemoKey:
    """A key to create: its age and, if used, how long ago it was last used."""

    age_days: float
    last_used_days_ago: float | None = None
    active: bool = True


@dataclass(frozen=True)
class DemoUser:
    name: str
    keys: tuple[DemoKey, ...]
    owner: str | None = None
    exempt: bool = False
    story: str = ""
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DemoAccount:
    name: str
    ou_path: tuple[str, ...]
    users: tuple[DemoUser, ...]
    suspended: bool = False
    member_role: bool = True
    #: Tags on the account in AWS Organizations (an account exemption tag, say).
    tags: tuple[tuple[str, str], ...] = ()
    #: Users that no longer exist but whose secret the pipeline once created.
    deleted_users_with_secrets: tuple[str, ...] = ()


def days_from_today(days: int) -> str:
    """A date ``days`` after today (UTC), as an exemption tag holds it."""
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


@dataclass
class SeededOrganization:
    """Ids of what was created, for the demo's summary and for tests."""

    accounts: dict[str, str] = field(default_factory=dict)  # name -> id
    suspended: set[str] = field(default_factory=set)
    ous: dict[tuple[str, ...], str] = field(default_factory=dict)
    keys: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (account, user) -> ids
    root_id: str = ""
    orphaned_secrets: dict[str, str] = field(default_factory=dict)  # account id -> name


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount(
        "payments-prod",
        ("Workloads", "Production"),
        (
            DemoUser(
                "alice",
                (DemoKey(120, 1),),
                owner="alice@example.com",
                story="Active key 120 days old: rotated",
            ),
            DemoUser(
                "grace",
                (DemoKey(90, 0.5),),
                owner="grace@example.com",
                story="key due today (exactly 90 days): rotated",
            ),
            DemoUser(
                "bob",
                (DemoKey(86, 2),),
                owner="alice@example.com",
                story="key 86 days old: warned 4 days ahead",
            ),
            DemoUser(
                "break-glass",
                (DemoKey(400, 30),),
                exempt=True,
                story="in the exemption group: never touched",
            ),
        ),
        deleted_users_with_secrets=("former-contractor",),
    ),
    DemoAccount(
        "data-prod",
        ("Workloads", "Production"),
        (
            DemoUser(
                "carol",
                (DemoKey(105, 12), DemoKey(15, 1)),
                owner="carol@example.com",
                story="rotated 15 days ago: old key deactivated",
            ),
            DemoUser(
                "dave",
                (DemoKey(130, 25, active=False), DemoKey(25, 1)),
                owner="dave@example.com",
                story="old key inactive for the recovery grace: deleted",
            ),
            DemoUser(
                "ivan",
                (DemoKey(150, 3), DemoKey(100, 1)),
                story="two expired Active keys: least recently used deleted, other rotated",
            ),
            DemoUser(
                "kim",
                (DemoKey(105, 1), DemoKey(15)),
                owner="kim@example.com",
                story="rotated 15 days ago, new key never used: old key kept active, warned",
            ),
        ),
    ),
    DemoAccount(
        "analytics-dev",
        ("Workloads", "Development"),
        (
            DemoUser(
                "erin",
                (DemoKey(95),),
                owner="erin@example.com",
                story="never-used key expired: replaced",
            ),
            DemoUser("heidi", (DemoKey(85),), story="never-used key expiring in 5 days: warned"),
            DemoUser(
                "judy",
                (DemoKey(95, 1), DemoKey(5, 1)),
                owner="judy@example.com",
                story="rotated 5 days ago: deactivation of the old key announced",
            ),
            DemoUser("ci-bot", (DemoKey(10, 0.1),), story="fresh key: nothing to do"),
            DemoUser(
                "legacy-batch",
                (DemoKey(200, 1),),
                owner="erin@example.com",
                tags=(
                    (EXEMPT_UNTIL_TAG, days_from_today(4)),
                    (EXEMPT_REASON_TAG, "vendor certifies the new client first"),
                ),
                story="exempt by tag for 4 more days: untouched, end announced",
            ),
            DemoUser(
                "olaf",
                (DemoKey(120, 2),),
                tags=((EXEMPT_UNTIL_TAG, "forever"),),
                story="exemption tag 'forever' is no date: rotated, problem reported",
            ),
        ),
    ),
    DemoAccount(
        "research",
        ("Workloads", "Development"),
        (
            DemoUser(
                "peggy",
                (DemoKey(150, 1),),
                story="account exempt by its Organizations tag: untouched",
            ),
        ),
        tags=(
            (EXEMPT_UNTIL_TAG, days_from_today(60)),
            (EXEMPT_REASON_TAG, "cluster migration"),
        ),
    ),
    DemoAccount(
        "sandbox",
        ("Sandbox",),
        (DemoUser("mallory", (DemoKey(300, 200),), story="account suspended: not scanned"),),
        suspended=True,
    ),
)


def seed_organization(
    client: ClientFactory,
    assume: Callable[[str], ClientFactory],
    *,
    accounts: tuple[DemoAccount, ...] = DEMO_ACCOUNTS,
    age_keys: Callable[[str, str, str, DemoKey], None] | None = None,
) -> SeededOrganization:
    """Create the organisation, its OUs, accounts, member roles, users and keys.

    ``client(service)`` gives management-account clients; ``assume(account_id)`` gives a
    client factory acting in a member account; ``age_keys`` sets a key's age.
    """
    org = client("organizations")
    seeded = SeededOrganization()
    org.create_organization(FeatureSet="ALL")
    seeded.root_id = org.list_roots()["Roots"][0]["Id"]
    _deploy_member_role(client("iam"))
    for account in accounts:
        account_id = place_account(org, seeded, account)
        member = assume(account_id)
        iam = member("iam")
        if account.member_role:
            _deploy_member_role(iam)
        iam.create_group(GroupName=EXEMPTION_GROUP)
        for user in account.users:
            seeded.keys[(account_id, user.name)] = _create_user(
                iam, account_id, user, age_keys=age_keys
            )
        for user_name in account.deleted_users_with_secrets:
            seeded.orphaned_secrets[account_id] = _create_orphaned_secret(
                member("secretsmanager"), account_id, user_name
            )
        if account.suspended:
            org.close_account(AccountId=account_id)
            seeded.suspended.add(account_id)
    return seeded


def place_account(org, seeded: SeededOrganization, account: DemoAccount) -> str:
    """Create ``account`` in its OU with its tags and return its id; ``org`` is an
    Organizations client or moto's backend, which answer these calls alike."""
    parent = ensure_ou_path(org, seeded, account.ou_path)
    created = org.create_account(AccountName=account.name, Email=f"{account.name}@example.com")
    account_id = created["CreateAccountStatus"]["AccountId"]
    org.move_account(
        AccountId=account_id, SourceParentId=seeded.root_id, DestinationParentId=parent
    )
    seeded.accounts[account.name] = account_id
    if account.tags:
        org.tag_resource(
            ResourceId=account_id,
            Tags=[{"Key": key, "Value": value} for key, value in account.tags],
        )
    return account_id


def ensure_ou_path(org, seeded: SeededOrganization, path: tuple[str, ...]) -> str:
    """The id of the OU at ``path`` under the root, creating what is missing; ``org`` is an
    Organizations client or moto's backend, which answer create_organizational_unit alike."""
    parent = seeded.root_id
    for depth in range(1, len(path) + 1):
        key = path[:depth]
        if key not in seeded.ous:
            ou = org.create_organizational_unit(ParentId=parent, Name=path[depth - 1])
            seeded.ous[key] = ou["OrganizationalUnit"]["Id"]
        parent = seeded.ous[key]
    return parent


def member_role_trust_policy() -> dict:
    """Who may assume the member role: the management account."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{MANAGEMENT_ACCOUNT_ID}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def _deploy_member_role(iam) -> None:
    """What the member-role StackSet deploys, reduced to what moto needs."""
    iam.create_role(
        RoleName=MEMBER_ROLE_NAME,
        AssumeRolePolicyDocument=json.dumps(member_role_trust_policy()),
    )


def _create_user(
    iam,
    account_id: str,
    user: DemoUser,
    *,
    age_keys: Callable[[str, str, str, DemoKey], None] | None,
) -> list[str]:
    tags = [{"Key": "owner", "Value": user.owner}] if user.owner else []
    tags += [{"Key": key, "Value": value} for key, value in user.tags]
    iam.create_user(UserName=user.name, Tags=tags)
    if user.exempt:
        iam.add_user_to_group(GroupName=EXEMPTION_GROUP, UserName=user.name)
    key_ids = []
    for key in user.keys:
        created = iam.create_access_key(UserName=user.name)["AccessKey"]
        key_ids.append(created["AccessKeyId"])
        if not key.active:
            iam.update_access_key(
                UserName=user.name, AccessKeyId=created["AccessKeyId"], Status="Inactive"
            )
        if age_keys is not None:
            age_keys(account_id, user.name, created["AccessKeyId"], key)
    return key_ids


def orphaned_secret(account_id: str, user_name: str) -> dict:
    """The CreateSecret parameters of the secret the pipeline once stored for a user
    deleted since (its name and tags)."""
    return {
        "Name": f"Account_{account_id}_User_{user_name}_AccessKey",
        "Description": f"Access key of IAM user {user_name} in account {account_id}",
        "SecretString": json.dumps({"UserName": user_name, "AccessKeyId": "deleted-with-its-user"}),
        "Tags": [
            {"Key": "iam-key-rotation:account-id", "Value": account_id},
            {"Key": "iam-key-rotation:user-name", "Value": user_name},
        ],
    }


def _create_orphaned_secret(secrets, account_id: str, user_name: str) -> str:
    secret = orphaned_secret(account_id, user_name)
    secrets.create_secret(**secret)
    return secret["Name"]


def age_key_in_moto(now: datetime) -> Callable[[str, str, str, DemoKey], None]:
    """Set a key's CreateDate and LastUsedDate on moto's in-process backend."""
    from moto.iam.models import iam_backends

    def age(account_id: str, user_name: str, key_id: str, key: DemoKey) -> None:
        user = iam_backends[account_id]["global"].users[user_name]
        access_key = next(k for k in user.access_keys if k.access_key_id == key_id)
        set_key_age(access_key, key, now)

    return age


def set_key_age(access_key, key: DemoKey, now: datetime, region: str = REGION) -> None:
    """Set a moto access key's CreateDate and LastUsedDate, as ``key`` says."""
    from moto.iam.models import AccessKeyLastUsed

    # moto keeps naive UTC datetimes.
    naive_now = now.replace(tzinfo=None)
    access_key.create_date = naive_now - timedelta(days=key.age_days)
    if key.last_used_days_ago is not None:
        access_key.last_used = AccessKeyLastUsed(
            naive_now - timedelta(days=key.last_used_days_ago), "iam", region
        )


def boto3_clients(endpoint_url: str | None, region: str = REGION) -> ClientFactory:
    """Clients with the base (management account) credentials."""
    session = boto3.session.Session(region_name=region)

    def client(service: str):
        return session.client(service, endpoint_url=endpoint_url)

    return client


def assume_into(endpoint_url: str | None, region: str = REGION) -> Callable[[str], ClientFactory]:
    """Client factories acting in a member account, through STS like the pipeline."""

    def assume(account_id: str) -> ClientFactory:
        sts = boto3.client("sts", endpoint_url=endpoint_url, region_name=region)
        credentials = sts.assume_role(
            RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole",
            RoleSessionName="demo-seed",
        )["Credentials"]
        session = boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=region,
        )

        def client(service: str):
            return session.client(service, endpoint_url=endpoint_url)

        return client

    return assume


def verify_sender(client: ClientFactory, sender: str = SENDER_EMAIL) -> None:
    client("ses").verify_email_identity(EmailAddress=sender)
