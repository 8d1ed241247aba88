"""The demo organisation created straight on moto's in-process backends.

``organization.seed_organization`` goes through the AWS API: two or three HTTP requests
per user, which took 20 minutes for 1,000 accounts x 50 users on a moto server. In the
process that runs moto, the same state can be made on moto's backend objects in seconds:
the organisation, its OUs and accounts (tagged, moved, closed), the member role in the
management account and in each member account, the exemption group, users with their tags
and group, keys with their status, age and last use, and the secrets of deleted users.
Only the benchmarks seed this way; the demo and the tests keep the API path, which also
shows that the organisation can be built with the calls AWS offers.
"""

from __future__ import annotations

import json
from datetime import datetime

from deploy.demo.organization import (
    EXEMPTION_GROUP,
    MANAGEMENT_ACCOUNT_ID,
    MEMBER_ROLE_NAME,
    REGION,
    DemoAccount,
    DemoUser,
    SeededOrganization,
    member_role_trust_policy,
    orphaned_secret,
    place_account,
    set_key_age,
)

#: moto keeps global services (IAM, Organizations) per partition.
PARTITION = "aws"


def seed_organization_in_moto(
    accounts: tuple[DemoAccount, ...], *, now: datetime, region: str = REGION
) -> SeededOrganization:
    """What ``seed_organization`` with ``age_key_in_moto(now)`` creates, on the backends of
    the moto that runs in this process (``mock_aws`` or a ``ThreadedMotoServer``)."""
    from moto.iam.models import iam_backends
    from moto.organizations.models import organizations_backends
    from moto.secretsmanager.models import secretsmanager_backends

    org = organizations_backends[MANAGEMENT_ACCOUNT_ID][PARTITION]
    seeded = SeededOrganization()
    org.create_organization(region, FeatureSet="ALL")
    seeded.root_id = org.list_roots()["Roots"][0]["Id"]
    _deploy_member_role(iam_backends[MANAGEMENT_ACCOUNT_ID][PARTITION])
    for account in accounts:
        account_id = place_account(org, seeded, account)
        iam = iam_backends[account_id][PARTITION]
        if account.member_role:
            _deploy_member_role(iam)
        iam.create_group(EXEMPTION_GROUP)
        for user in account.users:
            seeded.keys[(account_id, user.name)] = _create_user(iam, user, region, now)
        for user_name in account.deleted_users_with_secrets:
            secret = orphaned_secret(account_id, user_name)
            secretsmanager_backends[account_id][region].create_secret(
                name=secret["Name"],
                secret_string=secret["SecretString"],
                secret_binary=None,
                description=secret["Description"],
                tags=secret["Tags"],
                kms_key_id=None,
                client_request_token=None,
                replica_regions=[],
                force_overwrite=False,
            )
            seeded.orphaned_secrets[account_id] = secret["Name"]
        if account.suspended:
            org.close_account(AccountId=account_id)
            seeded.suspended.add(account_id)
    return seeded


def _deploy_member_role(iam) -> None:
    # The arguments CreateRole passes to the backend when only the name and trust are given.
    iam.create_role(
        MEMBER_ROLE_NAME,
        json.dumps(member_role_trust_policy()),
        None,  # path: "/"
        None,  # permissions boundary
        None,  # description
        [],  # tags
        3600,  # max session duration
    )


def _create_user(iam, user: DemoUser, region: str, now: datetime) -> list[str]:
    tags = [{"Key": "owner", "Value": user.owner}] if user.owner else []
    tags += [{"Key": key, "Value": value} for key, value in user.tags]
    iam.create_user(region, user.name, None, tags)
    if user.exempt:
        iam.add_user_to_group(EXEMPTION_GROUP, user.name)
    key_ids = []
    for key in user.keys:
        access_key = iam.create_access_key(user.name)
        key_ids.append(access_key.access_key_id)
        if not key.active:
            access_key.status = "Inactive"
        set_key_age(access_key, key, now, region)
    return key_ids
