"""The key policy decision table: one test per row, at the exact boundaries.

Every time is built around one fixed ``NOW`` and, unless a test says otherwise, the
default settings (P = 90, I = 10, R = 10, W = 7 days). A key created ``NOW - 90 days``
expires exactly now, which counts as expired; a due date of exactly ``NOW + 7 days`` is
near, one second later it is not.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from keyrotation.policy import Action, ActionType, PolicySettings, Reason, evaluate_keys

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
DEFAULTS = PolicySettings()
UNSAFEGUARDED = PolicySettings(require_new_key_use=False)
UNEVEN_GRACES = PolicySettings(installation_grace_days=3, recovery_grace_days=12)
USER = "alice"

# Key ids deliberately sort against creation order in several tests, so a test passes
# only if the engine picks keys by their dates, not by their ids.
OLD = "AKIAZZZZOLDKEY000001"
NEW = "AKIAAAAANEWKEY000002"
ACTIVE = "AKIAACTIVEKEY0000003"
INACTIVE = "AKIAINACTIVEKEY00004"

# The reasons table of the specification, copied by hand: the product's words are part
# of its contract with the key owners who read them.
REASON_TEXTS = {
    "UNUSED_EXPIRED_KEY": "Expired key has never been used.",
    "EXPIRED_ACTIVE_KEY": "Active key has expired.",
    "FORCED_ROTATION": "Forced active key rotation.",
    "EXPIRED_ACTIVE_KEY_CONFLICT_LRU": "Expired active key with conflict, least recently used.",
    "EXPIRED_INACTIVE_KEY_CONFLICT": "Expired key with conflict, already inactive.",
    "FORCED_ROTATION_CONFLICT_LRU": (
        "Forced active key rotation with conflict, least recently used."
    ),
    "FORCED_INACTIVE_KEY_CONFLICT": "Forced rotation with conflict, already inactive.",
    "INSTALL_GRACE_PERIOD_END": "Installation grace period has ended.",
    "RECOVER_GRACE_PERIOD_END": "Recovery grace period has ended.",
    "KEY_PENDING_ROTATION": "Key will be rotated soon.",
    "KEY_PENDING_DEACTIVATION": "Key will be deactivated soon, please install new key.",
    "KEY_PENDING_DELETION": "Key will be permanently deleted soon, please validate new key.",
    "KEY_PENDING_EXPIRATION_CONFLICT": (
        "Key will expire soon, cannot be rotated due to presence of other key."
    ),
    "KEY_PENDING_DELETION_CONFLICT": "Key will be permanently deleted soon, due to conflict.",
    "UNUSED_KEY_PENDING_DELETION": (
        "Key will be permanently deleted soon, key is about to expire and has never been used."
    ),
    "NEW_KEY_NOT_IN_USE": (
        "The new key has not been used yet: the old key stays active until it is, "
        "at the latest until the due date."
    ),
    "NEW_KEY_USE_DEADLINE": (
        "The new key was not used before the deadline: the old key is deactivated."
    ),
    "EXEMPTION_ENDING": (
        "The exemption ends soon: the key policy applies again after the due date."
    ),
}


def key(
    key_id: str, *, created: datetime, used: datetime | None, active: bool = True
) -> dict[str, Any]:
    """IAM ListAccessKeys metadata of one of alice's keys, plus its LastUsedDate."""
    metadata: dict[str, Any] = {
        "UserName": USER,
        "AccessKeyId": key_id,
        "Status": "Active" if active else "Inactive",
        "CreateDate": created,
    }
    if used is not None:
        metadata["LastUsedDate"] = used
    return metadata


def expiring(at: datetime) -> datetime:
    """The creation time of a key that expires at ``at`` under the default period."""
    return at - DEFAULTS.rotation_period


def act(kind: ActionType, key_id: str, reason: Reason) -> Action:
    return Action(kind, key_id, USER, reason)


def warn(key_id: str, reason: Reason, due: datetime) -> Action:
    return Action(ActionType.WARN, key_id, USER, reason, due)


def assert_plan(
    keys: list[dict[str, Any]],
    expected: list[Action],
    *,
    force: bool = False,
    settings: PolicySettings = DEFAULTS,
    exempt_until: datetime | None = None,
) -> None:
    """Evaluate ``keys`` (in both orders) and compare with the expected plan, in order."""
    options: dict[str, Any] = {
        "now": NOW,
        "settings": settings,
        "force_rotate": force,
        "exempt_until": exempt_until,
    }
    plan = evaluate_keys(keys, **options)
    assert plan == expected
    for action in plan:
        assert action.reason.text == REASON_TEXTS[action.reason.name]
    reordered = evaluate_keys(keys[::-1], **options)
    assert reordered == expected


