"""Who gets which email and what it says: a pure function from action records to emails.

Nothing here does I/O. ``plan_emails`` turns the rotation tasks' records into a list of
``PlannedEmail``: recipient, subject, template name and the values the template renders.
Every sentence of an action line is built here, once, so that the HTML and the
plain-text part of an email say exactly the same thing.

Records never hold a secret access key, and nothing here adds one: an email tells where
the new key is stored (secret name and region), never its value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from keyrotation.policy import ActionType, Reason
from keyrotation.results import Account, ActionRecord, Notice, Outcome
from keyrotation.settings import RotationSettings

__all__ = [
    "ADMIN_TEMPLATE",
    "AUDIT_TEMPLATE",
    "ENFORCE_TEMPLATE",
    "AccountSection",
    "EmailKind",
    "ExemptionLine",
    "FailedAccount",
    "Line",
    "NewKeyLocation",
    "PlannedEmail",
    "days_remaining",
    "describe_record",
    "is_email_address",
    "partition_name",
    "plan_emails",
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

# The two conflict warnings announce that a key will go although it may still be in use.
_CRITICAL_REASONS = frozenset({"KEY_PENDING_DELETION_CONFLICT", "KEY_PENDING_EXPIRATION_CONFLICT"})

# What the owner must do before a warned action falls due (the spec's wording rules).
_INSTRUCTIONS = {
    "KEY_PENDING_ROTATION": (
        "Be ready to install the new key: it will be stored in AWS Secrets Manager when "
        "this key is rotated."
    ),
    "KEY_PENDING_DEACTIVATION": (
        "Verify that the new key is installed wherever this key is used: this key will "
        "then be deactivated."
    ),
    "KEY_PENDING_DELETION": (
        "Verify that the new key works: this key will then be permanently deleted."
    ),
    "KEY_PENDING_DELETION_CONFLICT": (
        "Make sure this key is not in use: it will be permanently deleted so that the "
        "user's other key can be rotated."
    ),
    "KEY_PENDING_EXPIRATION_CONFLICT": (
        "Make sure this key is not in use: the user has another key, so this key cannot "
        "be rotated and will be taken out of service when it expires."
    ),
    "UNUSED_KEY_PENDING_DELETION": (
        "This key has never been used: it will be permanently deleted when it expires."
    ),
    "EXEMPTION_ENDING": (
        "Be ready for the key policy: after the due date this key is rotated, deactivated "
        "or deleted like any other key when it falls due."
    ),
}

# The levels of lines that are no key change and no warning.
PROBLEM = "PROBLEM"

# Deliberately simple: an owner tag value either looks like one address or is not used.
_EMAIL_ADDRESS = re.compile(r"^[^@\s<>,;\"']+@[^@\s<>,;\"']+\.[^@\s<>,;\"']+$")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class Line:
    """One action record in words, plus its parts for templates that lay it out themselves.

    ``level`` is ACTION (a change made), DRYRUN (a change audit mode would make),
    WARNING or CRITICAL (an announced action) or FAILED (a change that failed).
    """

    level: str
    message: str
    account_id: str
    user_name: str
    access_key_id: str
    action: str
    reason: str
    reason_text: str
    outcome: str
    owner: str | None = None
    due: str | None = None
    days_remaining: int | None = None
    instruction: str | None = None
    error: str | None = None
    secret_name: str | None = None
    secret_region: str | None = None
    new_access_key_id: str | None = None

    @property
    def text(self) -> str:
        return f"{self.level}: {self.message}"


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
        return sum(1 for line in self.lines if line.level in ("ACTION", "DRYRUN"))

    @property
    def warnings(self) -> int:
        return sum(1 for line in self.lines if line.level in ("WARNING", "CRITICAL"))

    @property
    def failures(self) -> int:
        return sum(1 for line in self.lines if line.level == "FAILED")

    @property
    def problems(self) -> int:
        return sum(1 for line in self.lines if line.level == PROBLEM)


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


def plan_emails(
    *,
    accounts: Sequence[Account],
    records: Sequence[ActionRecord],
    failures: Mapping[str, str],
    settings: RotationSettings,
    dry_run: bool,
    now: datetime,
    partition: str,
    sender: str,
) -> list[PlannedEmail]:
    """Every email of a run: per account, per owner, and the admin summary if anything failed.

    An account gets an email when it has at least one record; owners (the owner tag of a
    user) get one email across all accounts listing only their users, grouped by account.
    The admin summary goes to ``admin_email`` (else the sender) when an account failed or
    an action failed. Emails whose recipient is unknown are still planned, with an empty
    ``to``, so that delivery reports them instead of dropping them silently.
    """
    now = _as_utc(now)
    by_id = {account.id: account for account in accounts}
    order = _account_order(accounts, records, failures)
    common = _common_context(settings, dry_run=dry_run, now=now, partition=partition, sender=sender)
    template = AUDIT_TEMPLATE if dry_run else ENFORCE_TEMPLATE
    prefix = AUDIT_SUBJECT_PREFIX if dry_run else SUBJECT_PREFIX

    lines_by_account: dict[str, list[tuple[ActionRecord, Line]]] = {}
    exemptions_by_account: dict[str, list[ExemptionLine]] = {}
    for record in records:
        if record.action == Notice.EXEMPT.value:
            exemptions_by_account.setdefault(record.account_id, []).append(_exemption_line(record))
            continue
        lines_by_account.setdefault(record.account_id, []).append(
            (record, describe_record(record, now=now))
        )

    emails: list[PlannedEmail] = []
    for account_id in order:
        pairs = lines_by_account.get(account_id, [])
        exempt = exemptions_by_account.get(account_id, [])
        if not pairs and not exempt:
            continue  # nothing to report: no email
        section = _section(by_id, account_id, pairs, exempt)
        name = f" ({section.account_name})" if section.account_name else ""
        emails.append(
            PlannedEmail(
                kind="account",
                to=section.account_email,
                subject=_subject(f"{prefix} Account {account_id}{name}: {_counts([section])}"),
                template=template,
                context={
                    **common,
                    "recipient_kind": "account",
                    "recipient": section.account_email,
                    "owner": None,
                    "sections": [section],
                },
            )
        )

    for owner, sections in _owner_sections(by_id, order, lines_by_account).items():
        emails.append(
            PlannedEmail(
                kind="owner",
                to=owner,
                subject=_subject(f"{prefix} Access keys of your IAM users: {_counts(sections)}"),
                template=template,
                context={
                    **common,
                    "recipient_kind": "owner",
                    "recipient": owner,
                    "owner": owner,
                    "sections": sections,
                },
            )
        )

    failed_accounts = [
        FailedAccount(
            account_id=account_id,
            account_name=by_id[account_id].name if account_id in by_id else "",
            error=failures[account_id],
        )
        for account_id in order
        if account_id in failures
    ]
    failed_lines = [
        line
        for account_id in order
        for record, line in lines_by_account.get(account_id, [])
        if record.failed
    ]
    problem_lines = [
        line
        for account_id in order
        for _, line in lines_by_account.get(account_id, [])
        if line.level == PROBLEM
    ]
    if failed_accounts or failed_lines or problem_lines:
        admin = settings.admin_email or sender
        emails.append(
            PlannedEmail(
                kind="admin",
                to=admin,
                subject=_subject(
                    f"{prefix} Run needs attention: "
                    + ", ".join(
                        _plural(count, noun)
                        for count, noun in (
                            (len(failed_accounts), "failed account"),
                            (len(failed_lines), "failed action"),
                            (len(problem_lines), "exemption problem"),
                        )
                        if count
                    )
                ),
                template=ADMIN_TEMPLATE,
                context={
                    **common,
                    "recipient_kind": "admin",
                    "recipient": admin,
                    "failed_accounts": failed_accounts,
                    "failed_lines": failed_lines,
                    "problem_lines": problem_lines,
                    "run_failed": bool(failed_accounts or failed_lines),
                    "accounts_evaluated": len(accounts),
                },
            )
        )
    return emails


def describe_record(record: ActionRecord, *, now: datetime) -> Line:
    """The line of an email that tells one record, with the spec's words for its reason."""
    reason_text = _reason_text(record.reason)
    key = f"key {record.access_key_id} of {record.user_name}"
    parts: dict[str, Any] = {
        "account_id": record.account_id,
        "user_name": record.user_name,
        "access_key_id": record.access_key_id,
        "action": record.action,
        "reason": record.reason,
        "reason_text": reason_text,
        "outcome": record.outcome,
        "owner": record.owner,
        "error": record.error,
        "secret_name": record.secret_name,
        "secret_region": record.secret_region,
        "new_access_key_id": record.new_access_key_id,
    }
    notice = _describe_notice(record, parts)
    if notice is not None:
        return notice
    if record.failed:
        message = f"could not {record.action} {key}: {reason_text}"
        if record.error:
            message += f" Error: {record.error}"
        return Line(level="FAILED", message=message, **parts)

    if record.action == ActionType.WARN.value:
        level = "CRITICAL" if record.reason in _CRITICAL_REASONS else "WARNING"
        instruction = _INSTRUCTIONS.get(record.reason)
        due_at = record.due_at
        if record.reason == Reason.NEW_KEY_NOT_IN_USE.name:
            instruction = _install_new_key(record, until=due_at)
        message = f"{key}: {reason_text}"
        remaining = None
        due = None
        if due_at is not None:
            remaining = days_remaining(due_at, now)
            due = _format_time(due_at)
            message += f" {_plural(remaining, 'day')} remaining (due {due})."
        if instruction:
            message += f" {instruction}"
        return Line(
            level=level,
            message=message,
            due=due,
            days_remaining=remaining,
            instruction=instruction,
            **parts,
        )

    dry = record.outcome == Outcome.DRY_RUN.value
    verb = f"would {record.action}" if dry else record.action
    message = f"{verb} {key}: {reason_text}"
    if record.reason == Reason.NEW_KEY_USE_DEADLINE.name:
        where = _secret_words(record)
        message += (
            f" Applications still using this key stop working: install the new key from "
            f"{where}. In an emergency the old key can be reactivated in IAM until it is "
            f"deleted."
        )
        return Line(level="DRYRUN" if dry else "ACTION", message=message, **parts)
    if record.secret_name:
        new_key = f"new key {record.new_access_key_id}" if record.new_access_key_id else "new key"
        where = f"secret {record.secret_name} ({record.secret_region or 'unknown region'})"
        message += f" The {new_key} {'would be' if dry else 'is'} stored in {where}."
    return Line(level="DRYRUN" if dry else "ACTION", message=message, **parts)


