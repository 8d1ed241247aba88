"""Read one IAM user live: its access keys with their last use, and its tags.

Both scans read the users they plan this way; a user or key deleted while it is read is
left out, as if the scan had started after the deletion.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from keyrotation.aws.errors import describe_error, error_code
from keyrotation.aws.pagination import paginate
from keyrotation.aws.scan_results import ScanError, ScannedKey, ScannedUser
from keyrotation.utc import as_utc

__all__ = [
    "GONE",
    "PAGE_SIZE",
    "key_last_used",
    "read_owner",
    "read_user",
    "scan_error",
    "user_tags",
]

logger = logging.getLogger(__name__)

#: The largest page IAM list calls return.
PAGE_SIZE = 1000
#: IAM's answer for a user or key that does not exist (any more).
GONE = "NoSuchEntity"


def read_user(
    iam: BaseClient,
    user: Mapping[str, Any],
    tags: Mapping[str, str] | None = None,
    *,
    read_tags: bool = False,
) -> ScannedUser | None:
    """One user's keys, live. ``tags``: the user's tags as the triaged scan read them;
    else, with ``read_tags``, they are read here (ListUserTags)."""
    name = user["UserName"]
    try:
        listed = list(paginate(iam, "list_access_keys", "AccessKeyMetadata", UserName=name))
    except ClientError as error:
        if error_code(error) == GONE:
            logger.info("%s: deleted during the scan", name)
            return None
        raise
    keys = []
    for key in listed:
        try:
            last_used = key_last_used(iam, key["AccessKeyId"])
        except ClientError as error:
            if error_code(error) == GONE:
                continue  # deleted during the scan
            raise
        keys.append(
            ScannedKey(
                access_key_id=key["AccessKeyId"],
                status=key["Status"],
                created=as_utc(key["CreateDate"]),
                last_used=last_used,
            )
        )
    if tags is None and read_tags:
        try:
            tags = user_tags(iam, name)
        except ClientError as error:
            if error_code(error) == GONE:
                logger.info("%s: deleted during the scan", name)
                return None
            raise
    return ScannedUser(name=name, arn=user["Arn"], keys=tuple(keys), tags=tags)


def user_tags(iam: BaseClient, user_name: str) -> dict[str, str]:
    """Every tag of the user (exemption and owner tags are read from them)."""
    return {
        tag["Key"]: tag["Value"]
        for tag in paginate(iam, "list_user_tags", "Tags", UserName=user_name)
    }


def key_last_used(iam: BaseClient, access_key_id: str) -> datetime | None:
    response = iam.get_access_key_last_used(AccessKeyId=access_key_id)
    used = response.get("AccessKeyLastUsed")
    if used is None:
        # An answer without the block is unclear, and unclear is not "never used".
        raise ScanError(f"GetAccessKeyLastUsed for {access_key_id} returned no AccessKeyLastUsed")
    moment = used.get("LastUsedDate")
    return as_utc(moment) if moment is not None else None


def read_owner(iam: BaseClient, user_name: str, owner_tag: str) -> str | None:
    """The value of the user's owner tag (tag keys compare case-insensitively, as in IAM)."""
    wanted = owner_tag.lower()
    for tag in paginate(iam, "list_user_tags", "Tags", UserName=user_name):
        if tag["Key"].lower() == wanted:
            return tag["Value"] or None
    return None


def scan_error(account_id: str, error: ClientError) -> ScanError:
    return ScanError(
        f"Scanning IAM users of account {account_id} failed in {describe_error(error)}"
    )