# --- the vocabulary ---------------------------------------------------------------------


def test_reasons_are_exactly_those_of_the_spec() -> None:
    assert {member.name: member.text for member in Reason} == REASON_TEXTS
    assert len(Reason) == 18


@pytest.mark.parametrize("name", sorted(REASON_TEXTS))
def test_reason_renders_as_its_text(name: str) -> None:
    reason = Reason[name]
    assert str(reason) == REASON_TEXTS[name]
    assert reason.value == REASON_TEXTS[name]


def test_action_types_are_those_of_the_spec() -> None:
    assert {member.name for member in ActionType} == {
        "ROTATE",
        "DEACTIVATE",
        "DELETE",
        "ROTATE_AND_DELETE",
        "WARN",
    }
    assert [kind for kind in ActionType if not kind.changes_iam] == [ActionType.WARN]


# --- Step 1: never-used keys ------------------------------------------------------------


def test_never_used_expired_only_active_key_rotates_and_deletes() -> None:
    assert_plan(
        [key(OLD, created=expiring(NOW), used=None)],
        [act(ActionType.ROTATE_AND_DELETE, OLD, Reason.UNUSED_EXPIRED_KEY)],
    )


def test_never_used_only_active_key_expiring_one_second_later_is_not_expired() -> None:
    # Not expired, so Step 1 only warns; the key stays and Step 2 warns about rotation.
    due = NOW + SECOND
    assert_plan(
        [key(OLD, created=expiring(due), used=None)],
        [
            warn(OLD, Reason.UNUSED_KEY_PENDING_DELETION, due),
            warn(OLD, Reason.KEY_PENDING_ROTATION, due),
        ],
    )


def test_never_used_expired_only_inactive_key_is_deleted() -> None:
    assert_plan(
        [key(OLD, created=expiring(NOW), used=None, active=False)],
        [act(ActionType.DELETE, OLD, Reason.UNUSED_EXPIRED_KEY)],
    )


@pytest.mark.parametrize("other_active", [True, False], ids=["other-active", "other-inactive"])
def test_never_used_expired_key_with_another_key_is_deleted(other_active: bool) -> None:
    # Rotating here would need a third key; the other key is fresh and stays untouched.
    assert_plan(
        [
            key(OLD, created=expiring(NOW), used=None),
            key(NEW, created=NOW - 2 * DAY, used=NOW - DAY, active=other_active),
        ],
        [act(ActionType.DELETE, OLD, Reason.UNUSED_EXPIRED_KEY)],
    )


def test_never_used_expired_key_leaves_the_evaluation() -> None:
    # Without Step 1, two expired Active keys would be an LRU conflict; with it, the
    # never-used key is gone and the remaining key is a lone expired Active key.
    assert_plan(
        [
            key(OLD, created=expiring(NOW) - DAY, used=None),
            key(NEW, created=expiring(NOW), used=NOW - DAY),
        ],
        [
            act(ActionType.DELETE, OLD, Reason.UNUSED_EXPIRED_KEY),
            act(ActionType.ROTATE, NEW, Reason.EXPIRED_ACTIVE_KEY),
        ],
    )


def test_never_used_key_near_expiry_warns_and_stays_in_the_evaluation() -> None:
    due = NOW + DEFAULTS.warning_window
    assert_plan(
        [
            key(OLD, created=expiring(due), used=None),
            key(NEW, created=NOW - 5 * DAY, used=NOW - DAY),
        ],
        [
            warn(OLD, Reason.UNUSED_KEY_PENDING_DELETION, due),
            # Step 2 still sees two Active keys: the older expires within the window.
            warn(OLD, Reason.KEY_PENDING_EXPIRATION_CONFLICT, due),
        ],
    )


def test_never_used_key_expiring_after_the_warning_window_is_left_alone() -> None:
    assert_plan(
        [key(OLD, created=expiring(NOW + DEFAULTS.warning_window + SECOND), used=None)],
        [],
    )


# --- Step 2: no key, one Active key ---------------------------------------------------


@pytest.mark.parametrize("force", [False, True])
def test_no_key_does_nothing(force: bool) -> None:
    assert evaluate_keys([], now=NOW, settings=DEFAULTS, force_rotate=force) == []


def test_one_active_expired_rotates() -> None:
    assert_plan(
        [key(OLD, created=expiring(NOW), used=NOW - DAY)],
        [act(ActionType.ROTATE, OLD, Reason.EXPIRED_ACTIVE_KEY)],
    )


def test_one_active_expired_and_forced_rotates_as_expired() -> None:
    assert_plan(
        [key(OLD, created=expiring(NOW), used=NOW - DAY)],
        [act(ActionType.ROTATE, OLD, Reason.EXPIRED_ACTIVE_KEY)],
        force=True,
    )


