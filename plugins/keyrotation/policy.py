"""The access key policy: a pure function from key metadata and a time to actions.

This module implements the decision table of the key policy specification. It does no
I/O and imports neither boto3 nor Airflow, so every case is testable in milliseconds.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

__all__ = [
    "Action",
    "ActionType",
    "KeyState",
    "PolicySettings",
    "PolicySettingsError",
    "Reason",
    "evaluate_keys",
]

ACTIVE = "Active"
INACTIVE = "Inactive"


class PolicySettingsError(ValueError):
    """A policy setting makes no sense; the message names the setting."""


class ActionType(enum.StrEnum):
    ROTATE = "ROTATE"
    ROTATE_AND_DELETE = "ROTATE_AND_DELETE"
    DEACTIVATE = "DEACTIVATE"
    DELETE = "DELETE"
    WARN = "WARN"

    @property
    def changes_iam(self) -> bool:
        return self is not ActionType.WARN


class Reason(enum.StrEnum):
    UNUSED_EXPIRED_KEY = "Expired key has never been used."
    EXPIRED_ACTIVE_KEY = "Active key has expired."
    FORCED_ROTATION = "Forced active key rotation."
    EXPIRED_ACTIVE_KEY_CONFLICT_LRU = "Expired active key with conflict, least recently used."
    EXPIRED_INACTIVE_KEY_CONFLICT = "Expired key with conflict, already inactive."
    FORCED_ROTATION_CONFLICT_LRU = "Forced active key rotation with conflict, least recently used."
    FORCED_INACTIVE_KEY_CONFLICT = "Forced rotation with conflict, already inactive."
    INSTALL_GRACE_PERIOD_END = "Installation grace period has ended."
    RECOVER_GRACE_PERIOD_END = "Recovery grace period has ended."
    KEY_PENDING_ROTATION = "Key will be rotated soon."
    KEY_PENDING_DEACTIVATION = "Key will be deactivated soon, please install new key."
    KEY_PENDING_DELETION = "Key will be permanently deleted soon, please validate new key."
    KEY_PENDING_EXPIRATION_CONFLICT = (
        "Key will expire soon, cannot be rotated due to presence of other key."
    )
    KEY_PENDING_DELETION_CONFLICT = "Key will be permanently deleted soon, due to conflict."
    UNUSED_KEY_PENDING_DELETION = (
        "Key will be permanently deleted soon, key is about to expire and has never been used."
    )
    NEW_KEY_NOT_IN_USE = (
        "The new key has not been used yet: the old key stays active until it is, "
        "at the latest until the due date."
    )
    NEW_KEY_USE_DEADLINE = (
        "The new key was not used before the deadline: the old key is deactivated."
    )
    EXEMPTION_ENDING = "The exemption ends soon: the key policy applies again after the due date."

    @property
    def text(self) -> str:
        return self.value


@dataclass(frozen=True)
class PolicySettings:
    """The durations of the policy, in whole days, and the new-key-use safeguard.

    With ``require_new_key_use`` an expired key beside a never-used newer key stays
    active until the newer key is used, at the latest ``new_key_use_deadline_days``
    after the newer key's creation.
    """

    rotation_period_days: int = 90
    installation_grace_days: int = 10
    recovery_grace_days: int = 10
    warning_days: int = 7
    require_new_key_use: bool = True
    new_key_use_deadline_days: int = 30

    def __post_init__(self) -> None:
        if not isinstance(self.require_new_key_use, bool):
            raise PolicySettingsError(
                f"require_new_key_use must be true or false, got {self.require_new_key_use!r}"
            )
        for name in (
            "rotation_period_days",
            "installation_grace_days",
            "recovery_grace_days",
            "warning_days",
            "new_key_use_deadline_days",
        ):
            value = getattr(self, name)
            # bool is an int subclass; True days is a typo, not a duration.
            if isinstance(value, bool) or not isinstance(value, int):
                raise PolicySettingsError(f"{name} must be a whole number of days, got {value!r}")
            if value <= 0:
                raise PolicySettingsError(f"{name} must be at least 1 day, got {value}")
        if self.warning_days >= self.rotation_period_days:
            raise PolicySettingsError(
                f"warning_days ({self.warning_days}) must be less than "
                f"rotation_period_days ({self.rotation_period_days})"
            )
        # The deadline only means something with the safeguard on; with it off the
        # settings accepted are exactly those accepted without the safeguard.
        if self.require_new_key_use and not (
            self.installation_grace_days
            <= self.new_key_use_deadline_days
            < self.rotation_period_days
        ):
            raise PolicySettingsError(
                f"new_key_use_deadline_days ({self.new_key_use_deadline_days}) must be at "
                f"least installation_grace_days ({self.installation_grace_days}) and less "
                f"than rotation_period_days ({self.rotation_period_days})"
            )

    @property
    def rotation_period(self) -> timedelta:
        return timedelta(days=self.rotation_period_days)

    @property
    def installation_grace(self) -> timedelta:
        return timedelta(days=self.installation_grace_days)

    @property
    def recovery_grace(self) -> timedelta:
        return timedelta(days=self.recovery_grace_days)

    @property
    def warning_window(self) -> timedelta:
        return timedelta(days=self.warning_days)

    @property
    def new_key_use_deadline(self) -> timedelta:
        return timedelta(days=self.new_key_use_deadline_days)


@dataclass(frozen=True)
class Action:
    """One step of a user's plan. ``due`` is set for WARN only."""

    action: ActionType
    access_key_id: str
    user_name: str
    reason: Reason
    due: datetime | None = None