def _install_new_key(record: ActionRecord, *, until: datetime | None) -> str:
    latest = f", at the latest until {_format_time(until)}" if until is not None else ""
    return (
        f"Install the new key from {_secret_words(record)}; the old key stays active until "
        f"the new one is used{latest}."
    )


def _secret_words(record: ActionRecord) -> str:
    if not record.secret_name:
        return "its secret in AWS Secrets Manager"
    region = f" ({record.secret_region})" if record.secret_region else ""
    return f"secret {record.secret_name}{region}"


def _describe_notice(record: ActionRecord, parts: Mapping[str, Any]) -> Line | None:
    """The line of a record that is no key action of the policy, or None."""
    if record.action == Notice.EXEMPTION_PROBLEM.value:
        return Line(
            level=PROBLEM,
            message=(f"{record.error} Fix the tag value (a date YYYY-MM-DD) or remove the tag."),
            **parts,
        )
    if record.action == Notice.DELETE_ORPHANED_SECRET.value:
        secret = f"secret {record.secret_name} ({record.secret_region or 'unknown region'})"
        gone = f"IAM user {record.user_name} no longer exists"
        if record.failed:
            return Line(
                level="FAILED",
                message=f"could not schedule the deletion of {secret}: {gone}. "
                f"Error: {record.error}",
                **parts,
            )
        if record.outcome == Outcome.DRY_RUN.value:
            return Line(
                level="DRYRUN",
                message=f"would schedule the deletion of {secret}: {gone}, so the key it "
                f"holds is dead.",
                **parts,
            )
        if record.outcome == Outcome.REPORTED.value:
            return Line(
                level="WARNING",
                message=f"{secret} holds the key of a user that no longer exists ({gone}); "
                f"deleting such secrets is turned off (setting delete_orphaned_secrets).",
                **parts,
            )
        due = f" on {_format_time(record.due_at)}" if record.due_at else ""
        return Line(
            level="ACTION",
            message=f"scheduled the deletion of {secret}{due}: {gone}, so the key it holds "
            f"is dead. Until then the secret can be restored (RestoreSecret).",
            **parts,
        )
    if record.action == Notice.REPAIR_REPLICA.value:
        replica = f"the replica of secret {record.secret_name} in region {record.secret_region}"
        if record.failed:
            return Line(
                level="FAILED",
                message=f"{replica} keeps failing, so applications in that region may read "
                f"an old key. Error: {record.error}",
                **parts,
            )
        if record.outcome == Outcome.DRY_RUN.value:
            return Line(
                level="DRYRUN", message=f"would repair {replica}: its replication failed.", **parts
            )
        return Line(
            level="ACTION",
            message=f"repaired {replica}: its replication had failed.",
            **parts,
        )
    return None


