"""What one action record says in an email: its level and its sentence.

Every sentence of an action line is built here, once, so that the HTML and the
plain-text part of an email say exactly the same thing. Records are read into the
policy's enums (``ActionType``, ``Notice``, ``Reason``, ``Outcome``) once, and every
decision below compares enums.

Records never hold a secret access key, and nothing here adds one: a line tells where
the new key is stored (secret name and region), never its value.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from keyrotation.policy import ActionType, Reason
from keyrotation.results import ActionRecord, Notice, Outcome
from keyrotation.utc import as_utc, format_utc

__all__ = [
    "Level",
    "Line",
    "days_remaining",
    "describe_record",
    "plural",
    "reason_of",
]


class Level(enum.StrEnum):
    """How a line is flagged; templates show and colour it by this word."""

    ACTION = "ACTION"  # a change made
    DRYRUN = "DRYRUN"  # a change audit mode would make
    WARNING = "WARNING"  # an announced action
    CRITICAL = "CRITICAL"  # an announced action that may break a key still in use
    FAILED = "FAILED"  # a change that failed
    PROBLEM = "PROBLEM"  # neither a change nor a warning: something to fix by hand
    NOT_APPROVED = "NOT APPROVED"  # a change the run's approval gate held back

    @property
    def is_change(self) -> bool:
        return self in (Level.ACTION, Level.DRYRUN)

    @property
    def is_warning(self) -> bool:
        return self in (Level.WARNING, Level.CRITICAL)


# The two conflict warnings announce that a key will go although it may still be in use.
_CRITICAL_REASONS = frozenset(
    {Reason.KEY_PENDING_DELETION_CONFLICT, Reason.KEY_PENDING_EXPIRATION_CONFLICT}
)

# What the owner must do before a warned action falls due (the spec's wording rules).
_INSTRUCTIONS = {
    Reason.KEY_PENDING_ROTATION: (
        "Be ready to install the new key: it will be stored in AWS Secrets Manager when "
        "this key is rotated."
    ),
    Reason.KEY_PENDING_DEACTIVATION: (
        "Verify that the new key is installed wherever this key is used: this key will "
        "then be deactivated."
    ),
    Reason.KEY_PENDING_DELETION: (
        "Verify that the new key works: this key will then be permanently deleted."
    ),
    Reason.KEY_PENDING_DELETION_CONFLICT: (
        "Make sure this key is not in use: it will be permanently deleted so that the "
        "user's other key can be rotated."
    ),
    Reason.KEY_PENDING_EXPIRATION_CONFLICT: (
        "Make sure this key is not in use: the user has another key, so this key cannot "
        "be rotated and will be taken out of service when it expires."
    ),
    Reason.UNUSED_KEY_PENDING_DELETION: (
        "This key has never been used: it will be permanently deleted when it expires."
    ),
    Reason.EXEMPTION_ENDING: (
        "Be ready for the key policy: after the due date this key is rotated, deactivated "
        "or deleted like any other key when it falls due."
    ),
}


@dataclass(frozen=True)
class Line:
    """One action record in words, plus its parts for templates that lay it out themselves.

    ``action`` and ``reason`` are the record's names (``ROTATE``, ``EXPIRED_ACTIVE_KEY``),
    ``reason_text`` the spec's words for the reason.
    """

    level: Level
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


def reason_of(record: ActionRecord) -> Reason | None:
    return Reason.__members__.get(record.reason)


def describe_record(record: ActionRecord, *, now: datetime) -> Line:
    """The line of an email that tells one record, with the spec's words for its reason."""
    if record.outcome is Outcome.NOT_APPROVED:
        return _not_approved(record, now=now)
    action, reason, outcome = record.action, reason_of(record), record.outcome
    reason_text = reason.text if reason is not None else record.reason
    parts: dict[str, Any] = {
        "account_id": record.account_id,
        "user_name": record.user_name,
        "access_key_id": record.access_key_id,
        "action": action,
        "reason": record.reason,
        "reason_text": reason_text,
        "outcome": outcome,
        "owner": record.owner,
        "error": record.error,
        "secret_name": record.secret_name,
        "secret_region": record.secret_region,
        "new_access_key_id": record.new_access_key_id,
    }
    if isinstance(action, Notice) and action in _NOTICE_WORDS:
        level, message = _NOTICE_WORDS[action](record, outcome)
        return Line(level=level, message=message, **parts)

    key = f"key {record.access_key_id} of {record.user_name}"
    if record.failed:
        message = f"could not {record.action} {key}: {reason_text}"
        if record.error:
            message += f" Error: {record.error}"
        return Line(level=Level.FAILED, message=message, **parts)

    if action is ActionType.WARN:
        return _warning(record, reason, key, reason_text, parts, now=now)

    dry = outcome is Outcome.DRY_RUN
    level = Level.DRYRUN if dry else Level.ACTION
    message = f"{f'would {record.action}' if dry else record.action} {key}: {reason_text}"
    if reason is Reason.NEW_KEY_USE_DEADLINE:
        message += (
            f" Applications still using this key stop working: install the new key from "
            f"{_secret_words(record)}. In an emergency the old key can be reactivated in IAM "
            f"until it is deleted."
        )
    elif record.secret_name:
        new_key = f"new key {record.new_access_key_id}" if record.new_access_key_id else "new key"
        where = f"secret {record.secret_name} ({record.secret_region or 'unknown region'})"
        message += f" The {new_key} {'would be' if dry else 'is'} stored in {where}."
    return Line(level=level, message=message, **parts)