@dataclass(frozen=True)
class KeyState:
    """The facts about one access key that the policy looks at."""

    user_name: str
    access_key_id: str
    active: bool
    created: datetime
    used: datetime | None

    @classmethod
    def from_metadata(cls, key: Mapping[str, Any]) -> KeyState:
        """Read IAM ListAccessKeys metadata plus ``LastUsedDate`` (None: never used)."""
        try:
            user_name = key["UserName"]
            access_key_id = key["AccessKeyId"]
            status = key["Status"]
            created = key["CreateDate"]
        except KeyError as missing:
            raise ValueError(f"access key metadata lacks {missing.args[0]}") from None
        used = key.get("LastUsedDate")
        if status not in (ACTIVE, INACTIVE):
            raise ValueError(f"access key {access_key_id} has unknown status {status!r}")
        for label, moment in (("CreateDate", created), ("LastUsedDate", used)):
            if moment is not None and (
                not isinstance(moment, datetime) or moment.utcoffset() is None
            ):
                raise ValueError(
                    f"access key {access_key_id} {label} must be a timezone-aware datetime"
                )
        return cls(user_name, access_key_id, status == ACTIVE, created, used)


class _Clock:
    """The policy's notions of time for one evaluation."""

    def __init__(self, now: datetime, settings: PolicySettings) -> None:
        if not isinstance(now, datetime) or now.utcoffset() is None:
            raise ValueError("now must be a timezone-aware datetime")
        self.now = now
        self.settings = settings

    def expires(self, key: KeyState) -> datetime:
        return key.created + self.settings.rotation_period

    def past(self, moment: datetime) -> bool:
        return moment <= self.now

    def near(self, moment: datetime) -> bool:
        return moment <= self.now + self.settings.warning_window

    def expired(self, key: KeyState) -> bool:
        return self.past(self.expires(key))


def evaluate_keys(
    keys: Iterable[Mapping[str, Any]],
    *,
    now: datetime,
    settings: PolicySettings,
    force_rotate: bool = False,
    exempt_until: datetime | None = None,
) -> list[Action]:
    """Decide what to do with one user's access keys at ``now``.

    Returns the actions in execution order: a DELETE that makes room for a new key
    precedes the ROTATE that needs the room.

    ``exempt_until`` is the moment the user's exemption ends (exclusive). Before it the
    keys are left alone, except that within the warning window each key is told that the
    exemption ends (EXEMPTION_ENDING, due then); from it on the policy applies as usual.
    """
    clock = _Clock(now, settings)
    states = sorted(
        (KeyState.from_metadata(key) for key in keys),
        key=lambda k: (k.created, k.access_key_id),
    )
    if len(states) > 2:
        raise ValueError(f"user {states[0].user_name} has {len(states)} access keys; IAM allows 2")
    if len({k.user_name for k in states}) > 1:
        raise ValueError("evaluate_keys takes the keys of one user at a time")
    if exempt_until is not None:
        if not isinstance(exempt_until, datetime) or exempt_until.utcoffset() is None:
            raise ValueError("exempt_until must be a timezone-aware datetime")
        if not clock.past(exempt_until):
            if not clock.near(exempt_until):
                return []
            return [_warn(key, Reason.EXEMPTION_ENDING, exempt_until) for key in states]

    actions, remaining = _never_used_keys(states, clock)
    actions += _remaining_keys(remaining, clock, force_rotate)
    return actions


