"""The groups of settings: every key in one group, the defaults, and the checks across keys."""

from __future__ import annotations

from typing import Any

import pytest

from keyrotation.policy import PolicySettings
from keyrotation.settings import GROUPS, InventorySettings, RotationSettings, SettingsError


def test_every_key_is_in_exactly_one_group_and_described() -> None:
    grouped = [name for group in GROUPS for name in group.model_fields]
    assert sorted(grouped) == sorted(RotationSettings.model_fields)
    assert len(grouped) == len(set(grouped))
    assert all(info.description for info in RotationSettings.model_fields.values())


def test_a_group_validates_on_its_own() -> None:
    assert InventorySettings(member_role_name="reader").member_role_name == "reader"
    with pytest.raises(SettingsError, match="org_role_name"):
        InventorySettings(org_account_id="111122223333")


def test_settings_are_frozen() -> None:
    settings = RotationSettings()
    with pytest.raises(ValueError, match="frozen"):
        settings.dry_run = False  # type: ignore[misc]


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
