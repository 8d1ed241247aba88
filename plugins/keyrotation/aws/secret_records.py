"""What identifies the pipeline's secrets, what is known about them, and finding them.

A user's secret is named ``Account_<account id>_User_<user name>_AccessKey`` and tagged
with both when the pipeline creates it; tags also record an unfinished rotation and the
replicas the last run repaired. The listings read an account's secrets by those names and
tags, keeping only those whose primary region is the store's own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.client import BaseClient

from keyrotation.aws.pagination import paginate
from keyrotation.utc import as_utc

__all__ = [
    "ACCOUNT_ID_TAG",
    "PENDING_REPLACES_TAG",
    "PENDING_SINCE_TAG",
    "REPLICA_FAILED",
    "REPLICA_REPAIRED_TAG",
    "TAG_PREFIX",
    "USER_NAME_TAG",
    "USER_POLICY_NAME",
    "OwnSecret",
    "PendingRotation",
    "ReplicaHealth",
    "SecretLocation",
    "SecretStoreError",
    "in_region",
    "list_own_secrets",
    "list_pending_rotations",
    "secret_name",
    "secret_name_prefix",
    "user_of_secret",
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

_NAME_SUFFIX = "_AccessKey"


class SecretStoreError(RuntimeError):
    """A secret is in a state this pipeline must not overwrite; the message says why."""


def secret_name(account_id: str, user_name: str) -> str:
    return f"{secret_name_prefix(account_id)}{user_name}{_NAME_SUFFIX}"


def secret_name_prefix(account_id: str) -> str:
    """What the names of the secrets of an account's users start with."""
    return f"Account_{account_id}_User_"


def user_of_secret(name: str, account_id: str) -> str | None:
    """The user a secret of the account is named after; None for any other name."""
    prefix, suffix = secret_name_prefix(account_id), _NAME_SUFFIX
    if name.startswith(prefix) and name.endswith(suffix) and len(name) > len(prefix + suffix):
        return name[len(prefix) : -len(suffix)]
    return None


def in_region(arn: str, region: str) -> str:
    """The same ARN in another region (a replica's, or a multi-Region key's)."""
    parts = arn.split(":")
    parts[3] = region
    return ":".join(parts)


@dataclass(frozen=True)
class SecretLocation:
    name: str
    arn: str
    region: str
    replica_regions: tuple[str, ...] = ()

    @property
    def arns(self) -> list[str]:
        """The secret's ARN in its own region and in every replica region."""
        return [self.arn] + [in_region(self.arn, region) for region in self.replica_regions]


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


def list_pending_rotations(
    client: BaseClient, *, account_id: str, region: str
) -> list[PendingRotation]:
    """Every secret of the account's users that records an unfinished rotation."""
    pending = []
    for entry in _tagged(client, account_id, PENDING_REPLACES_TAG):
        if entry.get("PrimaryRegion", region) != region:
            continue
        user_name = user_of_secret(entry["Name"], account_id)
        tags = {tag["Key"]: tag["Value"] for tag in entry.get("Tags", [])}
        if user_name is None or PENDING_REPLACES_TAG not in tags:
            continue
        try:
            since = as_utc(datetime.fromisoformat(tags.get(PENDING_SINCE_TAG, "")))
        except ValueError:
            logger.warning("Secret %s has an unreadable %s tag", entry["Name"], PENDING_SINCE_TAG)
            continue
        location = SecretLocation(name=entry["Name"], arn=entry["ARN"], region=region)
        pending.append(
            PendingRotation(
                user_name=user_name,
                secret=location,
                replaces=tags[PENDING_REPLACES_TAG],
                since=since,
            )
        )
    return pending


def list_own_secrets(client: BaseClient, *, account_id: str, region: str) -> list[OwnSecret]:
    """The secrets the pipeline created for the account's users, in ``region``.

    A secret counts only when both its name (``Account_<id>_User_<name>_AccessKey``)
    and the tags the pipeline set on it when it created it (account id and user name) say
    so: a secret someone else created under a look-alike name is never the pipeline's to
    touch. Secrets already scheduled for deletion are not listed.
    """
    owned = []
    for entry in _tagged(client, account_id, USER_NAME_TAG):
        if entry.get("PrimaryRegion", region) != region or entry.get("DeletedDate"):
            continue
        user_name = user_of_secret(entry["Name"], account_id)
        tags = {tag["Key"]: tag["Value"] for tag in entry.get("Tags", [])}
        if (
            user_name is None
            or tags.get(USER_NAME_TAG) != user_name
            or tags.get(ACCOUNT_ID_TAG) != account_id
        ):
            continue
        owned.append(OwnSecret(user_name=user_name, name=entry["Name"], arn=entry["ARN"]))
    return owned


def _tagged(client: BaseClient, account_id: str, tag_key: str) -> Iterator[dict[str, Any]]:
    """The secrets named for the account's users that carry the tag ``tag_key``."""
    return paginate(
        client,
        "list_secrets",
        "SecretList",
        Filters=[
            {"Key": "name", "Values": [secret_name_prefix(account_id)]},
            {"Key": "tag-key", "Values": [tag_key]},
        ],
    )
