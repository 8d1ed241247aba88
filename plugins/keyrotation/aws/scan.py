"""Read an account's IAM users and their access keys: the inputs of the key policy.

The scan makes the fewest calls the policy needs: pages of 1,000 users, one
ListAccessKeys and one ListUserTags per user (exemption and owner tags) and one
GetAccessKeyLastUsed per key.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from keyrotation.aws.sessions import error_code

__all__ = [
    "AccountScan",
    "ScanError",
    "ScannedKey",
    "ScannedUser",
    "read_owner",
    "scan_account",
]

logger = logging.getLogger(__name__)

#: The largest page IAM list calls return.
PAGE_SIZE = 1000
#: boto3 clients are thread-safe; IAM latency, not CPU, bounds a scan.
DEFAULT_WORKERS = 4
_GONE = "NoSuchEntity"


class ScanError(RuntimeError):
    """The account's users or keys cannot be read; nothing may be decided on a guess."""


@dataclass(frozen=True)
class ScannedKey:
    """One access key: IAM metadata plus LastUsedDate (None: never used)."""

    access_key_id: str
    status: str
    created: datetime
    last_used: datetime | None

    @property
    def active(self) -> bool:
        return self.status == "Active"


@dataclass(frozen=True)
class ScannedUser:
    name: str
    arn: str
    keys: tuple[ScannedKey, ...] = ()
    #: The user's tags when the scan read them (keys as IAM spells them); None: not read.
    tags: Mapping[str, str] | None = None

    def tag(self, key: str) -> str | None:
        """A tag's value by key, compared case-insensitively as IAM does; None if absent."""
        wanted = key.lower()
        for name, value in (self.tags or {}).items():
            if name.lower() == wanted:
                return value
        return None

    def key_metadata(self) -> list[dict[str, Any]]:
        """The keys in the shape ``policy.evaluate_keys`` reads."""
        return [
            {
                "UserName": self.name,
                "AccessKeyId": key.access_key_id,
                "Status": key.status,
                "CreateDate": key.created,
                "LastUsedDate": key.last_used,
            }
            for key in self.keys
        ]

    def without_keys(self, access_key_ids: set[str]) -> ScannedUser:
        kept = tuple(k for k in self.keys if k.access_key_id not in access_key_ids)
        return ScannedUser(self.name, self.arn, kept, self.tags)


@dataclass(frozen=True)
class AccountScan:
    account_id: str
    users: tuple[ScannedUser, ...]  # not exempt, by name
    exempt: tuple[str, ...]  # members of the exemption group, by name


def scan_account(
    iam: BaseClient,
    *,
    account_id: str,
    exemption_group: str,
    max_workers: int = DEFAULT_WORKERS,
    read_tags: bool = True,
) -> AccountScan:
    """Every user of the account minus the exemption group's members, with their keys.

    With ``read_tags`` each user's tags are read too (ListUserTags).
    """
    try:
        exempt = _group_members(iam, exemption_group) if exemption_group else set()
        listed = [u for u in _paginate(iam, "list_users", "Users") if u["UserName"] not in exempt]
    except ClientError as error:
        raise _scan_error(account_id, error) from None
    # map() keeps the users' order and re-raises the first failure.
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        try:
            scanned = list(pool.map(lambda user: _scan_user(iam, user, read_tags), listed))
        except ClientError as error:
            raise _scan_error(account_id, error) from None
    users = tuple(sorted((u for u in scanned if u is not None), key=lambda u: u.name))
    return AccountScan(account_id=account_id, users=users, exempt=tuple(sorted(exempt)))


def read_owner(iam: BaseClient, user_name: str, owner_tag: str) -> str | None:
    """The value of the user's owner tag (tag keys compare case-insensitively, as in IAM)."""
    wanted = owner_tag.lower()
    for tag in _paginate(iam, "list_user_tags", "Tags", UserName=user_name):
        if tag["Key"].lower() == wanted:
            return tag["Value"] or None
    return None


def _group_members(iam: BaseClient, group: str) -> set[str]:
    try:
        return {u["UserName"] for u in _paginate(iam, "get_group", "Users", GroupName=group)}
    except ClientError as error:
        if error_code(error) != _GONE:
            raise
        logger.info("Exemption group %s does not exist: no user is exempt", group)
        return set()


def _scan_user(iam: BaseClient, user: Mapping[str, Any], read_tags: bool) -> ScannedUser | None:
    name = user["UserName"]
    try:
        listed = list(_paginate(iam, "list_access_keys", "AccessKeyMetadata", UserName=name))
    except ClientError as error:
        if error_code(error) == _GONE:
            logger.info("%s: deleted during the scan", name)
            return None
        raise
    keys = []
    for key in listed:
        try:
            last_used = _last_used(iam, key["AccessKeyId"])
        except ClientError as error:
            if error_code(error) == _GONE:
                continue  # deleted during the scan
            raise
        keys.append(
            ScannedKey(
                access_key_id=key["AccessKeyId"],
                status=key["Status"],
                created=_utc(key["CreateDate"]),
                last_used=last_used,
            )
        )
    if not read_tags:
        return ScannedUser(name=name, arn=user["Arn"], keys=tuple(keys))
    try:
        tags = _user_tags(iam, name)
    except ClientError as error:
        if error_code(error) == _GONE:
            logger.info("%s: deleted during the scan", name)
            return None
        raise
    return ScannedUser(name=name, arn=user["Arn"], keys=tuple(keys), tags=tags)


def _user_tags(iam: BaseClient, user_name: str) -> dict[str, str]:
    """Every tag of the user (exemption and owner tags are read from them)."""
    return {
        tag["Key"]: tag["Value"]
        for tag in _paginate(iam, "list_user_tags", "Tags", UserName=user_name)
    }


def _last_used(iam: BaseClient, access_key_id: str) -> datetime | None:
    response = iam.get_access_key_last_used(AccessKeyId=access_key_id)
    used = response.get("AccessKeyLastUsed")
    if used is None:
        # An answer without the block is unclear, and unclear is not "never used".
        raise ScanError(f"GetAccessKeyLastUsed for {access_key_id} returned no AccessKeyLastUsed")
    moment = used.get("LastUsedDate")
    return _utc(moment) if moment is not None else None


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _paginate(
    client: BaseClient, operation: str, result_key: str, **params: Any
) -> Iterator[dict[str, Any]]:
    paginator = client.get_paginator(operation)
    config = {"PageSize": PAGE_SIZE} if operation in ("list_users", "get_group") else {}
    for page in paginator.paginate(**params, PaginationConfig=config):
        yield from page.get(result_key, [])


def _scan_error(account_id: str, error: ClientError) -> ScanError:
    return ScanError(
        f"Scanning IAM users of account {account_id} failed in "
        f"{error.operation_name}: {error_code(error)}: "
        f"{error.response.get('Error', {}).get('Message', '')}"
    )