def test_one_active_forced_rotates() -> None:
    assert_plan(
        [key(OLD, created=NOW - 3 * DAY, used=NOW - DAY)],
        [act(ActionType.ROTATE, OLD, Reason.FORCED_ROTATION)],
        force=True,
    )


@pytest.mark.parametrize(
    "until_expiry", [SECOND, DEFAULTS.warning_window], ids=["one-second", "warning-window"]
)
def test_one_active_expiry_near_warns_pending_rotation(until_expiry: timedelta) -> None:
    due = NOW + until_expiry
    assert_plan(
        [key(OLD, created=expiring(due), used=NOW - DAY)],
        [warn(OLD, Reason.KEY_PENDING_ROTATION, due)],
    )


def test_one_active_expiry_beyond_warning_window_does_nothing() -> None:
    due = NOW + DEFAULTS.warning_window + SECOND
    assert_plan([key(OLD, created=expiring(due), used=NOW - DAY)], [])


# --- Step 2: one Inactive key (delete_at = created + I + R = created + 20 days) --------


def test_one_inactive_delete_at_past_deletes() -> None:
    assert_plan(
        [key(OLD, created=NOW - 20 * DAY, used=NOW - 15 * DAY, active=False)],
        [act(ActionType.DELETE, OLD, Reason.RECOVER_GRACE_PERIOD_END)],
    )


@pytest.mark.parametrize(
    "until_delete", [SECOND, DEFAULTS.warning_window], ids=["one-second", "warning-window"]
)
def test_one_inactive_delete_at_near_warns_pending_deletion(until_delete: timedelta) -> None:
    delete_at = NOW + until_delete
    assert_plan(
        [key(OLD, created=delete_at - 20 * DAY, used=NOW - 11 * DAY, active=False)],
        [warn(OLD, Reason.KEY_PENDING_DELETION, delete_at)],
    )


def test_one_inactive_delete_at_beyond_warning_window_does_nothing() -> None:
    delete_at = NOW + DEFAULTS.warning_window + SECOND
    assert_plan(
        [key(OLD, created=delete_at - 20 * DAY, used=NOW - 11 * DAY, active=False)],
        [],
    )


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (15 * DAY, [act(ActionType.DELETE, OLD, Reason.RECOVER_GRACE_PERIOD_END)]),
        (15 * DAY - SECOND, [warn(OLD, Reason.KEY_PENDING_DELETION, NOW + SECOND)]),
    ],
    ids=["grace-sum-past", "one-second-short"],
)
def test_one_inactive_delete_at_adds_both_distinct_graces(
    age: timedelta, expected: list[Action]
) -> None:
    # I and R differ, so a formula that counted either one twice would be caught.
    assert_plan(
        [key(OLD, created=NOW - age, used=NOW - 14 * DAY, active=False)],
        expected,
        settings=UNEVEN_GRACES,
    )


# --- Step 2: two Inactive keys ----------------------------------------------------------


def test_two_inactive_both_expired_deletes_both() -> None:
    assert_plan(
        [
            key(OLD, created=expiring(NOW) - DAY, used=NOW - 50 * DAY, active=False),
            key(NEW, created=expiring(NOW), used=NOW - 40 * DAY, active=False),
        ],
        [
            act(ActionType.DELETE, OLD, Reason.RECOVER_GRACE_PERIOD_END),
            act(ActionType.DELETE, NEW, Reason.RECOVER_GRACE_PERIOD_END),
        ],
    )


def test_two_inactive_one_expired_delete_at_past_deletes_older() -> None:
    # delete_at = NEW.created + 20 days = exactly now; NEW expires in 70 days.
    assert_plan(
        [
            key(OLD, created=expiring(NOW), used=NOW - 25 * DAY, active=False),
            key(NEW, created=NOW - 20 * DAY, used=NOW - 15 * DAY, active=False),
        ],
        [act(ActionType.DELETE, OLD, Reason.RECOVER_GRACE_PERIOD_END)],
    )


def test_two_inactive_one_expired_delete_at_past_warns_newer() -> None:
    new_expires = NOW + DEFAULTS.warning_window
    assert_plan(
        [
            key(OLD, created=expiring(NOW), used=NOW - 85 * DAY, active=False),
            key(NEW, created=expiring(new_expires), used=NOW - 60 * DAY, active=False),
        ],
        [
            act(ActionType.DELETE, OLD, Reason.RECOVER_GRACE_PERIOD_END),
            warn(NEW, Reason.KEY_PENDING_ROTATION, new_expires),
        ],
    )


