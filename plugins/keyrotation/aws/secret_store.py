"""Where new access keys are delivered: one Secrets Manager secret per IAM user.

The secret ``Account_<account id>_User_<user name>_AccessKey`` lives in the member account,
or in the central secrets account when one is configured; its resource policy lets only
the user read it. The store never reads a secret value back: which key a secret holds is
written into the id of the version that holds it.

``SecretStore`` is the one object the rotation uses. What the secrets are called, what is
known about them and how they are found is in ``secret_records``; who may read them in
``secret_access``; their replicas in ``secret_replicas``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from keyrotation.aws.errors import error_code
from keyrotation.aws.secret_access import resource_policy, user_policy
from keyrotation.aws.secret_records import (
    ACCOUNT_ID_TAG,
    PENDING_REPLACES_TAG,
    PENDING_SINCE_TAG,
    REPLICA_REPAIRED_TAG,
    USER_NAME_TAG,
    USER_POLICY_NAME,
    OwnSecret,
    PendingRotation,
    ReplicaHealth,
    SecretLocation,
    SecretStoreError,
    list_own_secrets,
    list_pending_rotations,
    secret_name,
)
from keyrotation.aws.secret_replicas import (
    complete_replication,
    forget_replica_repairs,
    repair_replicas,
    replica,
    replica_health,
)
from keyrotation.utc import as_utc

__all__ = [
    "ACCOUNT_ID_TAG",
    "PENDING_REPLACES_TAG",
    "PENDING_SINCE_TAG",
    "REPLICA_REPAIRED_TAG",
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

_ACCESS_KEY_ID = re.compile(r"^[A-Z0-9]{16,40}$")


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
            replicated = complete_replication(
                self._client,
                arn,
                described.get("ReplicationStatus", []),
                configured=self._replication_regions,
                kms_key_id=self._kms_key_id,
            )
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
        return resource_policy(user_arn)

    def user_policy(self, location: SecretLocation) -> dict[str, Any]:
        """The user's inline policy: read the secret's real ARNs (with the random suffix)
        and, with a customer managed key, decrypt through Secrets Manager."""
        return user_policy(
            location,
            kms_key_id=self._kms_key_id,
            partition=self._partition,
            holder_account_id=self.holder_account_id,
        )

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
        return list_pending_rotations(self._client, account_id=self.account_id, region=self.region)

    def own_secrets(self) -> list[OwnSecret]:
        """The secrets this pipeline created for this account's users, in this region
        (those scheduled for deletion excepted); see ``list_own_secrets``."""
        return list_own_secrets(self._client, account_id=self.account_id, region=self.region)

    def failed_replicas(self, secret: OwnSecret) -> ReplicaHealth:
        """Which configured replica regions of the secret failed. Reads only."""
        return replica_health(self._client, secret, self._replication_regions)

    def repair_replicas(
        self, secret: OwnSecret, regions: Sequence[str]
    ) -> dict[str, tuple[str, str]]:
        """Replicate the secret anew to ``regions``, whose replicas failed (removed from the
        replication and added again, recorded on the secret). Returns each region's status
        and message as Secrets Manager answers; see ``secret_replicas.repair_replicas``."""
        return repair_replicas(self._client, secret, regions, kms_key_id=self._kms_key_id)

    def forget_replica_repairs(self, secret: OwnSecret) -> None:
        """The repaired replicas are healthy again."""
        forget_replica_repairs(self._client, secret)

    def schedule_deletion(self, secret: OwnSecret) -> datetime | None:
        """Delete the secret after Secrets Manager's recovery window (restorable until then).

        Returns when the secret will be deleted, as Secrets Manager says.
        """
        answer = self._client.delete_secret(SecretId=secret.arn)
        deletion = answer.get("DeletionDate")
        return as_utc(deletion) if isinstance(deletion, datetime) else None

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
            params["AddReplicaRegions"] = [
                replica(region, self._kms_key_id) for region in self._replication_regions
            ]
        try:
            return self._client.create_secret(**params)["ARN"]
        except ClientError as error:
            if error_code(error) != "ResourceExistsException":
                raise
            # Another run created it between our describe and create.
            return self._client.describe_secret(SecretId=name)["ARN"]
