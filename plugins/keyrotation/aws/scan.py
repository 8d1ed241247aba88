"""Read an account's IAM users and their access keys: the inputs of the key policy.

Two scans give the same users to plan:

* the per-user scan reads pages of 1,000 users, then ListAccessKeys and ListUserTags
  (exemption and owner tags) per user and GetAccessKeyLastUsed per key;
* the triaged scan (``triaged_scan``) reads the credential report and
  GetAccountAuthorizationDetails, and reads live only the keys of the users the report
  shows may need an action or a warning. Its calls grow with what is due, not with the
  number of users.

``scan_mode`` ``auto`` uses the triaged scan and falls back to the per-user one, with a
log line saying why, when the report cannot be had. What a scan yields is in
``scan_results``; how one user is read live, in ``user_reading``.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from keyrotation.aws.credential_report import ReportUnavailable
from keyrotation.aws.errors import error_code
from keyrotation.aws.pagination import paginate
from keyrotation.aws.scan_results import AccountScan, ScanError, ScanMode, ScannedKey, ScannedUser
from keyrotation.aws.triaged_scan import TRIAGE_SLACK, Triage, scan_triaged
from keyrotation.aws.user_reading import GONE, PAGE_SIZE, read_owner, read_user, scan_error

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

#: boto3 clients are thread-safe; IAM latency, not CPU, bounds a scan.
DEFAULT_WORKERS = 4


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
            return scan_triaged(
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
        listed = [
            u
            for u in paginate(iam, "list_users", "Users", page_size=PAGE_SIZE)
            if u["UserName"] not in exempt
        ]
    except ClientError as error:
        raise scan_error(account_id, error) from None
    # map() keeps the users' order and re-raises the first failure.
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        try:
            scanned = list(pool.map(lambda user: read_user(iam, user, read_tags=read_tags), listed))
        except ClientError as error:
            raise scan_error(account_id, error) from None
    users = tuple(sorted((u for u in scanned if u is not None), key=lambda u: u.name))
    return AccountScan(account_id=account_id, users=users, exempt=tuple(sorted(exempt)))


def _group_members(iam: BaseClient, group: str) -> set[str]:
    try:
        return {
            u["UserName"]
            for u in paginate(iam, "get_group", "Users", page_size=PAGE_SIZE, GroupName=group)
        }
    except ClientError as error:
        if error_code(error) != GONE:
            raise
        logger.info("Exemption group %s does not exist: no user is exempt", group)
        return set()