def test_two_inactive_one_expired_newer_expiry_near_warns_conflict() -> None:
    # With the default graces (I + R = 20 < P - W = 83) a newer key whose deletion is not
    # yet due cannot expire within the window, so this row needs long graces.
    long_graces = PolicySettings(
        installation_grace_days=50, recovery_grace_days=50, new_key_use_deadline_days=50
    )
    new_expires = NOW + long_graces.warning_window  # delete_at = now + 17 days
    assert_plan(
        [
            key(OLD, created=expiring(NOW), used=NOW - 85 * DAY, active=False),
            key(NEW, created=expiring(new_expires), used=NOW - 60 * DAY, active=False),
        ],
        [
            warn(OLD, Reason.KEY_PENDING_DELETION_CONFLICT, new_expires),
            warn(NEW, Reason.KEY_PENDING_ROTATION, new_expires),
        ],
        settings=long_graces,
    )


def test_two_inactive_one_expired_delete_at_near_warns_pending_deletion() -> None:
    delete_at = NOW + DEFAULTS.warning_window
    assert_plan(
        [
            key(OLD, created=expiring(NOW), used=NOW - 25 * DAY, active=False),
            key(NEW, created=delete_at - 20 * DAY, used=NOW - 10 * DAY, active=False),
        ],
        [warn(OLD, Reason.KEY_PENDING_DELETION, delete_at)],
    )


def test_two_inactive_one_expired_delete_at_beyond_warning_window_does_nothing() -> None:
    delete_at = NOW + DEFAULTS.warning_window + SECOND
    assert_plan(
        [
            key(OLD, created=expiring(NOW), used=NOW - 25 * DAY, active=False),
            key(NEW, created=delete_at - 20 * DAY, used=NOW - 10 * DAY, active=False),
        ],
        [],
    )


def test_two_inactive_neither_expired_does_nothing() -> None:
    # Alone, each of these keys would be deleted (its recovery grace has ended).
    assert_plan(
        [
            key(OLD, created=expiring(NOW + SECOND), used=NOW - 80 * DAY, active=False),
            key(NEW, created=NOW - 30 * DAY, used=NOW - 25 * DAY, active=False),
        ],
        [],
    )


# --- Step 2: one Active (A) and one Inactive (X) key ------------------------------------


def test_active_and_inactive_active_expired_deletes_inactive_then_rotates() -> None:
    assert_plan(
        [
            key(ACTIVE, created=expiring(NOW), used=NOW - DAY),
            key(INACTIVE, created=NOW - 120 * DAY, used=NOW - 100 * DAY, active=False),
        ],
        [
            act(ActionType.DELETE, INACTIVE, Reason.EXPIRED_INACTIVE_KEY_CONFLICT),
            act(ActionType.ROTATE, ACTIVE, Reason.EXPIRED_ACTIVE_KEY),
        ],
    )


def test_active_and_inactive_forced_deletes_inactive_then_rotates() -> None:
    assert_plan(
        [
            key(ACTIVE, created=NOW - 3 * DAY, used=NOW - DAY),
            key(INACTIVE, created=NOW - 5 * DAY, used=NOW - 4 * DAY, active=False),
        ],
        [
            act(ActionType.DELETE, INACTIVE, Reason.FORCED_INACTIVE_KEY_CONFLICT),
            act(ActionType.ROTATE, ACTIVE, Reason.FORCED_ROTATION),
        ],
        force=True,
    )


def test_active_and_inactive_delete_at_past_deletes_inactive() -> None:
    # X was last used before A was created: rotated_at = A.created, delete_at = now.
    assert_plan(
        [
            key(ACTIVE, created=NOW - 20 * DAY, used=NOW - DAY),
            key(INACTIVE, created=NOW - 100 * DAY, used=NOW - 21 * DAY, active=False),
        ],
        [act(ActionType.DELETE, INACTIVE, Reason.RECOVER_GRACE_PERIOD_END)],
    )


def test_active_and_inactive_delete_at_past_warns_active_pending_rotation() -> None:
    active_expires = NOW + DEFAULTS.warning_window
    assert_plan(
        [
            key(ACTIVE, created=expiring(active_expires), used=NOW - DAY),
            key(INACTIVE, created=NOW - 170 * DAY, used=NOW - 84 * DAY, active=False),
        ],
        [
            act(ActionType.DELETE, INACTIVE, Reason.RECOVER_GRACE_PERIOD_END),
            warn(ACTIVE, Reason.KEY_PENDING_ROTATION, active_expires),
        ],
    )


def test_active_and_inactive_active_expiry_near_warns_conflict() -> None:
    # X was used 5 days ago, so rotated_at = X.used and delete_at = now + 15 days.
    active_expires = NOW + DEFAULTS.warning_window
    assert_plan(
        [
            key(ACTIVE, created=expiring(active_expires), used=NOW - DAY),
            key(INACTIVE, created=NOW - 170 * DAY, used=NOW - 5 * DAY, active=False),
        ],
        [
            warn(INACTIVE, Reason.KEY_PENDING_DELETION_CONFLICT, active_expires),
            warn(ACTIVE, Reason.KEY_PENDING_ROTATION, active_expires),
        ],
    )


