"""The replicas of a secret in other regions: their encryption, health and repair.

A replica is encrypted in its own region; a replica that failed holds no current key,
and Secrets Manager cannot retry it: the region is removed from the replication and added
again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from botocore.client import BaseClient

from keyrotation.aws.secret_records import (
    REPLICA_FAILED,
    REPLICA_REPAIRED_TAG,
    OwnSecret,
    ReplicaHealth,
    in_region,
)

__all__ = [
    "complete_replication",
    "failed_regions",
    "forget_replica_repairs",
    "is_multi_region_key",
    "repair_replicas",
    "replica",
    "replica_health",
]

logger = logging.getLogger(__name__)


def replica(region: str, kms_key_id: str) -> dict[str, str]:
    """A replica region as ReplicateSecretToRegions (and CreateSecret) take it."""
    spec = {"Region": region}
    # A replica is encrypted in its own region: only a multi-Region key follows it.
    if is_multi_region_key(kms_key_id):
        spec["KmsKeyId"] = (
            in_region(kms_key_id, region) if kms_key_id.startswith("arn:") else kms_key_id
        )
    elif kms_key_id:
        logger.warning(
            "Replica of the secrets in %s uses the region's default key: %s is not a "
            "multi-Region key, so cross-account readers cannot decrypt the replica",
            region,
            kms_key_id,
        )
    return spec


def is_multi_region_key(key: str) -> bool:
    return "mrk-" in key


def failed_regions(statuses: Sequence[Mapping[str, Any]], configured: Sequence[str]) -> list[str]:
    """The ``configured`` regions whose replica failed, in DescribeSecret's statuses."""
    return [
        r["Region"]
        for r in statuses
        if r.get("Status") == REPLICA_FAILED and r["Region"] in configured
    ]


def complete_replication(
    client: BaseClient,
    arn: str,
    statuses: Sequence[Mapping[str, Any]],
    *,
    configured: Sequence[str],
    kms_key_id: str,
) -> set[str]:
    """Replicate an existing secret to every ``configured`` region it lacks, failed replicas
    replaced. ``statuses``: its ReplicationStatus. Returns the regions it is replicated to."""
    # A Failed replica holds no current key: it is as good as missing.
    failed = failed_regions(statuses, configured)
    if failed:
        client.remove_regions_from_replication(SecretId=arn, RemoveReplicaRegions=failed)
    replicated = {r["Region"] for r in statuses if r["Region"] not in failed}
    missing = [r for r in configured if r not in replicated]
    if missing:
        client.replicate_secret_to_regions(
            SecretId=arn,
            AddReplicaRegions=[replica(region, kms_key_id) for region in missing],
            ForceOverwriteReplicaSecret=False,
        )
        replicated.update(missing)
    return replicated


def replica_health(
    client: BaseClient, secret: OwnSecret, configured: Sequence[str]
) -> ReplicaHealth:
    """Which ``configured`` replica regions of the secret failed. Reads only."""
    described = client.describe_secret(SecretId=secret.arn)
    statuses = described.get("ReplicationStatus", [])
    tags = {tag["Key"]: tag["Value"] for tag in described.get("Tags", [])}
    return ReplicaHealth(
        failed=tuple(failed_regions(statuses, configured)),
        messages={
            r["Region"]: r.get("StatusMessage", "")
            for r in statuses
            if r.get("Status") == REPLICA_FAILED
        },
        repaired_before=tuple(tags.get(REPLICA_REPAIRED_TAG, "").split()),
    )


def repair_replicas(
    client: BaseClient, secret: OwnSecret, regions: Sequence[str], *, kms_key_id: str
) -> dict[str, tuple[str, str]]:
    """Replicate the secret anew to ``regions``, whose replicas failed.

    The regions are recorded on the secret, so that the next run knows a region that fails
    again keeps failing. Returns each region's status (InSync, InProgress or Failed) and
    message as Secrets Manager answers.
    """
    client.tag_resource(
        SecretId=secret.arn, Tags=[{"Key": REPLICA_REPAIRED_TAG, "Value": " ".join(regions)}]
    )
    client.remove_regions_from_replication(SecretId=secret.arn, RemoveReplicaRegions=list(regions))
    answer = client.replicate_secret_to_regions(
        SecretId=secret.arn,
        AddReplicaRegions=[replica(region, kms_key_id) for region in regions],
        ForceOverwriteReplicaSecret=False,
    )
    return {
        r["Region"]: (r.get("Status", ""), r.get("StatusMessage", ""))
        for r in answer.get("ReplicationStatus", [])
        if r["Region"] in regions
    }


def forget_replica_repairs(client: BaseClient, secret: OwnSecret) -> None:
    """The repaired replicas are healthy again: drop the record of their repair."""
    client.untag_resource(SecretId=secret.arn, TagKeys=[REPLICA_REPAIRED_TAG])