def _exemption_line(record: ActionRecord) -> ExemptionLine:
    return ExemptionLine(
        account_id=record.account_id,
        user_name=record.user_name,
        source=record.exemption_source or "",
        reason=record.exemption_reason,
        until=record.exempt_until,
    )


def days_remaining(due: datetime, now: datetime) -> int:
    """Whole days until ``due``, rounded as the spec says: round((due - now) / 1 day)."""
    return round((_as_utc(due) - _as_utc(now)) / timedelta(days=1))


def partition_name(partition: str) -> str:
    return _PARTITION_NAMES.get(partition, partition)


def is_email_address(value: str | None) -> bool:
    return bool(value) and bool(_EMAIL_ADDRESS.match(value or ""))


def _common_context(
    settings: RotationSettings, *, dry_run: bool, now: datetime, partition: str, sender: str
) -> dict[str, Any]:
    return {
        "mode": AUDIT_TEMPLATE if dry_run else ENFORCE_TEMPLATE,
        "dry_run": dry_run,
        "partition": partition,
        "partition_name": partition_name(partition),
        "detected_at": _format_time(now),
        "detected_at_iso": now.isoformat(),
        "rotation_period_days": settings.rotation_period_days,
        "installation_grace_days": settings.installation_grace_days,
        "recovery_grace_days": settings.recovery_grace_days,
        "warning_days": settings.warning_days,
        "require_new_key_use": settings.require_new_key_use,
        "new_key_use_deadline_days": settings.new_key_use_deadline_days,
        "sender_email": sender,
    }