def _never_used_keys(
    keys: Sequence[KeyState], clock: _Clock
) -> tuple[list[Action], list[KeyState]]:
    actions: list[Action] = []
    remaining: list[KeyState] = []
    only_key = len(keys) == 1
    for key in keys:
        if key.used is not None:
            remaining.append(key)
        elif clock.expired(key):
            kind = ActionType.ROTATE_AND_DELETE if only_key and key.active else ActionType.DELETE
            actions.append(_act(kind, key, Reason.UNUSED_EXPIRED_KEY))
        else:
            if clock.near(clock.expires(key)):
                actions.append(_warn(key, Reason.UNUSED_KEY_PENDING_DELETION, clock.expires(key)))
            remaining.append(key)
    return actions, remaining


def _remaining_keys(keys: list[KeyState], clock: _Clock, force_rotate: bool) -> list[Action]:
    active = [k for k in keys if k.active]
    inactive = [k for k in keys if not k.active]
    if len(active) == 1 and not inactive:
        return _one_active(active[0], clock, force_rotate)
    if len(inactive) == 1 and not active:
        return _one_inactive(inactive[0], clock)
    if len(inactive) == 2:
        return _two_inactive(inactive[0], inactive[1], clock)
    if len(active) == 1 and len(inactive) == 1:
        return _active_and_inactive(active[0], inactive[0], clock, force_rotate)
    if len(active) == 2:
        return _two_active(active[0], active[1], clock, force_rotate)
    return []


def _one_active(key: KeyState, clock: _Clock, force_rotate: bool) -> list[Action]:
    if clock.expired(key):
        return [_act(ActionType.ROTATE, key, Reason.EXPIRED_ACTIVE_KEY)]
    if force_rotate:
        return [_act(ActionType.ROTATE, key, Reason.FORCED_ROTATION)]
    if clock.near(clock.expires(key)):
        return [_warn(key, Reason.KEY_PENDING_ROTATION, clock.expires(key))]
    return []


def _one_inactive(key: KeyState, clock: _Clock) -> list[Action]:
    delete_at = _after_both_graces(key.created, clock)
    if clock.past(delete_at):
        return [_act(ActionType.DELETE, key, Reason.RECOVER_GRACE_PERIOD_END)]
    if clock.near(delete_at):
        return [_warn(key, Reason.KEY_PENDING_DELETION, delete_at)]
    return []


def _two_inactive(first: KeyState, second: KeyState, clock: _Clock) -> list[Action]:
    first_expired, second_expired = clock.expired(first), clock.expired(second)
    if first_expired and second_expired:
        return [
            _act(ActionType.DELETE, first, Reason.RECOVER_GRACE_PERIOD_END),
            _act(ActionType.DELETE, second, Reason.RECOVER_GRACE_PERIOD_END),
        ]
    if not (first_expired or second_expired):
        return []
    older, newer = (first, second) if first_expired else (second, first)
    delete_at = _after_both_graces(newer.created, clock)
    return _delete_with_pending(older, newer, delete_at, clock)


def _active_and_inactive(
    active: KeyState, inactive: KeyState, clock: _Clock, force_rotate: bool
) -> list[Action]:
    if clock.expired(active):
        return [
            _act(ActionType.DELETE, inactive, Reason.EXPIRED_INACTIVE_KEY_CONFLICT),
            _act(ActionType.ROTATE, active, Reason.EXPIRED_ACTIVE_KEY),
        ]
    if force_rotate:
        return [
            _act(ActionType.DELETE, inactive, Reason.FORCED_INACTIVE_KEY_CONFLICT),
            _act(ActionType.ROTATE, active, Reason.FORCED_ROTATION),
        ]
    rotated_at = max(active.created, inactive.used) if inactive.used else active.created
    delete_at = _after_both_graces(rotated_at, clock)
    return _delete_with_pending(inactive, active, delete_at, clock)