def test_active_and_inactive_delete_at_near_warns_pending_deletion() -> None:
    delete_at = NOW + DEFAULTS.warning_window
    assert_plan(
        [
            key(ACTIVE, created=delete_at - 20 * DAY, used=NOW - DAY),
            key(INACTIVE, created=NOW - 100 * DAY, used=NOW - 30 * DAY, active=False),
        ],
        [warn(INACTIVE, Reason.KEY_PENDING_DELETION, delete_at)],
    )


def test_active_and_inactive_delete_at_beyond_warning_window_does_nothing() -> None:
    delete_at = NOW + DEFAULTS.warning_window + SECOND
    assert_plan(
        [
            key(ACTIVE, created=delete_at - 20 * DAY, used=NOW - DAY),
            key(INACTIVE, created=NOW - 100 * DAY, used=NOW - 30 * DAY, active=False),
        ],
        [],
    )


def test_active_and_inactive_rotated_at_is_inactive_last_use_when_later() -> None:
    # A was created 30 days ago (A.created + 20 days is past), but X was still used
    # 13 days ago: the grace periods count from that use, so deletion is only near.
    delete_at = NOW + DEFAULTS.warning_window
    assert_plan(
        [
            key(ACTIVE, created=NOW - 30 * DAY, used=NOW - DAY),
            key(INACTIVE, created=NOW - 100 * DAY, used=delete_at - 20 * DAY, active=False),
        ],
        [warn(INACTIVE, Reason.KEY_PENDING_DELETION, delete_at)],
    )


def test_active_and_inactive_rotated_at_inactive_last_use_reaches_deletion() -> None:
    assert_plan(
        [
            key(ACTIVE, created=NOW - 30 * DAY, used=NOW - DAY),
            key(INACTIVE, created=NOW - 100 * DAY, used=NOW - 20 * DAY, active=False),
        ],
        [act(ActionType.DELETE, INACTIVE, Reason.RECOVER_GRACE_PERIOD_END)],
    )


def test_active_and_inactive_rotated_at_is_active_creation_when_inactive_never_used() -> None:
    # X never used and not near its expiry: Step 1 leaves it, rotated_at = A.created.
    assert_plan(
        [
            key(ACTIVE, created=NOW - 20 * DAY, used=NOW - DAY),
            key(INACTIVE, created=NOW - 25 * DAY, used=None, active=False),
        ],
        [act(ActionType.DELETE, INACTIVE, Reason.RECOVER_GRACE_PERIOD_END)],
    )


def test_active_created_after_now_counts_from_its_creation() -> None:
    # A re-run of a past evaluation sees the key the later run created: it is simply not
    # expired, and X's grace periods count from that future creation.
    assert_plan(
        [
            key(ACTIVE, created=NOW + DAY, used=None),
            key(INACTIVE, created=NOW - 100 * DAY, used=NOW - 30 * DAY, active=False),
        ],
        [],
    )


# --- Step 2: two Active keys ------------------------------------------------------------


def test_two_active_both_expired_deletes_least_recently_used_then_rotates_other() -> None:
    # OLD is older but was used more recently: NEW is the least recently used.
    assert_plan(
        [
            key(OLD, created=expiring(NOW) - 10 * DAY, used=NOW - DAY),
            key(NEW, created=expiring(NOW), used=NOW - 2 * DAY),
        ],
        [
            act(ActionType.DELETE, NEW, Reason.EXPIRED_ACTIVE_KEY_CONFLICT_LRU),
            act(ActionType.ROTATE, OLD, Reason.EXPIRED_ACTIVE_KEY),
        ],
    )


def test_two_active_both_expired_takes_precedence_over_force() -> None:
    assert_plan(
        [
            key(OLD, created=expiring(NOW) - 10 * DAY, used=NOW - 3 * DAY),
            key(NEW, created=expiring(NOW), used=NOW - 2 * DAY),
        ],
        [
            act(ActionType.DELETE, OLD, Reason.EXPIRED_ACTIVE_KEY_CONFLICT_LRU),
            act(ActionType.ROTATE, NEW, Reason.EXPIRED_ACTIVE_KEY),
        ],
        force=True,
    )


def test_two_active_forced_both_used_deletes_least_recently_used() -> None:
    assert_plan(
        [
            key(OLD, created=NOW - 40 * DAY, used=NOW - DAY),
            key(NEW, created=NOW - 30 * DAY, used=NOW - 2 * DAY),
        ],
        [
            act(ActionType.DELETE, NEW, Reason.FORCED_ROTATION_CONFLICT_LRU),
            act(ActionType.ROTATE, OLD, Reason.FORCED_ROTATION),
        ],
        force=True,
    )


