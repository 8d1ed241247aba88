from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest

from keyrotation.aws.secret_store import (
    PENDING_REPLACES_TAG,
    PENDING_SINCE_TAG,
    SecretLocation,
    SecretStore,
    SecretStoreError,
    secret_name,
)

MEMBER = "111111111111"
VAULT = "222222222222"
USER_ARN = f"arn:aws:iam::{MEMBER}:user/team/alice"


@pytest.fixture
def client(moto):
    return boto3.client("secretsmanager", region_name="eu-west-1")


def store(client, **kwargs) -> SecretStore:
    return SecretStore(client, account_id=MEMBER, **kwargs)


def test_secret_name_follows_the_reference_convention():
    assert secret_name(MEMBER, "alice") == f"Account_{MEMBER}_User_alice_AccessKey"


def test_prepare_creates_the_secret_without_a_value_and_lets_only_the_user_read(client):
    location = store(client).prepare("alice", USER_ARN)

    described = client.describe_secret(SecretId=location.name)
    assert location.arn == described["ARN"]
    assert location.region == "eu-west-1"
    assert "VersionIdsToStages" not in described
    assert store(client).stored_access_key_id(location) is None
    policy = store(client).resource_policy(USER_ARN)
    assert policy["Statement"] == [
        {
            "Sid": "OwnerReadsAccessKey",
            "Effect": "Allow",
            "Principal": {"AWS": USER_ARN},
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": "*",
        }
    ]


def test_the_stored_key_is_known_from_the_version_id(client):
    secrets = store(client)
    location = secrets.prepare("alice", USER_ARN)
    created = datetime(2024, 1, 1, tzinfo=UTC)

    secrets.store_key(
        location,
        {
            "AccessKeyId": "AKIAEXAMPLE000000001",
            "SecretAccessKey": "not-a-real-secret",
            "UserName": "alice",
            "CreateDate": created,
        },
    )

    assert secrets.stored_access_key_id(location) == "AKIAEXAMPLE000000001"
    client.put_secret_value(SecretId=location.arn, SecretString="{}")
    with pytest.raises(SecretStoreError, match="not written by this pipeline"):
        secrets.stored_access_key_id(location)


def test_pending_rotations_of_this_account_only(client):
    secrets = store(client)
    mine = secrets.prepare("alice", USER_ARN)
    secrets.mark_pending(
        mine, replaces="AKIAEXAMPLE000000001", since=datetime(2024, 1, 1, tzinfo=UTC)
    )
    secrets.prepare("bob", f"arn:aws:iam::{MEMBER}:user/bob")
    other = SecretStore(client, account_id="333333333333")
    theirs = other.prepare("alice", "arn:aws:iam::333333333333:user/alice")
    other.mark_pending(theirs, replaces="AKIAEXAMPLE000000009", since=datetime.now(UTC))

    (pending,) = secrets.pending_rotations()

    assert pending.user_name == "alice"
    assert pending.secret.arn == mine.arn
    assert pending.replaces == "AKIAEXAMPLE000000001"
    assert pending.since == datetime(2024, 1, 1, tzinfo=UTC)
    secrets.clear_pending(mine)
    assert secrets.pending_rotations() == []
    tags = client.describe_secret(SecretId=mine.arn).get("Tags", [])
    assert not {t["Key"] for t in tags} & {PENDING_REPLACES_TAG, PENDING_SINCE_TAG}


def test_user_policy_reads_the_secret_and_its_replicas():
    location = SecretLocation(
        name="s",
        arn=f"arn:aws:secretsmanager:eu-west-1:{MEMBER}:secret:s-AbCdEf",
        region="eu-west-1",
        replica_regions=("us-east-2",),
    )
    secrets = SecretStore(_FakeClient("eu-west-1"), account_id=MEMBER)

    (read,) = secrets.user_policy(location)["Statement"]

    assert read["Resource"] == [
        f"arn:aws:secretsmanager:eu-west-1:{MEMBER}:secret:s-AbCdEf",
        f"arn:aws:secretsmanager:us-east-2:{MEMBER}:secret:s-AbCdEf",
    ]


@pytest.mark.parametrize(
    ("kms_key_id", "resource", "alias"),
    [
        (
            f"arn:aws:kms:eu-west-1:{VAULT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            f"arn:aws:kms:eu-west-1:{VAULT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            None,
        ),
        (
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            f"arn:aws:kms:*:{VAULT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            None,
        ),
        (
            f"arn:aws:kms:eu-west-1:{VAULT}:key/mrk-1234abcd",
            f"arn:aws:kms:*:{VAULT}:key/mrk-1234abcd",
            None,
        ),
        (
            "alias/iam-key-rotation-secrets",
            f"arn:aws:kms:*:{VAULT}:key/*",
            "alias/iam-key-rotation-secrets",
        ),
    ],
)
def test_central_mode_grants_decrypt_through_secrets_manager_only(kms_key_id, resource, alias):
    secrets = SecretStore(
        _FakeClient("eu-west-1"), account_id=MEMBER, holder_account_id=VAULT, kms_key_id=kms_key_id
    )
    location = SecretLocation(
        name="s", arn=f"arn:aws:secretsmanager:eu-west-1:{VAULT}:secret:s-x", region="eu-west-1"
    )

    _, decrypt = secrets.user_policy(location)["Statement"]

    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Resource"] == resource
    assert decrypt["Condition"]["StringLike"] == {"kms:ViaService": "secretsmanager.*"}
    if alias:
        assert decrypt["Condition"]["ForAnyValue:StringEquals"] == {"kms:ResourceAliases": alias}


def test_a_secret_scheduled_for_deletion_is_not_overwritten(client):
    name = secret_name(MEMBER, "alice")
    client.create_secret(Name=name)
    client.delete_secret(SecretId=name, RecoveryWindowInDays=7)

    with pytest.raises(SecretStoreError, match="scheduled for deletion"):
        store(client).prepare("alice", USER_ARN)


class _FakeClient:
    """Enough of a client for the policy builders, which make no call."""

    def __init__(self, region: str) -> None:
        self.meta = type("Meta", (), {"region_name": region})()
