"""The report's rows of one account, from what the rotation task scanned and recorded.
Pure: the scan's users, the action records and the policy settings in, rows out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from keyrotation.aws.scan import ScannedUser
from keyrotation.policy import ActionType, PolicySettings, Reason, evaluate_keys
from keyrotation.report.model import KeyRow
from keyrotation.results import Account, ActionRecord, Notice

__all__ = ["account_rows"]

#: Stand-in key ids of keys known from the credential report only (it names no key).
_SLOT = "credential-report-key-"

#: What a warning announces, named by the action (or event) it announces.
_ANNOUNCED: dict[Reason, str] = {
    Reason.KEY_PENDING_ROTATION: ActionType.ROTATE.value,
    Reason.KEY_PENDING_DEACTIVATION: ActionType.DEACTIVATE.value,
    Reason.NEW_KEY_NOT_IN_USE: ActionType.DEACTIVATE.value,
    Reason.KEY_PENDING_DELETION: ActionType.DELETE.value,
    Reason.KEY_PENDING_DELETION_CONFLICT: ActionType.DELETE.value,
    Reason.UNUSED_KEY_PENDING_DELETION: ActionType.DELETE.value,
    Reason.KEY_PENDING_EXPIRATION_CONFLICT: "EXPIRES",
    Reason.EXEMPTION_ENDING: "EXEMPTION_ENDS",
}


def account_rows(
    account: Account,
    *,
    users: Iterable[ScannedUser],
    records: Sequence[ActionRecord],
    unread: Iterable[ScannedUser] = (),
    now: datetime,
    policy: PolicySettings,
    owner_tag: str = "",
) -> list[KeyRow]:
    """One row per key of every scanned user (one row for a user without keys), one row
    per exempt user whose keys were not read, and one per key created by this run.

    ``unread`` are the users the credential report showed nothing due for: their keys as
    the report shows them, without ids."""
    by_key = {(r.user_name, r.access_key_id): r for r in records if r.access_key_id}
    exemptions = {r.user_name: r for r in records if r.action is Notice.EXEMPT}
    account_exemption = exemptions.pop("", None)
    rows: list[KeyRow] = []
    seen: set[str] = set()
    for user in [*users, *(_with_slots(u) for u in unread)]:
        seen.add(user.name)
        exemption = exemptions.get(user.name) or account_exemption
        base = KeyRow(
            account_id=account.id,
            account_name=account.name,
            user_name=user.name,
            access_key_id=None,
            status=None,
            created=None,
            last_used=None,
            owner=(user.tag(owner_tag) if owner_tag else None),
            exemption_reason=_why(exemption),
            exemption_until=exemption.exempt_until if exemption else None,
        )
        acted_on = {
            key.access_key_id
            for key in user.keys
            if (record := by_key.get((user.name, key.access_key_id)))
            and record.action != ActionType.WARN.value
        }
        upcoming = _next_actions(user, now=now, policy=policy, acted_on=acted_on)
        if not user.keys:
            rows.append(base)
        for key in user.keys:
            record = by_key.get((user.name, key.access_key_id))
            next_action, next_date = upcoming.get(key.access_key_id, (None, None))
            rows.append(
                replace(
                    base,
                    access_key_id=None
                    if key.access_key_id.startswith(_SLOT)
                    else key.access_key_id,
                    status=key.status,
                    created=key.created,
                    last_used=key.last_used,
                    owner=base.owner or (record.owner if record else None),
                    action=record.action if record else None,
                    reason=record.reason if record else None,
                    outcome=record.outcome if record else None,
                    next_action=next_action,
                    next_action_date=next_date,
                )
            )
            if record and record.new_access_key_id:
                rows.append(
                    replace(
                        base,
                        access_key_id=record.new_access_key_id,
                        status="Active",
                        created=now,
                        action="CREATED",
                        reason=record.reason,
                        outcome=record.outcome,
                        next_action=ActionType.ROTATE.value,
                        next_action_date=now + timedelta(days=policy.rotation_period_days),
                    )
                )
    for name, exemption in sorted(exemptions.items()):
        if name in seen:
            continue
        rows.append(
            KeyRow(
                account_id=account.id,
                account_name=account.name,
                user_name=name,
                access_key_id=None,
                status=None,
                created=None,
                last_used=None,
                exemption_reason=_why(exemption),
                exemption_until=exemption.exempt_until,
                outcome=exemption.outcome,
            )
        )
    return rows


def _next_actions(
    user: ScannedUser, *, now: datetime, policy: PolicySettings, acted_on: set[str]
) -> dict[str, tuple[str, datetime]]:
    """Each key's next pending action and its date, as the key policy itself announces it.

    The engine is asked at ``now`` and then every ``warning_days``: an event at X is warned
    about throughout [X - W, X), so one of those times falls in its window and the warning
    carries X exactly. Keys this run acts on are left out: their next step depends on the
    state the action leaves.
    """
    pending = {key.access_key_id for key in user.keys} - acted_on
    upcoming: dict[str, tuple[str, datetime]] = {}
    step = timedelta(days=policy.warning_days)
    last = now + timedelta(
        days=policy.rotation_period_days
        + policy.installation_grace_days
        + policy.recovery_grace_days
    )
    moment = now
    while pending and moment <= last:
        for action in evaluate_keys(user.key_metadata(), now=moment, settings=policy):
            if action.access_key_id not in pending:
                continue
            if action.action is ActionType.WARN and action.due is not None:
                announced = _ANNOUNCED.get(action.reason, ActionType.WARN.value)
                upcoming[action.access_key_id] = (announced, action.due)
            elif action.action is not ActionType.WARN and moment > now:
                upcoming[action.access_key_id] = (action.action.value, moment)
            else:
                continue
            pending.discard(action.access_key_id)
        moment += step
    return upcoming


def _with_slots(user: ScannedUser) -> ScannedUser:
    """The user with a stand-in id per key the credential report lists without one."""
    keys = tuple(
        replace(key, access_key_id=f"{_SLOT}{slot}") for slot, key in enumerate(user.keys, 1)
    )
    return replace(user, keys=keys)


def _why(exemption: ActionRecord | None) -> str | None:
    if exemption is None:
        return None
    source = exemption.exemption_source or "exempt"
    return f"{source}: {exemption.exemption_reason}" if exemption.exemption_reason else source
