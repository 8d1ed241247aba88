"""What a template renders: account sections, new-key locations, exemptions, subjects.

Everything a template may use is documented in ``include/email_templates/README.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from keyrotation.notification.wording import Level, Line, plural, reason_of
from keyrotation.policy import ActionType, Reason
from keyrotation.results import Account, ActionRecord, Notice, Outcome
from keyrotation.settings import PolicyGroupSettings
from keyrotation.utc import format_utc

__all__ = [
    "ADMIN_TEMPLATE",
    "AUDIT_TEMPLATE",
    "ENFORCE_TEMPLATE",
    "AccountSection",
    "EmailKind",
    "ExemptionLine",
    "FailedAccount",
    "NewKeyLocation",
    "PlannedEmail",
    "common_context",
    "counts",
    "exemption_line",
    "partition_name",
    "section",
    "subject",
]

EmailKind = Literal["account", "owner", "admin"]

# Template base names; each has an ``.html.j2`` and a ``.txt.j2`` variant.
ENFORCE_TEMPLATE = "enforce"
AUDIT_TEMPLATE = "audit"
ADMIN_TEMPLATE = "admin_summary"

SUBJECT_PREFIX = "[IAM key rotation]"
AUDIT_SUBJECT_PREFIX = "[IAM key rotation AUDIT]"

_PARTITION_NAMES = {
    "aws": "AWS Standard",
    "aws-us-gov": "AWS GovCloud (US)",
    "aws-cn": "AWS China",
}

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class ExemptionLine:
    """An exempt user, or the whole account when ``user_name`` is empty."""

    account_id: str
    user_name: str
    source: str
    reason: str | None
    until: str | None  # the last exempt day, YYYY-MM-DD; None: no end date

    @property
    def subject(self) -> str:
        return f"user {self.user_name}" if self.user_name else "the whole account"

    @property
    def text(self) -> str:
        until = f"exempt through {self.until} (UTC)" if self.until else "exempt, no end date"
        why = f"reason: {self.reason}" if self.reason else "no reason given"
        return f"{self.subject}: {until}; {why} ({self.source})"


@dataclass(frozen=True)
class NewKeyLocation:
    """Where a user finds a new key: the secret's name and region, never its value."""

    user_name: str
    secret_name: str
    secret_region: str
    new_access_key_id: str | None
    stored: bool  # False in audit mode: the secret named is where the key would go


@dataclass(frozen=True)
class AccountSection:
    """The lines of one account, as one account email or one part of an owner email."""

    account_id: str
    account_name: str
    account_email: str
    lines: tuple[Line, ...]
    new_keys: tuple[NewKeyLocation, ...]
    exemptions: tuple[ExemptionLine, ...] = ()

    @property
    def changes(self) -> int:
        return sum(1 for line in self.lines if line.level.is_change)

    @property
    def warnings(self) -> int:
        return sum(1 for line in self.lines if line.level.is_warning)

    @property
    def failures(self) -> int:
        return sum(1 for line in self.lines if line.level is Level.FAILED)

    @property
    def problems(self) -> int:
        return sum(1 for line in self.lines if line.level is Level.PROBLEM)

    @property
    def not_approved(self) -> int:
        return sum(1 for line in self.lines if line.level is Level.NOT_APPROVED)


@dataclass(frozen=True)
class FailedAccount:
    """An account whose rotation task failed or had failed actions."""

    account_id: str
    account_name: str
    error: str


@dataclass(frozen=True)
class PlannedEmail:
    """One email to render: ``template`` is a base name such as ``enforce``."""

    kind: EmailKind
    to: str
    subject: str
    template: str
    context: Mapping[str, Any] = field(repr=False)


def partition_name(partition: str) -> str:
    return _PARTITION_NAMES.get(partition, partition)


def common_context(
    settings: PolicyGroupSettings, *, dry_run: bool, now: datetime, partition: str, sender: str
) -> dict[str, Any]:
    """The values every template gets."""
    return {
        "mode": AUDIT_TEMPLATE if dry_run else ENFORCE_TEMPLATE,
        "dry_run": dry_run,
        "partition": partition,
        "partition_name": partition_name(partition),
        "detected_at": format_utc(now),
        "detected_at_iso": now.isoformat(),
        "rotation_period_days": settings.rotation_period_days,
        "installation_grace_days": settings.installation_grace_days,
        "recovery_grace_days": settings.recovery_grace_days,
        "warning_days": settings.warning_days,
        "require_new_key_use": settings.require_new_key_use,
        "new_key_use_deadline_days": settings.new_key_use_deadline_days,
        "sender_email": sender,
    }


def exemption_line(record: ActionRecord) -> ExemptionLine:
    return ExemptionLine(
        account_id=record.account_id,
        user_name=record.user_name,
        source=record.exemption_source or "",
        reason=record.exemption_reason,
        until=record.exempt_until,
    )


def section(
    by_id: Mapping[str, Account],
    account_id: str,
    pairs: Iterable[tuple[ActionRecord, Line]],
    exemptions: Iterable[ExemptionLine] = (),
) -> AccountSection:
    account = by_id.get(account_id)
    listed = list(pairs)
    return AccountSection(
        account_id=account_id,
        account_name=account.name if account else "",
        account_email=account.email if account else "",
        lines=tuple(line for _, line in listed),
        new_keys=_new_keys(record for record, _ in listed),
        exemptions=tuple(exemptions),
    )


def _new_keys(records: Iterable[ActionRecord]) -> tuple[NewKeyLocation, ...]:
    """Where each new key of a rotation is (or would be) stored, once per secret."""
    locations: dict[tuple[str, str, str], NewKeyLocation] = {}
    for record in records:
        action = record.action
        if (
            record.failed
            or record.outcome is Outcome.NOT_APPROVED
            or not record.secret_name
            or action is ActionType.WARN
            or isinstance(action, Notice)
            or reason_of(record) is Reason.NEW_KEY_USE_DEADLINE
        ):
            continue
        where = (record.user_name, record.secret_name, record.secret_region or "")
        locations.setdefault(
            where,
            NewKeyLocation(
                user_name=record.user_name,
                secret_name=record.secret_name,
                secret_region=record.secret_region or "",
                new_access_key_id=record.new_access_key_id,
                stored=record.outcome is Outcome.DONE,
            ),
        )
    return tuple(locations.values())


def counts(sections: Sequence[AccountSection]) -> str:
    """What a subject line sums up: ``2 actions, 1 warning``."""
    changes = sum(part.changes for part in sections)
    warnings = sum(part.warnings for part in sections)
    failures = sum(part.failures for part in sections)
    problems = sum(part.problems for part in sections)
    exempt = sum(len(part.exemptions) for part in sections)
    not_approved = sum(part.not_approved for part in sections)
    parts = []
    if changes:
        parts.append(plural(changes, "action"))
    if warnings:
        parts.append(plural(warnings, "warning"))
    if failures:
        parts.append(f"{failures} failed")
    if problems:
        parts.append(plural(problems, "exemption problem"))
    if exempt:
        parts.append(f"{exempt} exempt")
    if not_approved:
        parts.append(f"{not_approved} not approved")
    return ", ".join(parts) or "nothing to report"


def subject(text: str) -> str:
    # Account names and tag values end up in the subject: no line breaks in a header.
    return _CONTROL_CHARACTERS.sub(" ", text).strip()
