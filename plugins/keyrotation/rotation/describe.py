"""An action record in words, for task logs: the per-user log line and the summary table.

Both say a record's outcome the same way (``outcome_words``). Emails have their own,
longer sentences (``keyrotation.notification.wording``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from keyrotation.aws.scan import ScannedUser
from keyrotation.policy import Reason
from keyrotation.results import ActionRecord, Notice

__all__ = ["describe_keys", "describe_record", "outcome_words", "summary_table"]

_SUMMARY_COLUMNS = ("user", "access key", "action", "reason", "due", "outcome")


def outcome_words(record: ActionRecord, *, detail: str = "") -> str:
    """The record's outcome, then ``detail``, then the error that explains the outcome."""
    return record.outcome + detail + (f": {record.error}" if record.error else "")


def describe_record(record: ActionRecord) -> str:
    """One record as its part of a user's log line."""
    if record.reason not in Reason.__members__:
        return f"{record.action} -> {outcome_words(record)}"
    text = f"{record.access_key_id} {record.action}"
    if record.due:
        text += f" due {record.due}"
    text += f" ({Reason[record.reason].text}) -> "
    if record.new_access_key_id:
        where = f", new key {record.new_access_key_id} in secret {record.secret_name}"
    elif record.secret_name:
        where = f", secret {record.secret_name}"
    else:
        where = ""
    return text + outcome_words(record, detail=where)


def describe_keys(user: ScannedUser, now: datetime) -> str:
    """A user's keys as the run saw them, for the log line of a user with nothing to do."""
    if not user.keys:
        return "no access keys"
    parts = []
    for key in user.keys:
        days = (now - key.created).days
        age = f"{days} days old" if days >= 0 else "created after the evaluation time"
        used = "" if key.last_used else ", never used"
        parts.append(f"{key.status} {age}{used}")
    return f"keys: {'; '.join(parts)}"


def summary_table(records: Iterable[ActionRecord]) -> str:
    """A fixed-width table of the records, for task logs."""
    rows = [
        (
            r.user_name or ("(account)" if r.action is Notice.EXEMPT else ""),
            r.access_key_id or r.secret_name or "",
            r.action,
            _summary_reason(r),
            (r.exempt_until or r.due or "")[:10],
            outcome_words(r),
        )
        for r in records
    ]
    if not rows:
        return "no action and no warning"
    widths = [
        max(len(str(v)) for v in column) for column in zip(_SUMMARY_COLUMNS, *rows, strict=True)
    ]
    lines = [
        "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
        for row in (_SUMMARY_COLUMNS, tuple("-" * w for w in widths), *rows)
    ]
    return "\n".join(lines)


def _summary_reason(record: ActionRecord) -> str:
    if record.action is Notice.EXEMPT:
        why = f": {record.exemption_reason}" if record.exemption_reason else ""
        return f"{record.exemption_source or 'exempt'}{why}"
    if record.action is Notice.REPAIR_REPLICA:
        return f"replica in {record.secret_region}"
    return record.reason