def _not_approved(record: ActionRecord, *, now: datetime) -> Line:
    """The change a dry run would announce, said to be held back, with the gate's reason."""
    would = describe_record(replace(record, outcome=Outcome.DRY_RUN), now=now)
    why = f" ({record.error})" if record.error else ""
    return replace(
        would,
        level=Level.NOT_APPROVED,
        message=f"{would.message} This change was not approved{why}.",
        outcome=Outcome.NOT_APPROVED,
        error=record.error,
    )


def _warning(
    record: ActionRecord,
    reason: Reason | None,
    key: str,
    reason_text: str,
    parts: dict[str, Any],
    *,
    now: datetime,
) -> Line:
    due_at = record.due_at
    if reason is Reason.NEW_KEY_NOT_IN_USE:
        instruction: str | None = _install_new_key(record, until=due_at)
    else:
        instruction = _INSTRUCTIONS.get(reason) if reason is not None else None
    message = f"{key}: {reason_text}"
    remaining = due = None
    if due_at is not None:
        remaining = days_remaining(due_at, now)
        due = format_utc(due_at)
        message += f" {plural(remaining, 'day')} remaining (due {due})."
    if instruction:
        message += f" {instruction}"
    return Line(
        level=Level.CRITICAL if reason in _CRITICAL_REASONS else Level.WARNING,
        message=message,
        due=due,
        days_remaining=remaining,
        instruction=instruction,
        **parts,
    )


def _install_new_key(record: ActionRecord, *, until: datetime | None) -> str:
    latest = f", at the latest until {format_utc(until)}" if until is not None else ""
    return (
        f"Install the new key from {_secret_words(record)}; the old key stays active until "
        f"the new one is used{latest}."
    )


def _secret_words(record: ActionRecord) -> str:
    if not record.secret_name:
        return "its secret in AWS Secrets Manager"
    region = f" ({record.secret_region})" if record.secret_region else ""
    return f"secret {record.secret_name}{region}"


def _exemption_problem_words(record: ActionRecord, outcome: Outcome | None) -> tuple[Level, str]:
    return Level.PROBLEM, f"{record.error} Fix the tag value (a date YYYY-MM-DD) or remove the tag."


def _replica_words(record: ActionRecord, outcome: Outcome | None) -> tuple[Level, str]:
    replica = f"the replica of secret {record.secret_name} in region {record.secret_region}"
    if record.failed:
        return (
            Level.FAILED,
            f"{replica} keeps failing, so applications in that region may read an old "
            f"key. Error: {record.error}",
        )
    if outcome is Outcome.DRY_RUN:
        return Level.DRYRUN, f"would repair {replica}: its replication failed."
    return Level.ACTION, f"repaired {replica}: its replication had failed."


def _orphaned_secret_words(record: ActionRecord, outcome: Outcome | None) -> tuple[Level, str]:
    secret = f"secret {record.secret_name} ({record.secret_region or 'unknown region'})"
    gone = f"IAM user {record.user_name} no longer exists"
    if record.failed:
        return (
            Level.FAILED,
            f"could not schedule the deletion of {secret}: {gone}. Error: {record.error}",
        )
    if outcome is Outcome.DRY_RUN:
        return (
            Level.DRYRUN,
            f"would schedule the deletion of {secret}: {gone}, so the key it holds is dead.",
        )
    if outcome is Outcome.REPORTED:
        return (
            Level.WARNING,
            f"{secret} holds the key of a user that no longer exists ({gone}); deleting such "
            f"secrets is turned off (setting delete_orphaned_secrets).",
        )
    due = f" on {format_utc(record.due_at)}" if record.due_at else ""
    return (
        Level.ACTION,
        f"scheduled the deletion of {secret}{due}: {gone}, so the key it holds is dead. "
        f"Until then the secret can be restored (RestoreSecret).",
    )


# Records that are no key action of the policy, and their words. EXEMPT records are
# listed as exemptions, not as lines.
_NOTICE_WORDS: dict[Notice, Callable[[ActionRecord, Outcome | None], tuple[Level, str]]] = {
    Notice.EXEMPTION_PROBLEM: _exemption_problem_words,
    Notice.DELETE_ORPHANED_SECRET: _orphaned_secret_words,
    Notice.REPAIR_REPLICA: _replica_words,
}


def days_remaining(due: datetime, now: datetime) -> int:
    """Whole days until ``due``, rounded as the spec says: round((due - now) / 1 day)."""
    return round((as_utc(due) - as_utc(now)) / timedelta(days=1))


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
