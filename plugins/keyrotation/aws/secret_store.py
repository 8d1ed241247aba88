"""Where new access keys are delivered: one Secrets Manager secret per IAM user.

The secret ``Account_<account id>_User_<user name>_AccessKey`` lives in the member account,
or in the central secrets account when one is configured; its resource policy lets only
the user read it. The store never reads a secret value back: which key a secret holds is
written into the id of the version that holds it.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from keyrotation.aws.sessions import error_code

__all__ = [
    "ACCOUNT_ID_TAG",
    "PENDING_REPLACES_TAG",
    "PENDING_SINCE_TAG",
    "USER_NAME_TAG",
    "USER_POLICY_NAME",
    "OwnSecret",
    "PendingRotation",
    "ReplicaHealth",
    "SecretLocation",
    "SecretStore",
    "SecretStoreError",
    "secret_name",
]

logger = logging.getLogger(__name__)

USER_POLICY_NAME = "SecretsAccessPolicy"
TAG_PREFIX = "iam-key-rotation:"
#: Set on the secret just before CreateAccessKey and removed once the key is stored: a
#: crash in between leaves them behind as the record of an interrupted rotation.
PENDING_REPLACES_TAG = f"{TAG_PREFIX}pending-rotation-of"
PENDING_SINCE_TAG = f"{TAG_PREFIX}pending-since"
#: The replica regions the last run re-replicated after a failure (space separated).
REPLICA_REPAIRED_TAG = f"{TAG_PREFIX}replica-repaired"
REPLICA_FAILED = "Failed"
#: Set when the pipeline creates a secret: they mark the secrets that are its own.
ACCOUNT_ID_TAG = f"{TAG_PREFIX}account-id"
USER_NAME_TAG = f"{TAG_PREFIX}user-name"
_READ_ACTIONS = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
_ACCESS_KEY_ID = re.compile(r"^[A-Z0-9]{16,40}$")


class SecretStoreError(RuntimeError):
    """A secret is in a state this pipeline must not overwrite; the message says why."""


def secret_name(account_id: str, user_name: str) -> str:
    return f"Account_{account_id}_User_{user_name}_AccessKey"


@dataclass(frozen=True)
class SecretLocation:
    name: str
    arn: str
    region: str
    replica_regions: tuple[str, ...] = ()

    @property
    def arns(self) -> list[str]:
        """The secret's ARN in its own region and in every replica region."""
        return [self.arn] + [_in_region(self.arn, region) for region in self.replica_regions]


@dataclass(frozen=True)
class OwnSecret:
    """A secret the pipeline created for a user of the account."""

    user_name: str
    name: str
    arn: str


@dataclass(frozen=True)
class ReplicaHealth:
    """The configured replica regions of a secret that failed, and their messages."""

    failed: tuple[str, ...]
    messages: Mapping[str, str]
    repaired_before: tuple[str, ...]  # the regions the previous run re-replicated


@dataclass(frozen=True)
class PendingRotation:
    """The record of a rotation that started and did not finish."""

    user_name: str
    secret: SecretLocation
    replaces: str
    since: datetime