def test_two_active_forced_exactly_one_used_deletes_the_never_used_key() -> None:
    # The never-used key is the newer one, so "created first" would pick the other.
    assert_plan(
        [
            key(OLD, created=NOW - 40 * DAY, used=NOW - DAY),
            key(NEW, created=NOW - 30 * DAY, used=None),
        ],
        [
            act(ActionType.DELETE, NEW, Reason.FORCED_ROTATION_CONFLICT_LRU),
            act(ActionType.ROTATE, OLD, Reason.FORCED_ROTATION),
        ],
        force=True,
    )


def test_two_active_forced_neither_used_deletes_the_first_created() -> None:
    assert_plan(
        [
            key(OLD, created=NOW - 40 * DAY, used=None),
            key(NEW, created=NOW - 30 * DAY, used=None),
        ],
        [
            act(ActionType.DELETE, OLD, Reason.FORCED_ROTATION_CONFLICT_LRU),
            act(ActionType.ROTATE, NEW, Reason.FORCED_ROTATION),
        ],
        force=True,
    )


def test_two_active_one_expired_and_forced_uses_the_forced_lru_branch() -> None:
    assert_plan(
        [
            key(OLD, created=expiring(NOW), used=NOW - DAY),
            key(NEW, created=NOW - 20 * DAY, used=NOW - 2 * DAY),
        ],
        [
            act(ActionType.DELETE, NEW, Reason.FORCED_ROTATION_CONFLICT_LRU),
            act(ActionType.ROTATE, OLD, Reason.FORCED_ROTATION),
        ],
        force=True,
    )


def test_two_active_one_expired_deactivate_at_past_deactivates_expired() -> None:
    # deactivate_at = NEW.created + I = exactly now; NEW expires in 80 days.
    assert_plan(
        [
            key(OLD, created=expiring(NOW), used=NOW - DAY),
            key(NEW, created=NOW - DEFAULTS.installation_grace, used=NOW - DAY),
        ],
        [act(ActionType.DEACTIVATE, OLD, Reason.INSTALL_GRACE_PERIOD_END)],
    )


def test_two_active_one_expired_deactivate_at_counts_installation_grace_only() -> None:
    assert_plan(
        [
            key(OLD, created=expiring(NOW), used=NOW - DAY),
            key(NEW, created=NOW - 3 * DAY, used=NOW - DAY),
        ],
        [act(ActionType.DEACTIVATE, OLD, Reason.INSTALL_GRACE_PERIOD_END)],
        settings=UNEVEN_GRACES,
    )


def test_two_active_one_expired_deactivate_at_past_warns_unexpired() -> None:
    new_expires = NOW + DEFAULTS.warning_window
    assert_plan(
        [
            key(OLD, created=expiring(NOW) - 5 * DAY, used=NOW - DAY),
            key(NEW, created=expiring(new_expires), used=NOW - DAY),
        ],
        [
            act(ActionType.DEACTIVATE, OLD, Reason.INSTALL_GRACE_PERIOD_END),
            warn(NEW, Reason.KEY_PENDING_ROTATION, new_expires),
        ],
    )


def test_two_active_one_expired_unexpired_expiry_near_warns_conflict() -> None:
    # With the default I (10 < P - W = 83) an unexpired key whose installation grace is
    # still running cannot expire within the window, so this row needs a long grace.
    long_install = PolicySettings(installation_grace_days=85, new_key_use_deadline_days=85)
    new_expires = NOW + long_install.warning_window  # deactivate_at = now + 2 days
    assert_plan(
        [
            key(OLD, created=expiring(NOW), used=NOW - DAY),
            key(NEW, created=expiring(new_expires), used=NOW - DAY),
        ],
        [
            warn(OLD, Reason.KEY_PENDING_DELETION_CONFLICT, new_expires),
            warn(NEW, Reason.KEY_PENDING_ROTATION, new_expires),
        ],
        settings=long_install,
    )


def test_two_active_one_expired_deactivate_at_near_warns_pending_deactivation() -> None:
    deactivate_at = NOW + DEFAULTS.warning_window
    assert_plan(
        [
            key(OLD, created=expiring(NOW), used=NOW - DAY),
            key(NEW, created=deactivate_at - DEFAULTS.installation_grace, used=NOW - DAY),
        ],
        [warn(OLD, Reason.KEY_PENDING_DEACTIVATION, deactivate_at)],
    )


