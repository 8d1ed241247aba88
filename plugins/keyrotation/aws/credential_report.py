"""An account's IAM credential report: one CSV that tells whom the key policy may concern.

The report says, for every user, whether each of its (at most two) access keys is
active, when it was created and when it was last used, but not the key ids, and it may
be up to four hours old: IAM builds at most one report per four hours and serves that
one until then. It is therefore used to choose whom to read live, never to decide.

Report age. GenerateCredentialReport answers COMPLETE when a report up to four hours
old exists, which is then used as is, and otherwise starts a new one, awaited for at
most ``MAX_WAIT``. ``GeneratedTime`` is trusted when that answer allows it: not in the
future (beyond a small clock skew), not older than four hours after COMPLETE, not older
than the request after STARTED. Otherwise (an emulator may stamp a fixed date) the age is
the most the answer allows: four hours, or the time since the request.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from keyrotation.aws.sessions import error_code
from keyrotation.policy import PolicySettings, evaluate_keys

__all__ = [
    "MAX_REPORT_AGE",
    "CredentialReport",
    "ReportKey",
    "ReportRow",
    "ReportUnavailable",
    "fetch_credential_report",
    "parse_report",
    "report_flags",
]

logger = logging.getLogger(__name__)

#: IAM generates at most one report per four hours and serves it until then.
MAX_REPORT_AGE = timedelta(hours=4)
#: A GeneratedTime this far ahead of our clock is a clock skew, not a wrong stamp.
CLOCK_SKEW = timedelta(minutes=5)
#: How long to wait for a report IAM is building before scanning user by user.
MAX_WAIT = timedelta(minutes=3)
#: GenerateCredentialReport answering LimitExceeded is tried this many times in all.
GENERATE_ATTEMPTS = 4
ROOT_ROW = "<root_account>"
_ABSENT = ("N/A", "no_information", "not_supported", "")
_COLUMNS = (
    "user",
    "arn",
    "user_creation_time",
    *(
        f"access_key_{slot}_{field}"
        for slot in (1, 2)
        for field in ("active", "last_rotated", "last_used_date")
    ),
)

Clock = Callable[[], datetime]


class ReportUnavailable(RuntimeError):
    """The credential report cannot be had; the message says why."""


@dataclass(frozen=True)
class ReportKey:
    """One access key as the report shows it (no id)."""

    active: bool
    created: datetime
    last_used: datetime | None


@dataclass(frozen=True)
class ReportRow:
    """One user's line. ``keys`` is None when the line cannot be read with certainty."""

    user: str
    arn: str
    created: datetime | None
    keys: tuple[ReportKey, ...] | None
    problem: str = ""


@dataclass(frozen=True)
class CredentialReport:
    generated: datetime
    age: timedelta
    rows: Mapping[str, ReportRow]


def fetch_credential_report(
    iam: BaseClient,
    *,
    clock: Clock = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
    max_wait: timedelta = MAX_WAIT,
) -> CredentialReport:
    """The account's credential report, generated first when none up to 4 hours old exists.

    Raises ReportUnavailable when the report cannot be read, generated or parsed.
    """
    try:
        return _fetch(iam, clock, sleep, max_wait)
    except ClientError as error:
        raise ReportUnavailable(
            f"{error.operation_name}: {error_code(error)}: "
            f"{error.response.get('Error', {}).get('Message', '')}"
        ) from None


def _fetch(
    iam: BaseClient, clock: Clock, sleep: Callable[[float], None], max_wait: timedelta
) -> CredentialReport:
    # GenerateCredentialReport first: IAM answers COMPLETE when a report up to 4 hours
    # old exists (served as is), and starts a new one otherwise. A daily run so makes two
    # calls where reading first would make three.
    asked = clock()
    state = _generate(iam, sleep)
    deadline = asked + max_wait
    delay = 1.0
    while True:
        answer = _get(iam)
        if isinstance(answer, dict):
            break
        left = (deadline - clock()).total_seconds()
        if left <= 0:
            raise ReportUnavailable(
                f"the credential report was still being generated after {max_wait}"
            )
        sleep(min(delay, left))
        delay = min(delay * 2, 10.0)
        if answer != "ReportInProgress":  # expired or gone since IAM answered: again
            state = _generate(iam, sleep)
    generated = _utc(answer["GeneratedTime"])
    now = clock()
    # COMPLETE at once: IAM served a report it had, up to 4 hours old; otherwise the
    # report was built after we asked.
    bound = MAX_REPORT_AGE if state == "COMPLETE" else now - asked
    age = now - generated
    if not (-CLOCK_SKEW <= age <= bound + CLOCK_SKEW):
        logger.info(
            "Credential report GeneratedTime %s is implausible after GenerateCredentialReport "
            "answered %s; taking its age as %s, the most that answer allows",
            generated.isoformat(),
            state,
            _whole_seconds(bound),
        )
        age = bound
    return _report(answer, generated, max(age, timedelta(0)))


