"""What the policy refuses: nonsensical settings and malformed key metadata.

Covers ``PolicySettings`` (the durations and the new-key-use safeguard) and the input
checks of ``evaluate_keys``; the JSON object that builds them is in
settings/test_settings_groups.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from keyrotation.policy import PolicySettings, PolicySettingsError, evaluate_keys

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
DURATIONS = (
    "rotation_period_days",
    "installation_grace_days",
    "recovery_grace_days",
    "warning_days",
    "new_key_use_deadline_days",
)


def key(key_id: str = "AKIAVALIDATIONKEY001", **overrides: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "UserName": "carol",
        "AccessKeyId": key_id,
        "Status": "Active",
        "CreateDate": NOW - timedelta(days=30),
        "LastUsedDate": NOW - timedelta(days=1),
    }
    metadata.update(overrides)
    return metadata


# --- PolicySettings ---------------------------------------------------------------------


def test_policy_defaults_are_the_runbook_timeline() -> None:
    settings = PolicySettings()
    assert (
        settings.rotation_period,
        settings.installation_grace,
        settings.recovery_grace,
        settings.warning_window,
    ) == (timedelta(days=90), timedelta(days=10), timedelta(days=10), timedelta(days=7))


def test_smallest_sensible_settings_are_accepted() -> None:
    settings = PolicySettings(
        rotation_period_days=2,
        installation_grace_days=1,
        recovery_grace_days=1,
        warning_days=1,
        new_key_use_deadline_days=1,
    )
    assert settings.warning_window == timedelta(days=1)


@pytest.mark.parametrize("name", DURATIONS)
@pytest.mark.parametrize("value", [0, -1, -90])
def test_zero_or_negative_duration_is_rejected(name: str, value: int) -> None:
    with pytest.raises(PolicySettingsError, match=name):
        PolicySettings(**{name: value})


@pytest.mark.parametrize("name", DURATIONS)
@pytest.mark.parametrize("value", [1.5, 7.0, "90", True, None], ids=repr)
def test_non_integer_duration_is_rejected(name: str, value: Any) -> None:
    with pytest.raises(PolicySettingsError, match=name):
        PolicySettings(**{name: value})


@pytest.mark.parametrize(("period", "warning"), [(90, 90), (30, 31), (7, 10)])
def test_warning_window_not_shorter_than_period_is_rejected(period: int, warning: int) -> None:
    with pytest.raises(PolicySettingsError, match="warning_days") as raised:
        PolicySettings(rotation_period_days=period, warning_days=warning)
    assert "rotation_period_days" in str(raised.value)


def test_warning_window_one_day_shorter_than_period_is_accepted() -> None:
    settings = PolicySettings(
        rotation_period_days=30, warning_days=29, new_key_use_deadline_days=20
    )
    assert settings.warning_days == 29


@pytest.mark.parametrize(
    ("grace", "deadline", "period"),
    [(10, 9, 90), (10, 90, 90), (10, 91, 90), (30, 20, 60), (5, 30, 30)],
)
def test_new_key_use_deadline_outside_grace_and_period_is_rejected(
    grace: int, deadline: int, period: int
) -> None:
    with pytest.raises(PolicySettingsError, match="new_key_use_deadline_days") as raised:
        PolicySettings(
            rotation_period_days=period,
            installation_grace_days=grace,
            new_key_use_deadline_days=deadline,
        )
    assert "installation_grace_days" in str(raised.value)
    assert "rotation_period_days" in str(raised.value)


@pytest.mark.parametrize(("grace", "deadline", "period"), [(10, 10, 90), (10, 89, 90)])
def test_new_key_use_deadline_at_its_bounds_is_accepted(
    grace: int, deadline: int, period: int
) -> None:
    settings = PolicySettings(
        rotation_period_days=period,
        installation_grace_days=grace,
        new_key_use_deadline_days=deadline,
    )
    assert settings.new_key_use_deadline == timedelta(days=deadline)


def test_deadline_is_not_bound_by_the_period_with_the_safeguard_off() -> None:
    # Without the safeguard every setting accepted before it existed is still accepted.
    settings = PolicySettings(
        rotation_period_days=2,
        installation_grace_days=1,
        recovery_grace_days=1,
        warning_days=1,
        require_new_key_use=False,
    )
    assert settings.new_key_use_deadline_days == 30


@pytest.mark.parametrize("value", ["true", 1, None, "yes"], ids=repr)
def test_safeguard_flag_must_be_a_boolean(value: Any) -> None:
    with pytest.raises(PolicySettingsError, match="require_new_key_use"):
        PolicySettings(require_new_key_use=value)


def test_policy_settings_error_is_a_value_error() -> None:
    # Callers that only know ValueError (Airflow param validation) still catch it.
    assert issubclass(PolicySettingsError, ValueError)


# --- evaluate_keys input ----------------------------------------------------------------


@pytest.mark.parametrize("field", ["CreateDate", "LastUsedDate"])
def test_naive_key_datetime_is_rejected(field: str) -> None:
    naive = key(**{field: datetime(2025, 2, 1, 12, 0)})
    with pytest.raises(ValueError, match=f"{field} must be a timezone-aware datetime"):
        evaluate_keys([naive], now=NOW, settings=PolicySettings())


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="now must be a timezone-aware datetime"):
        evaluate_keys([key()], now=datetime(2025, 3, 1, 12, 0), settings=PolicySettings())


def test_date_given_as_text_is_rejected() -> None:
    with pytest.raises(ValueError, match="CreateDate"):
        evaluate_keys(
            [key(CreateDate="2025-01-01T00:00:00+00:00")], now=NOW, settings=PolicySettings()
        )


@pytest.mark.parametrize("status", ["Expired", "active", "", None])
def test_unknown_status_is_rejected(status: str | None) -> None:
    with pytest.raises(ValueError, match="unknown status"):
        evaluate_keys([key(Status=status)], now=NOW, settings=PolicySettings())


def test_missing_field_is_named() -> None:
    incomplete = key()
    del incomplete["CreateDate"]
    with pytest.raises(ValueError, match="CreateDate"):
        evaluate_keys([incomplete], now=NOW, settings=PolicySettings())


def test_three_keys_are_rejected() -> None:
    keys = [key(f"AKIAVALIDATIONKEY00{n}") for n in range(3)]
    with pytest.raises(ValueError, match="3 access keys"):
        evaluate_keys(keys, now=NOW, settings=PolicySettings())


def test_keys_of_two_users_are_rejected() -> None:
    keys = [key("AKIAVALIDATIONKEY001"), key("AKIAVALIDATIONKEY002", UserName="dave")]
    with pytest.raises(ValueError, match="one user"):
        evaluate_keys(keys, now=NOW, settings=PolicySettings())