def test_two_active_one_expired_deactivate_at_beyond_warning_window_does_nothing() -> None:
    deactivate_at = NOW + DEFAULTS.warning_window + SECOND
    assert_plan(
        [
            key(OLD, created=expiring(NOW), used=NOW - DAY),
            key(NEW, created=deactivate_at - DEFAULTS.installation_grace, used=None),
        ],
        [],
    )


def test_two_active_neither_expired_newer_expiry_near_warns_conflict() -> None:
    new_expires = NOW + DEFAULTS.warning_window
    assert_plan(
        [
            key(OLD, created=expiring(NOW + SECOND), used=NOW - DAY),
            key(NEW, created=expiring(new_expires), used=NOW - DAY),
        ],
        [
            warn(OLD, Reason.KEY_PENDING_DELETION_CONFLICT, new_expires),
            warn(NEW, Reason.KEY_PENDING_ROTATION, new_expires),
        ],
    )


def test_two_active_neither_expired_older_expiry_near_warns_expiration_conflict() -> None:
    old_expires = NOW + DEFAULTS.warning_window
    assert_plan(
        [
            key(OLD, created=expiring(old_expires), used=NOW - DAY),
            key(NEW, created=expiring(old_expires + SECOND), used=NOW - DAY),
        ],
        [warn(OLD, Reason.KEY_PENDING_EXPIRATION_CONFLICT, old_expires)],
    )


def test_two_active_neither_expiry_near_does_nothing() -> None:
    assert_plan(
        [
            key(OLD, created=expiring(NOW + DEFAULTS.warning_window + SECOND), used=NOW - DAY),
            key(NEW, created=NOW - 10 * DAY, used=NOW - DAY),
        ],
        [],
    )


# --- Safeguard: the old key waits for the new one (U never used, G = 30 days) ----------
#
# E, the expired key, is OLD; U, the unexpired never-used key, is NEW. The deadline is
# U.created + G; the installation grace ends at U.created + I.


def test_safeguard_defaults_are_on_with_a_thirty_day_deadline() -> None:
    assert DEFAULTS.require_new_key_use is True
    assert DEFAULTS.new_key_use_deadline == timedelta(days=30)


def test_safeguard_unused_new_key_past_installation_grace_keeps_old_key_and_warns() -> None:
    # U.created + I is exactly now: without the safeguard OLD would be deactivated.
    new_created = NOW - DEFAULTS.installation_grace
    keys = [
        key(OLD, created=expiring(NOW), used=NOW - DAY),
        key(NEW, created=new_created, used=None),
    ]
    assert_plan(
        keys,
        [warn(OLD, Reason.NEW_KEY_NOT_IN_USE, new_created + DEFAULTS.new_key_use_deadline)],
    )
    assert_plan(
        keys,
        [act(ActionType.DEACTIVATE, OLD, Reason.INSTALL_GRACE_PERIOD_END)],
        settings=UNSAFEGUARDED,
    )


def test_safeguard_new_key_used_one_second_after_creation_counts_as_used() -> None:
    new_created = NOW - DEFAULTS.installation_grace
    assert_plan(
        [
            key(OLD, created=expiring(NOW), used=NOW - DAY),
            key(NEW, created=new_created, used=new_created + SECOND),
        ],
        [act(ActionType.DEACTIVATE, OLD, Reason.INSTALL_GRACE_PERIOD_END)],
    )


def test_safeguard_deadline_exactly_now_deactivates_old_key() -> None:
    # U.created + G is exactly now: past.
    assert_plan(
        [
            key(OLD, created=expiring(NOW) - 40 * DAY, used=NOW - DAY),
            key(NEW, created=NOW - DEFAULTS.new_key_use_deadline, used=None),
        ],
        [act(ActionType.DEACTIVATE, OLD, Reason.NEW_KEY_USE_DEADLINE)],
    )


def test_safeguard_deadline_one_second_ahead_still_warns_not_in_use() -> None:
    deadline = NOW + SECOND
    assert_plan(
        [
            key(OLD, created=expiring(NOW) - 40 * DAY, used=NOW - DAY),
            key(NEW, created=deadline - DEFAULTS.new_key_use_deadline, used=None),
        ],
        [warn(OLD, Reason.NEW_KEY_NOT_IN_USE, deadline)],
    )


def test_safeguard_deadline_past_warns_new_key_pending_rotation() -> None:
    # G = 85 of P = 90: at the deadline U expires in 5 days, inside the window.
    late = PolicySettings(new_key_use_deadline_days=85)
    new_created = NOW - late.new_key_use_deadline
    new_expires = new_created + late.rotation_period
    assert_plan(
        [
            key(OLD, created=expiring(NOW) - 90 * DAY, used=NOW - DAY),
            key(NEW, created=new_created, used=None),
        ],
        [
            # Step 1 still announces that the never-used key is about to expire.
            warn(NEW, Reason.UNUSED_KEY_PENDING_DELETION, new_expires),
            act(ActionType.DEACTIVATE, OLD, Reason.NEW_KEY_USE_DEADLINE),
            warn(NEW, Reason.KEY_PENDING_ROTATION, new_expires),
        ],
        settings=late,
    )