def _two_active(
    first: KeyState, second: KeyState, clock: _Clock, force_rotate: bool
) -> list[Action]:
    first_expired, second_expired = clock.expired(first), clock.expired(second)
    if first_expired and second_expired:
        doomed, kept = _least_recently_used(first, second)
        return [
            _act(ActionType.DELETE, doomed, Reason.EXPIRED_ACTIVE_KEY_CONFLICT_LRU),
            _act(ActionType.ROTATE, kept, Reason.EXPIRED_ACTIVE_KEY),
        ]
    if force_rotate:
        doomed, kept = _least_recently_used(first, second)
        return [
            _act(ActionType.DELETE, doomed, Reason.FORCED_ROTATION_CONFLICT_LRU),
            _act(ActionType.ROTATE, kept, Reason.FORCED_ROTATION),
        ]
    if first_expired or second_expired:
        expired, unexpired = (first, second) if first_expired else (second, first)
        if clock.settings.require_new_key_use and unexpired.used is None:
            return _expired_beside_unused_new_key(expired, unexpired, clock)
        deactivate_at = unexpired.created + clock.settings.installation_grace
        unexpired_expires = clock.expires(unexpired)
        if clock.past(deactivate_at):
            actions = [_act(ActionType.DEACTIVATE, expired, Reason.INSTALL_GRACE_PERIOD_END)]
            if clock.near(unexpired_expires):
                actions.append(_warn(unexpired, Reason.KEY_PENDING_ROTATION, unexpired_expires))
            return actions
        if clock.near(unexpired_expires):
            return _conflict_warnings(expired, unexpired, unexpired_expires)
        if clock.near(deactivate_at):
            return [_warn(expired, Reason.KEY_PENDING_DEACTIVATION, deactivate_at)]
        return []
    old, new = sorted((first, second), key=lambda k: (clock.expires(k), k.access_key_id))
    if clock.near(clock.expires(new)):
        return _conflict_warnings(old, new, clock.expires(new))
    if clock.near(clock.expires(old)):
        return [_warn(old, Reason.KEY_PENDING_EXPIRATION_CONFLICT, clock.expires(old))]
    return []


def _expired_beside_unused_new_key(
    expired: KeyState, unexpired: KeyState, clock: _Clock
) -> list[Action]:
    """The safeguard: the expired key stays active until the new key is used.

    Deactivating on time alone would cut off every application that has not installed
    the new key yet; the deadline bounds how long an expired key can live on.
    """
    deadline = unexpired.created + clock.settings.new_key_use_deadline
    install_by = unexpired.created + clock.settings.installation_grace
    unexpired_expires = clock.expires(unexpired)
    if clock.past(deadline):
        actions = [_act(ActionType.DEACTIVATE, expired, Reason.NEW_KEY_USE_DEADLINE)]
        if clock.near(unexpired_expires):
            actions.append(_warn(unexpired, Reason.KEY_PENDING_ROTATION, unexpired_expires))
        return actions
    if clock.near(unexpired_expires):
        return _conflict_warnings(expired, unexpired, unexpired_expires)
    if clock.past(install_by):
        return [_warn(expired, Reason.NEW_KEY_NOT_IN_USE, deadline)]
    if clock.near(install_by):
        return [_warn(expired, Reason.KEY_PENDING_DEACTIVATION, install_by)]
    return []


def _delete_with_pending(
    doomed: KeyState, kept: KeyState, delete_at: datetime, clock: _Clock
) -> list[Action]:
    """The shared tail of "one expired Inactive key beside a newer key"."""
    kept_expires = clock.expires(kept)
    if clock.past(delete_at):
        actions = [_act(ActionType.DELETE, doomed, Reason.RECOVER_GRACE_PERIOD_END)]
        if clock.near(kept_expires):
            actions.append(_warn(kept, Reason.KEY_PENDING_ROTATION, kept_expires))
        return actions
    if clock.near(kept_expires):
        return _conflict_warnings(doomed, kept, kept_expires)
    if clock.near(delete_at):
        return [_warn(doomed, Reason.KEY_PENDING_DELETION, delete_at)]
    return []


def _conflict_warnings(doomed: KeyState, kept: KeyState, due: datetime) -> list[Action]:
    return [
        _warn(doomed, Reason.KEY_PENDING_DELETION_CONFLICT, due),
        _warn(kept, Reason.KEY_PENDING_ROTATION, due),
    ]


def _least_recently_used(first: KeyState, second: KeyState) -> tuple[KeyState, KeyState]:
    """Return (key to delete, key to rotate) by the spec's LRU choice."""
    if first.used and second.used:
        ranked = sorted((first, second), key=lambda k: (k.used, k.created, k.access_key_id))
    elif first.used or second.used:
        ranked = [second, first] if first.used else [first, second]
    else:
        ranked = sorted((first, second), key=lambda k: (k.created, k.access_key_id))
    return ranked[0], ranked[1]


def _after_both_graces(start: datetime, clock: _Clock) -> datetime:
    return start + clock.settings.installation_grace + clock.settings.recovery_grace


def _act(kind: ActionType, key: KeyState, reason: Reason) -> Action:
    return Action(kind, key.access_key_id, key.user_name, reason)


def _warn(key: KeyState, reason: Reason, due: datetime) -> Action:
    return Action(ActionType.WARN, key.access_key_id, key.user_name, reason, due)
