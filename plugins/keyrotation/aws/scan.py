"""Read an account's IAM users and their access keys: the inputs of the key policy.

Two scans give the same users to plan:

* the per-user scan reads pages of 1,000 users, then ListAccessKeys and ListUserTags
  (exemption and owner tags) per user and GetAccessKeyLastUsed per key;
* the triaged scan reads the credential report and GetAccountAuthorizationDetails (users
  with their groups and tags, 1,000 per page), lets the key policy pick from the report
  the users that may need an action or a warning, and reads only those users' keys live.
  Users the report shows nothing due for are left out of the scan. Its calls grow with
  what is due, not with the number of users.

``scan_mode`` ``auto`` uses the triaged scan and falls back to the per-user one, with a
log line saying why, when the report cannot be had.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from keyrotation.aws.credential_report import (
    CredentialReport,
    ReportUnavailable,
    fetch_credential_report,
    report_flags,
)
from keyrotation.aws.sessions import error_code
from keyrotation.policy import PolicySettings

__all__ = [
    "TRIAGE_SLACK",
    "AccountScan",
    "ScanError",
    "ScanMode",
    "ScannedKey",
    "ScannedUser",
    "Triage",
    "read_owner",
    "scan_account",
]

logger = logging.getLogger(__name__)

#: The largest page IAM list calls return.
PAGE_SIZE = 1000
#: boto3 clients are thread-safe; IAM latency, not CPU, bounds a scan.
DEFAULT_WORKERS = 4
_GONE = "NoSuchEntity"
#: Added to the report's age in the triage: the run's own length and clock skews.
TRIAGE_SLACK = timedelta(hours=1)
#: A user tag in the pipeline's namespace (an exemption, say) always earns a live look,
#: whatever rule reads it.
PIPELINE_TAG_PREFIX = "iam-key-rotation:"


class ScanMode(enum.StrEnum):
    AUTO = "auto"
    CREDENTIAL_REPORT = "credential_report"
    PER_USER = "per_user"


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
    #: Users the credential report showed nothing due for, not read live.
    not_due: int = 0
    mode: ScanMode = ScanMode.PER_USER


@dataclass(frozen=True)
class Triage:
    """What the triaged scan needs to choose, from the report, whom to read live."""

    now: datetime
    policy: PolicySettings
    forced: Collection[str] = frozenset()
    #: Users read live whatever the report says (an unfinished rotation, say).
    always: Collection[str] = frozenset()
    #: Tag keys (case-insensitive) that earn a live look, besides the pipeline's own.
    tags: Collection[str] = ()
    #: The wall clock, against which the report's age is measured.
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), compare=False)


def scan_account(
    iam: BaseClient,
    *,
    account_id: str,
    exemption_group: str,
    max_workers: int = DEFAULT_WORKERS,
    read_tags: bool = True,
    mode: ScanMode | str = ScanMode.PER_USER,
    triage: Triage | None = None,
) -> AccountScan:
    """The account's users minus the exemption group's members, with their keys.

    ``mode`` picks the scan; the triaged ones need ``triage``.
    """
    mode = ScanMode(mode)
    if mode is not ScanMode.PER_USER:
        if triage is None:
            raise ValueError(f"scan mode {mode} needs a triage")
        try:
            return _scan_triaged(
                iam,
                account_id=account_id,
                exemption_group=exemption_group,
                max_workers=max_workers,
                triage=triage,
            )
        except ReportUnavailable as error:
            if mode is ScanMode.CREDENTIAL_REPORT:
                raise ScanError(
                    f"Account {account_id}: the credential report cannot be had ({error}) "
                    f"and scan_mode is credential_report"
                ) from None
            logger.warning(
                "Account %s: credential report unavailable (%s): scanning every user",
                account_id,
                error,
            )
    return _scan_per_user(
        iam,
        account_id=account_id,
        exemption_group=exemption_group,
        max_workers=max_workers,
        read_tags=read_tags,
    )


def _scan_per_user(
    iam: BaseClient, *, account_id: str, exemption_group: str, max_workers: int, read_tags: bool
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
            scanned = list(
                pool.map(lambda user: _scan_user(iam, user, read_tags=read_tags), listed)
            )
        except ClientError as error:
            raise _scan_error(account_id, error) from None
    users = tuple(sorted((u for u in scanned if u is not None), key=lambda u: u.name))
    return AccountScan(account_id=account_id, users=users, exempt=tuple(sorted(exempt)))


def _scan_triaged(
    iam: BaseClient,
    *,
    account_id: str,
    exemption_group: str,
    max_workers: int,
    triage: Triage,
) -> AccountScan:
    report = fetch_credential_report(iam, clock=triage.clock)
    try:
        details = list(
            _paginate(iam, "get_account_authorization_details", "UserDetailList", Filter=["User"])
        )
    except ClientError as error:
        if error_code(error) in ("AccessDenied", "AccessDeniedException"):
            # A member role deployed before the triaged scan existed lacks the permission.
            raise ReportUnavailable(
                f"GetAccountAuthorizationDetails: {error_code(error)}"
            ) from None
        raise _scan_error(account_id, error) from None
    exempt: set[str] = set()
    chosen: list[tuple[Mapping[str, Any], dict[str, str]]] = []
    margin = report.age + TRIAGE_SLACK
    for user in details:
        name = user["UserName"]
        if exemption_group and exemption_group in user.get("GroupList", ()):
            exempt.add(name)
            continue
        tags = {tag["Key"]: tag.get("Value", "") for tag in user.get("Tags", [])}
        why = _live_look(user, tags, report, margin, triage)
        if why:
            logger.debug("%s: live look: %s", name, why)
            chosen.append((user, tags))
    logger.info(
        "Account %s: credential report of %s (age %s): %d of %d user(s) may need an action "
        "or a warning within %s beyond the warning window; reading their keys",
        account_id,
        report.generated.isoformat(),
        _short(report.age),
        len(chosen),
        len(details) - len(exempt),
        _short(margin),
    )
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        try:
            scanned = list(pool.map(lambda pair: _scan_user(iam, pair[0], pair[1]), chosen))
        except ClientError as error:
            raise _scan_error(account_id, error) from None
    users = tuple(sorted((u for u in scanned if u is not None), key=lambda u: u.name))
    return AccountScan(
        account_id=account_id,
        users=users,
        exempt=tuple(sorted(exempt)),
        not_due=len(details) - len(exempt) - len(chosen),
        mode=ScanMode.CREDENTIAL_REPORT,
    )


def _live_look(
    user: Mapping[str, Any],
    tags: Mapping[str, str],
    report: CredentialReport,
    margin: timedelta,
    triage: Triage,
) -> str:
    """Why the user's keys must be read live; "" when the report shows nothing due."""
    name = user["UserName"]
    if name in triage.always:
        return "an unfinished rotation"
    if name in triage.forced:
        return "forced rotation"
    wanted = {tag.lower() for tag in triage.tags if tag}
    for key in tags:
        if key.lower().startswith(PIPELINE_TAG_PREFIX) or key.lower() in wanted:
            return f"tag {key}"
    row = report.rows.get(name)
    if row is None:
        return "not in the credential report (newer than the report)"
    created = user.get("CreateDate")
    if (
        row.arn != user.get("Arn")
        or row.created is None
        or created is None
        or abs(_utc(created) - row.created) >= timedelta(seconds=1)
    ):
        return "the credential report describes an earlier user of this name"
    return report_flags(row, now=triage.now, margin=margin, policy=triage.policy)


def _short(duration: timedelta) -> str:
    return str(duration - timedelta(microseconds=duration.microseconds))


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


def _scan_user(
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
    if tags is None and read_tags:
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
    paged = ("list_users", "get_group", "get_account_authorization_details")
    config = {"PageSize": PAGE_SIZE} if operation in paged else {}
    for page in paginator.paginate(**params, PaginationConfig=config):
        yield from page.get(result_key, [])


def _scan_error(account_id: str, error: ClientError) -> ScanError:
    return ScanError(
        f"Scanning IAM users of account {account_id} failed in "
        f"{error.operation_name}: {error_code(error)}: "
        f"{error.response.get('Error', {}).get('Message', '')}"
    )