def test_safeguard_new_key_expiry_near_before_deadline_warns_conflict() -> None:
    # G = 85: U expires in exactly W days while its deadline is a second ahead.
    late = PolicySettings(new_key_use_deadline_days=85)
    new_expires = NOW + late.warning_window
    new_created = expiring(new_expires)
    assert new_created + late.new_key_use_deadline > NOW
    assert_plan(
        [
            key(OLD, created=expiring(NOW) - 90 * DAY, used=NOW - DAY),
            key(NEW, created=new_created, used=None),
        ],
        [
            warn(NEW, Reason.UNUSED_KEY_PENDING_DELETION, new_expires),
            warn(OLD, Reason.KEY_PENDING_DELETION_CONFLICT, new_expires),
            warn(NEW, Reason.KEY_PENDING_ROTATION, new_expires),
        ],
        settings=late,
    )


def test_safeguard_installation_grace_one_second_ahead_warns_pending_deactivation() -> None:
    install_by = NOW + SECOND
    assert_plan(
        [
            key(OLD, created=expiring(NOW), used=NOW - DAY),
            key(NEW, created=install_by - DEFAULTS.installation_grace, used=None),
        ],
        [warn(OLD, Reason.KEY_PENDING_DEACTIVATION, install_by)],
    )


def test_safeguard_installation_grace_at_window_edge_warns_pending_deactivation() -> None:
    install_by = NOW + DEFAULTS.warning_window
    assert_plan(
        [
            key(OLD, created=expiring(NOW), used=NOW - DAY),
            key(NEW, created=install_by - DEFAULTS.installation_grace, used=None),
        ],
        [warn(OLD, Reason.KEY_PENDING_DEACTIVATION, install_by)],
    )


def test_safeguard_deadline_equal_to_installation_grace_deactivates_at_grace_end() -> None:
    # G = I: the safeguard grants no extra time; the reason says why the key goes.
    strict = PolicySettings(new_key_use_deadline_days=10)
    assert_plan(
        [
            key(OLD, created=expiring(NOW), used=NOW - DAY),
            key(NEW, created=NOW - strict.installation_grace, used=None),
        ],
        [act(ActionType.DEACTIVATE, OLD, Reason.NEW_KEY_USE_DEADLINE)],
        settings=strict,
    )


def test_safeguard_leaves_both_expired_and_forced_rules_alone() -> None:
    assert_plan(
        [
            key(OLD, created=expiring(NOW) - DAY, used=NOW - DAY),
            key(NEW, created=NOW - 20 * DAY, used=None),
        ],
        [
            act(ActionType.DELETE, NEW, Reason.FORCED_ROTATION_CONFLICT_LRU),
            act(ActionType.ROTATE, OLD, Reason.FORCED_ROTATION),
        ],
        force=True,
    )


# --- Exemptions with an end date --------------------------------------------------------


def test_exempt_user_keys_are_left_alone_until_the_window() -> None:
    assert_plan(
        [key(OLD, created=expiring(NOW) - 30 * DAY, used=NOW - DAY)],
        [],
        exempt_until=NOW + DEFAULTS.warning_window + SECOND,
        force=True,
    )


def test_exemption_ending_within_the_window_warns_on_each_key() -> None:
    ends = NOW + DEFAULTS.warning_window
    assert_plan(
        [
            key(OLD, created=expiring(NOW) - 30 * DAY, used=NOW - DAY),
            key(NEW, created=NOW - 3 * DAY, used=None, active=False),
        ],
        [
            warn(OLD, Reason.EXEMPTION_ENDING, ends),
            warn(NEW, Reason.EXEMPTION_ENDING, ends),
        ],
        exempt_until=ends,
    )


def test_exemption_ending_one_second_ahead_still_exempts() -> None:
    ends = NOW + SECOND
    assert_plan(
        [key(OLD, created=expiring(NOW), used=NOW - DAY)],
        [warn(OLD, Reason.EXEMPTION_ENDING, ends)],
        exempt_until=ends,
    )


def test_exemption_ended_exactly_now_applies_the_policy() -> None:
    assert_plan(
        [key(OLD, created=expiring(NOW), used=NOW - DAY)],
        [act(ActionType.ROTATE, OLD, Reason.EXPIRED_ACTIVE_KEY)],
        exempt_until=NOW,
    )


def test_exempt_user_without_keys_gets_no_warning() -> None:
    assert_plan([], [], exempt_until=NOW + DAY)