class SecretStore:
    """The secrets of one member account's users, in the account that holds them."""

    def __init__(
        self,
        client: BaseClient,
        *,
        account_id: str,
        holder_account_id: str = "",
        partition: str = "aws",
        kms_key_id: str = "",
        replication_regions: Sequence[str] = (),
    ) -> None:
        """``client``: Secrets Manager in ``holder_account_id``, the account holding the
        secrets (default: ``account_id``, the member account whose users own them)."""
        self._client = client
        self.account_id = account_id
        self.holder_account_id = holder_account_id or account_id
        self.region: str = client.meta.region_name
        self._partition = partition
        self._kms_key_id = kms_key_id
        self._replication_regions = tuple(r for r in replication_regions if r != self.region)

    def secret_name(self, user_name: str) -> str:
        return secret_name(self.account_id, user_name)

    @property
    def replication_regions(self) -> tuple[str, ...]:
        """The regions every secret is replicated to (the store's own excluded)."""
        return self._replication_regions

    def prepare(self, user_name: str, user_arn: str) -> SecretLocation:
        """Make sure the user's secret exists, is replicated and readable by the user only.

        Everything that can fail here fails before a new key exists.
        """
        name = self.secret_name(user_name)
        described = self._describe(name)
        if described is None:
            arn = self._create(name, user_name)
            replicated = set(self._replication_regions)
        else:
            arn = described["ARN"]
            if described.get("DeletedDate"):
                raise SecretStoreError(
                    f"secret {name} is scheduled for deletion: restore it (RestoreSecret) or "
                    f"delete it for good before the key of {user_name} can be stored"
                )
            statuses = described.get("ReplicationStatus", [])
            # A Failed replica holds no current key: it is as good as missing.
            failed = _failed_regions(statuses, self._replication_regions)
            if failed:
                self._client.remove_regions_from_replication(
                    SecretId=arn, RemoveReplicaRegions=failed
                )
            replicated = {r["Region"] for r in statuses if r["Region"] not in failed}
            missing = [r for r in self._replication_regions if r not in replicated]
            if missing:
                self._client.replicate_secret_to_regions(
                    SecretId=arn,
                    AddReplicaRegions=[self._replica(region) for region in missing],
                    ForceOverwriteReplicaSecret=False,
                )
                replicated.update(missing)
        self._client.put_resource_policy(
            SecretId=arn,
            ResourcePolicy=json.dumps(self.resource_policy(user_arn)),
            BlockPublicPolicy=True,
        )
        return SecretLocation(
            name=name, arn=arn, region=self.region, replica_regions=tuple(sorted(replicated))
        )

    def resource_policy(self, user_arn: str) -> dict[str, Any]:
        """Only the user may read the secret (from its own account, or cross-account)."""
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "OwnerReadsAccessKey",
                    "Effect": "Allow",
                    "Principal": {"AWS": user_arn},
                    "Action": _READ_ACTIONS,
                    "Resource": "*",
                }
            ],
        }

    def user_policy(self, location: SecretLocation) -> dict[str, Any]:
        """The user's inline policy: read the secret's real ARNs (with the random suffix)
        and, with a customer managed key, decrypt through Secrets Manager."""
        statements: list[dict[str, Any]] = [
            {
                "Sid": "ReadOwnAccessKeySecret",
                "Effect": "Allow",
                "Action": _READ_ACTIONS,
                "Resource": location.arns,
            }
        ]
        if self._kms_key_id:
            statements.append(self._decrypt_statement())
        return {"Version": "2012-10-17", "Statement": statements}

    def mark_pending(self, location: SecretLocation, *, replaces: str, since: datetime) -> None:
        self._client.tag_resource(
            SecretId=location.arn,
            Tags=[
                {"Key": PENDING_REPLACES_TAG, "Value": replaces},
                {"Key": PENDING_SINCE_TAG, "Value": since.isoformat(timespec="seconds")},
            ],
        )

    def clear_pending(self, location: SecretLocation) -> None:
        self._client.untag_resource(
            SecretId=location.arn, TagKeys=[PENDING_REPLACES_TAG, PENDING_SINCE_TAG]
        )

    def store_key(self, location: SecretLocation, access_key: Mapping[str, Any]) -> None:
        """Put a new version holding the key, as the secret's current version.

        ``access_key`` is IAM's CreateAccessKey answer. The version id starts with the
        access key id, so the stored key can be known without reading the secret.
        """
        value = json.dumps(
            {
                "AccessKeyId": access_key["AccessKeyId"],
                "SecretAccessKey": access_key["SecretAccessKey"],
                "UserName": access_key["UserName"],
                "CreateDate": access_key["CreateDate"].isoformat(),
            }
        )
        self._client.put_secret_value(
            SecretId=location.arn,
            SecretString=value,
            ClientRequestToken=f"{access_key['AccessKeyId']}-{uuid.uuid4().hex}",
        )

    def stored_access_key_id(self, location: SecretLocation) -> str | None:
        """The id of the key in the secret's current version; None when it holds none.

        Raises SecretStoreError when the current version was not written by this store.
        """
        described = self._client.describe_secret(SecretId=location.arn)
        for version_id, stages in described.get("VersionIdsToStages", {}).items():
            if "AWSCURRENT" in stages:
                key_id = version_id.split("-", 1)[0]
                if not _ACCESS_KEY_ID.match(key_id):
                    raise SecretStoreError(
                        f"the current version {version_id} of secret {location.name} was not "
                        f"written by this pipeline, so the key it holds is unknown"
                    )
                return key_id
        return None

    def pending_rotations(self) -> list[PendingRotation]:
        """Every secret of this account's users that records an unfinished rotation."""
        pending = []
        for entry in self._list_secrets(
            Filters=[
                {"Key": "name", "Values": [f"Account_{self.account_id}_User_"]},
                {"Key": "tag-key", "Values": [PENDING_REPLACES_TAG]},
            ]
        ):
            if entry.get("PrimaryRegion", self.region) != self.region:
                continue
            user_name = _user_of(entry["Name"], self.account_id)
            tags = {tag["Key"]: tag["Value"] for tag in entry.get("Tags", [])}
            if user_name is None or PENDING_REPLACES_TAG not in tags:
                continue
            try:
                since = datetime.fromisoformat(tags.get(PENDING_SINCE_TAG, ""))
                if since.tzinfo is None:
                    since = since.replace(tzinfo=UTC)
            except ValueError:
                logger.warning(
                    "Secret %s has an unreadable %s tag", entry["Name"], PENDING_SINCE_TAG
                )
                continue
            location = SecretLocation(name=entry["Name"], arn=entry["ARN"], region=self.region)
            pending.append(
                PendingRotation(
                    user_name=user_name,
                    secret=location,
                    replaces=tags[PENDING_REPLACES_TAG],
                    since=since,
                )
            )
        return pending

    def own_secrets(self) -> list[OwnSecret]:
        """The secrets this pipeline created for this account's users, in this region.

        A secret counts only when both its name (``Account_<id>_User_<name>_AccessKey``)
        and the tags ``_create`` set on it (account id and user name) say so: a secret
        someone else created under a look-alike name is never the pipeline's to touch.
        Secrets already scheduled for deletion are not listed.
        """
        owned = []
        for entry in self._list_secrets(
            Filters=[
                {"Key": "name", "Values": [f"Account_{self.account_id}_User_"]},
                {"Key": "tag-key", "Values": [USER_NAME_TAG]},
            ]
        ):
            if entry.get("PrimaryRegion", self.region) != self.region or entry.get("DeletedDate"):
                continue
            user_name = _user_of(entry["Name"], self.account_id)
            tags = {tag["Key"]: tag["Value"] for tag in entry.get("Tags", [])}
            if (
                user_name is None
                or tags.get(USER_NAME_TAG) != user_name
                or tags.get(ACCOUNT_ID_TAG) != self.account_id
            ):
                continue
            owned.append(OwnSecret(user_name=user_name, name=entry["Name"], arn=entry["ARN"]))
        return owned

    def failed_replicas(self, secret: OwnSecret) -> ReplicaHealth:
        """Which configured replica regions of the secret failed. Reads only."""
        described = self._client.describe_secret(SecretId=secret.arn)
        statuses = described.get("ReplicationStatus", [])
        tags = {tag["Key"]: tag["Value"] for tag in described.get("Tags", [])}
        return ReplicaHealth(
            failed=tuple(_failed_regions(statuses, self._replication_regions)),
            messages={
                r["Region"]: r.get("StatusMessage", "")
                for r in statuses
                if r.get("Status") == REPLICA_FAILED
            },
            repaired_before=tuple(tags.get(REPLICA_REPAIRED_TAG, "").split()),
        )

    def repair_replicas(
        self, secret: OwnSecret, regions: Sequence[str]
    ) -> dict[str, tuple[str, str]]:
        """Replicate the secret anew to ``regions``, whose replicas failed.

        Secrets Manager cannot retry a failed replica: the region is removed from the
        replication and added again. The regions are recorded on the secret, so that the
        next run knows a region that fails again keeps failing. Returns each region's
        status (InSync, InProgress or Failed) and message as Secrets Manager answers.
        """
        self._client.tag_resource(
            SecretId=secret.arn, Tags=[{"Key": REPLICA_REPAIRED_TAG, "Value": " ".join(regions)}]
        )
        self._client.remove_regions_from_replication(
            SecretId=secret.arn, RemoveReplicaRegions=list(regions)
        )
        answer = self._client.replicate_secret_to_regions(
            SecretId=secret.arn,
            AddReplicaRegions=[self._replica(region) for region in regions],
            ForceOverwriteReplicaSecret=False,
        )
        return {
            r["Region"]: (r.get("Status", ""), r.get("StatusMessage", ""))
            for r in answer.get("ReplicationStatus", [])
            if r["Region"] in regions
        }

    def forget_replica_repairs(self, secret: OwnSecret) -> None:
        """The repaired replicas are healthy again."""
        self._client.untag_resource(SecretId=secret.arn, TagKeys=[REPLICA_REPAIRED_TAG])

    def schedule_deletion(self, secret: OwnSecret) -> datetime | None:
        """Delete the secret after Secrets Manager's recovery window (restorable until then).

        Returns when the secret will be deleted, as Secrets Manager says.
        """
        answer = self._client.delete_secret(SecretId=secret.arn)
        deletion = answer.get("DeletionDate")
        return deletion.astimezone(UTC) if isinstance(deletion, datetime) else None

    def _describe(self, name: str) -> dict[str, Any] | None:
        try:
            return self._client.describe_secret(SecretId=name)
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return None
            raise

    def _create(self, name: str, user_name: str) -> str:
        """A secret without a value: it exists before the key, to record the intent."""
        params: dict[str, Any] = {
            "Name": name,
            "Description": (
                f"Access key of IAM user {user_name} in account {self.account_id}, "
                f"rotated by the IAM access key rotation pipeline"
            ),
            "Tags": [
                {"Key": ACCOUNT_ID_TAG, "Value": self.account_id},
                {"Key": USER_NAME_TAG, "Value": user_name},
            ],
        }
        if self._kms_key_id:
            params["KmsKeyId"] = self._kms_key_id
        if self._replication_regions:
            params["AddReplicaRegions"] = [self._replica(r) for r in self._replication_regions]
        try:
            return self._client.create_secret(**params)["ARN"]
        except ClientError as error:
            if error_code(error) != "ResourceExistsException":
                raise
            # Another run created it between our describe and create.
            return self._client.describe_secret(SecretId=name)["ARN"]

    def _replica(self, region: str) -> dict[str, str]:
        replica = {"Region": region}
        # A replica is encrypted in its own region: only a multi-Region key follows it.
        if _is_multi_region_key(self._kms_key_id):
            replica["KmsKeyId"] = (
                _in_region(self._kms_key_id, region)
                if self._kms_key_id.startswith("arn:")
                else self._kms_key_id
            )
        elif self._kms_key_id:
            logger.warning(
                "Replica of the secrets in %s uses the region's default key: %s is not a "
                "multi-Region key, so cross-account readers cannot decrypt the replica",
                region,
                self._kms_key_id,
            )
        return replica

    def _decrypt_statement(self) -> dict[str, Any]:
        key = self._kms_key_id
        via_secrets_manager = {"StringLike": {"kms:ViaService": "secretsmanager.*"}}
        owner = self._key_account()
        if key.startswith("alias/") or ":alias/" in key:
            alias = key[key.index("alias/") :]
            return {
                "Sid": "DecryptOwnAccessKeySecret",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": f"arn:{self._partition}:kms:*:{owner}:key/*",
                "Condition": {
                    **via_secrets_manager,
                    "ForAnyValue:StringEquals": {"kms:ResourceAliases": alias},
                },
            }
        if key.startswith("arn:") and not _is_multi_region_key(key):
            resource = key
        else:
            key_id = key.rsplit("/", 1)[-1]
            resource = f"arn:{self._partition}:kms:*:{owner}:key/{key_id}"
        return {
            "Sid": "DecryptOwnAccessKeySecret",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": resource,
            "Condition": via_secrets_manager,
        }

    def _key_account(self) -> str:
        if self._kms_key_id.startswith("arn:"):
            return self._kms_key_id.split(":")[4]
        # A key id or alias names a key in the account that holds the secrets.
        return self.holder_account_id

    def _list_secrets(self, **params: Any) -> Iterator[dict[str, Any]]:
        for page in self._client.get_paginator("list_secrets").paginate(**params):
            yield from page.get("SecretList", [])


def _failed_regions(statuses: Sequence[Mapping[str, Any]], configured: Sequence[str]) -> list[str]:
    return [
        r["Region"]
        for r in statuses
        if r.get("Status") == REPLICA_FAILED and r["Region"] in configured
    ]


def _user_of(name: str, account_id: str) -> str | None:
    prefix, suffix = f"Account_{account_id}_User_", "_AccessKey"
    if name.startswith(prefix) and name.endswith(suffix) and len(name) > len(prefix + suffix):
        return name[len(prefix) : -len(suffix)]
    return None


def _is_multi_region_key(key: str) -> bool:
    return "mrk-" in key


def _in_region(arn: str, region: str) -> str:
    parts = arn.split(":")
    parts[3] = region
    return ":".join(parts)
