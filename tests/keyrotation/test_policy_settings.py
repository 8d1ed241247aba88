"""What the policy refuses: nonsensical settings and malformed key metadata.

Covers ``PolicySettings`` (the durations and the new-key-use safeguard),
``RotationSettings.from_mapping`` (the operator's JSON object, which builds them) and the
input checks of ``evaluate_keys``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from keyrotation.policy import PolicySettings, PolicySettingsError, evaluate_keys
from keyrotation.settings import RotationSettings, SettingsError

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


# --- RotationSettings.from_mapping -------------------------------------------------------


@pytest.mark.parametrize("values", [None, {}])
def test_settings_defaults(values: dict[str, Any] | None) -> None:
    settings = RotationSettings.from_mapping(values)
    assert settings.dry_run is True
    assert settings.policy == PolicySettings(
        rotation_period_days=90,
        installation_grace_days=10,
        recovery_grace_days=10,
        warning_days=7,
    )
    assert (
        settings.rotation_period_days,
        settings.installation_grace_days,
        settings.recovery_grace_days,
        settings.warning_days,
    ) == (90, 10, 10, 7)
    assert settings.central_secrets is False
    assert settings.include_accounts == ()
    assert settings.policy.require_new_key_use is True
    assert settings.policy.new_key_use_deadline_days == 30
    assert settings.exempt_tag == "iam-key-rotation:exempt-until"
    assert settings.max_exemption_days == 365
    assert settings.delete_orphaned_secrets is True


def test_settings_durations_reach_the_policy() -> None:
    settings = RotationSettings.from_mapping(
        {
            "rotation_period_days": 30,
            "installation_grace_days": 3,
            "warning_days": 5,
            "require_new_key_use": True,
            "new_key_use_deadline_days": 14,
        }
    )
    assert settings.policy == PolicySettings(
        rotation_period_days=30,
        installation_grace_days=3,
        recovery_grace_days=10,
        warning_days=5,
        new_key_use_deadline_days=14,
    )


def test_settings_can_turn_the_safeguard_off() -> None:
    settings = RotationSettings.from_mapping({"require_new_key_use": False})
    assert settings.policy.require_new_key_use is False


def test_shorter_period_needs_a_shorter_deadline() -> None:
    # The default deadline (30 days) does not fit a 30-day period: the error says which.
    with pytest.raises(SettingsError, match="new_key_use_deadline_days"):
        RotationSettings.from_mapping({"rotation_period_days": 30})


def test_unknown_setting_is_named() -> None:
    with pytest.raises(SettingsError, match="'rotation_period'"):
        RotationSettings.from_mapping({"rotation_period": 30})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("dry_run", "false"),
        ("dry_run", 0),
        ("rotation_period_days", "90"),
        ("installation_grace_days", 2.5),
        ("warning_days", True),
        ("include_accounts", 111122223333),
        ("include_accounts", [111122223333]),
        ("sender_email", 42),
        ("require_new_key_use", "true"),
        ("new_key_use_deadline_days", 30.0),
        ("delete_orphaned_secrets", 1),
        ("max_exemption_days", "365"),
        ("exempt_tag", 7),
    ],
    ids=repr,
)
def test_ill_typed_setting_is_named(name: str, value: Any) -> None:
    with pytest.raises(SettingsError, match=name):
        RotationSettings.from_mapping({name: value})


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"recovery_grace_days": 0}, "recovery_grace_days"),
        ({"rotation_period_days": -30}, "rotation_period_days"),
        ({"warning_days": 90}, "warning_days"),
        ({"rotation_period_days": 7}, "warning_days"),
        ({"new_key_use_deadline_days": 5}, "new_key_use_deadline_days"),
        ({"new_key_use_deadline_days": 90}, "new_key_use_deadline_days"),
        ({"max_exemption_days": 0}, "max_exemption_days"),
        ({"exempt_tag": "exempt<until>"}, "exempt_tag"),
    ],
)
def test_nonsensical_durations_are_rejected_as_settings_errors(
    values: dict[str, Any], named: str
) -> None:
    with pytest.raises(SettingsError, match=named):
        RotationSettings.from_mapping(values)


def test_settings_must_be_an_object() -> None:
    with pytest.raises(SettingsError, match="JSON object"):
        RotationSettings.from_mapping(["dry_run"])  # type: ignore[arg-type]


def test_central_secrets_without_kms_key_is_rejected() -> None:
    with pytest.raises(SettingsError, match="secrets_kms_key_id"):
        RotationSettings.from_mapping({"secrets_account_id": "111122223333"})


def test_central_secrets_with_kms_key_is_accepted() -> None:
    settings = RotationSettings.from_mapping(
        {
            "secrets_account_id": "111122223333",
            "secrets_kms_key_id": "arn:aws:kms:us-east-1:111122223333:key/abcd",
        }
    )
    assert settings.central_secrets is True


@pytest.mark.parametrize(
    "value",
    [
        "111122223333,444455556666",
        " 111122223333 , 444455556666 ,",
        "111122223333 444455556666",
        ["111122223333", "444455556666"],
    ],
    ids=repr,
)
def test_account_lists_accept_comma_separated_strings(value: Any) -> None:
    settings = RotationSettings.from_mapping({"include_accounts": value})
    assert settings.include_accounts == ("111122223333", "444455556666")


def test_account_list_entry_that_is_no_account_id_is_named() -> None:
    with pytest.raises(SettingsError, match="include_accounts"):
        RotationSettings.from_mapping({"include_accounts": "111122223333,alice"})


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