def _section(
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
    locations: dict[tuple[str, str, str], NewKeyLocation] = {}
    for record in records:
        if (
            record.failed
            or not record.secret_name
            or record.action == ActionType.WARN.value
            or record.action in Notice.__members__
            or record.reason == Reason.NEW_KEY_USE_DEADLINE.name
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
                stored=record.outcome == Outcome.DONE.value,
            ),
        )
    return tuple(locations.values())


def _owner_sections(
    by_id: Mapping[str, Account],
    order: Sequence[str],
    lines_by_account: Mapping[str, Sequence[tuple[ActionRecord, Line]]],
) -> dict[str, list[AccountSection]]:
    """Each owner's records, grouped by account, owners keyed by their first spelling."""
    spelling: dict[str, str] = {}
    grouped: dict[str, dict[str, list[tuple[ActionRecord, Line]]]] = {}
    for account_id in order:
        for record, line in lines_by_account.get(account_id, []):
            owner = (record.owner or "").strip()
            # A tag value that is not an address (a team name, say) cannot be emailed.
            if not is_email_address(owner):
                continue
            owner = spelling.setdefault(owner.lower(), owner)
            grouped.setdefault(owner, {}).setdefault(account_id, []).append((record, line))
    return {
        owner: [_section(by_id, account_id, pairs) for account_id, pairs in accounts.items()]
        for owner, accounts in grouped.items()
    }


def _account_order(
    accounts: Sequence[Account], records: Sequence[ActionRecord], failures: Mapping[str, str]
) -> list[str]:
    """Accounts as the inventory listed them, then any others that records or failures name."""
    order = list(dict.fromkeys(account.id for account in accounts))
    known = set(order)
    extra = {record.account_id for record in records} | set(failures)
    return order + sorted(extra - known)


def _counts(sections: Sequence[AccountSection]) -> str:
    changes = sum(section.changes for section in sections)
    warnings = sum(section.warnings for section in sections)
    failures = sum(section.failures for section in sections)
    problems = sum(section.problems for section in sections)
    exempt = sum(len(section.exemptions) for section in sections)
    parts = []
    if changes:
        parts.append(_plural(changes, "action"))
    if warnings:
        parts.append(_plural(warnings, "warning"))
    if failures:
        parts.append(f"{failures} failed")
    if problems:
        parts.append(_plural(problems, "exemption problem"))
    if exempt:
        parts.append(f"{exempt} exempt")
    return ", ".join(parts) or "nothing to report"


def _reason_text(name: str) -> str:
    member = Reason.__members__.get(name)
    return member.text if member is not None else name


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _subject(text: str) -> str:
    # Account names and tag values end up in the subject: no line breaks in a header.
    return _CONTROL_CHARACTERS.sub(" ", text).strip()


def _format_time(moment: datetime) -> str:
    return _as_utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def _as_utc(moment: datetime) -> datetime:
    # Records carry ISO times written in UTC; a naive one is read as UTC, not local time.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
