"""The triaged scan: the credential report picks whose keys are read live.

It reads the credential report and GetAccountAuthorizationDetails (users with their groups
and tags, 1,000 per page), lets the key policy pick from the report the users that may
need an action or a warning, and reads only those users' keys live. Users the report shows
nothing due for are left out of the scan. Its calls grow with what is due, not with the
number of users.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from keyrotation.aws.credential_report import (
    CredentialReport,
    ReportRow,
    ReportUnavailable,
    fetch_credential_report,
    report_flags,
)
from keyrotation.aws.errors import error_code
from keyrotation.aws.pagination import paginate
from keyrotation.aws.scan_results import AccountScan, ScanMode, ScannedKey, ScannedUser
from keyrotation.aws.user_reading import PAGE_SIZE, read_user, scan_error
from keyrotation.policy import PolicySettings
from keyrotation.utc import as_utc

__all__ = ["PIPELINE_TAG_PREFIX", "TRIAGE_SLACK", "Triage", "scan_triaged"]

logger = logging.getLogger(__name__)

#: Added to the report's age in the triage: the run's own length and clock skews.
TRIAGE_SLACK = timedelta(hours=1)
#: A user tag in the pipeline's namespace (an exemption, say) always earns a live look,
#: whatever rule reads it.
PIPELINE_TAG_PREFIX = "iam-key-rotation:"


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


def scan_triaged(
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
            paginate(
                iam,
                "get_account_authorization_details",
                "UserDetailList",
                page_size=PAGE_SIZE,
                Filter=["User"],
            )
        )
    except ClientError as error:
        if error_code(error) in ("AccessDenied", "AccessDeniedException"):
            # A member role deployed before the triaged scan existed lacks the permission.
            raise ReportUnavailable(
                f"GetAccountAuthorizationDetails: {error_code(error)}"
            ) from None
        raise scan_error(account_id, error) from None
    exempt: set[str] = set()
    chosen: list[tuple[Mapping[str, Any], dict[str, str]]] = []
    unread: list[ScannedUser] = []
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
        else:
            unread.append(_as_reported(user, tags, report.rows[name]))
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
            scanned = list(pool.map(lambda pair: read_user(iam, pair[0], pair[1]), chosen))
        except ClientError as error:
            raise scan_error(account_id, error) from None
    users = tuple(sorted((u for u in scanned if u is not None), key=lambda u: u.name))
    return AccountScan(
        account_id=account_id,
        users=users,
        exempt=tuple(sorted(exempt)),
        not_due=len(details) - len(exempt) - len(chosen),
        unread=tuple(sorted(unread, key=lambda u: u.name)),
        mode=ScanMode.CREDENTIAL_REPORT,
    )


def _as_reported(user: Mapping[str, Any], tags: Mapping[str, str], row: ReportRow) -> ScannedUser:
    keys = tuple(
        ScannedKey(
            access_key_id="",
            status="Active" if key.active else "Inactive",
            created=key.created,
            last_used=key.last_used,
        )
        for key in row.keys or ()
    )
    return ScannedUser(name=user["UserName"], arn=user["Arn"], keys=keys, tags=dict(tags))


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
        or abs(as_utc(created) - row.created) >= timedelta(seconds=1)
    ):
        return "the credential report describes an earlier user of this name"
    return report_flags(row, now=triage.now, margin=margin, policy=triage.policy)


def _short(duration: timedelta) -> str:
    return str(duration - timedelta(microseconds=duration.microseconds))