def _whole_seconds(duration: timedelta) -> timedelta:
    return timedelta(seconds=round(duration.total_seconds()))


def _get(iam: BaseClient) -> dict[str, Any] | str:
    """The report, or the error code saying there is none (yet) to read."""
    try:
        return dict(iam.get_credential_report())
    except ClientError as error:
        code = error_code(error)
        if code in ("ReportInProgress", "ReportNotPresent", "ReportExpired"):
            return code
        raise


def _generate(iam: BaseClient, sleep: Callable[[float], None]) -> str:
    for attempt in range(1, GENERATE_ATTEMPTS + 1):
        try:
            return str(iam.generate_credential_report().get("State", ""))
        except ClientError as error:
            if error_code(error) != "LimitExceeded" or attempt == GENERATE_ATTEMPTS:
                raise
            sleep(2.0**attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _report(answer: Mapping[str, Any], generated: datetime, age: timedelta) -> CredentialReport:
    return CredentialReport(generated=generated, age=age, rows=parse_report(answer["Content"]))


def parse_report(content: bytes | str) -> dict[str, ReportRow]:
    """The report's user lines by user name. Raises ReportUnavailable when unreadable."""
    try:
        text = content.decode("utf-8") if isinstance(content, bytes) else content
    except UnicodeDecodeError:
        raise ReportUnavailable("the credential report is not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [column for column in _COLUMNS if column not in (reader.fieldnames or ())]
    if missing:
        raise ReportUnavailable(f"the credential report lacks the column(s) {', '.join(missing)}")
    rows = {}
    for line in reader:
        if line["user"] == ROOT_ROW:
            continue
        row = _row(line)
        rows[row.user] = row
    return rows


def _row(line: Mapping[str, str]) -> ReportRow:
    created = _moment(line["user_creation_time"])
    keys = []
    for slot in (1, 2):
        active = line[f"access_key_{slot}_active"]
        rotated = line[f"access_key_{slot}_last_rotated"]
        used = line[f"access_key_{slot}_last_used_date"]
        if active not in ("true", "false"):
            return _unreadable(line, f"access_key_{slot}_active is {active!r}")
        if rotated in _ABSENT:
            if active == "true":
                return _unreadable(line, f"key {slot} is active without a creation date")
            continue  # no key in this slot
        key_created = _moment(rotated)
        key_used = None if used in _ABSENT else _moment(used)
        if key_created is None or (used not in _ABSENT and key_used is None):
            return _unreadable(line, f"key {slot} has an unreadable date")
        keys.append(ReportKey(active=active == "true", created=key_created, last_used=key_used))
    return ReportRow(user=line["user"], arn=line["arn"], created=created, keys=tuple(keys))


def _unreadable(line: Mapping[str, str], problem: str) -> ReportRow:
    return ReportRow(line["user"], line["arn"], _moment(line["user_creation_time"]), None, problem)


def _moment(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return _utc(moment) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def report_flags(
    row: ReportRow,
    *,
    now: datetime,
    margin: timedelta,
    policy: PolicySettings,
    force_rotate: bool = False,
) -> str:
    """Why the row's user needs a live look, or "" when the report shows nothing due.

    The key policy itself decides, on the report's key states, at ``now`` and at
    ``now + margin``; the warning window is part of the policy.
    """
    if row.keys is None:
        return f"credential report line unreadable ({row.problem})"
    if not row.keys:
        return ""
    metadata = [
        {
            "UserName": row.user,
            # The report has no key ids; the slot stands in for one.
            "AccessKeyId": f"report-slot-{slot}",
            "Status": "Active" if key.active else "Inactive",
            "CreateDate": key.created,
            "LastUsedDate": key.last_used,
        }
        for slot, key in enumerate(row.keys, start=1)
    ]
    for moment in (now, now + margin):
        try:
            actions = evaluate_keys(
                metadata, now=moment, settings=policy, force_rotate=force_rotate
            )
        except ValueError as error:
            return f"credential report line not decidable ({error})"
        if actions:
            return f"{actions[0].action.name} at {moment.isoformat()} per the credential report"
    return ""
