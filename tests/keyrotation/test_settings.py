"""The settings schema: one description of every key, grouped, and the README's table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from keyrotation.policy import PolicySettings
from keyrotation.settings import (
    GROUPS,
    InventorySettings,
    RotationSettings,
    SettingsError,
    markdown_table,
    settings_from_json,
)

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_settings_table_is_the_schema() -> None:
    # Regenerate with: python -m keyrotation.settings --markdown
    assert markdown_table() in README.read_text(encoding="utf-8")


def test_every_key_is_in_exactly_one_group_and_described() -> None:
    grouped = [name for group in GROUPS for name in group.model_fields]
    assert sorted(grouped) == sorted(RotationSettings.model_fields)
    assert len(grouped) == len(set(grouped))
    assert all(info.description for info in RotationSettings.model_fields.values())


def test_table_lists_every_key_with_its_group_and_default() -> None:
    rows = markdown_table().splitlines()[2:]
    assert len(rows) == len(RotationSettings.model_fields)
    assert "| policy | `rotation_period_days` | `90` |" in markdown_table()
    assert "| inventory | `include_accounts` | empty |" in markdown_table()


def test_a_group_validates_on_its_own() -> None:
    assert InventorySettings(member_role_name="reader").member_role_name == "reader"
    with pytest.raises(SettingsError, match="org_role_name"):
        InventorySettings(org_account_id="111122223333")


def test_direct_construction_names_the_bad_key() -> None:
    with pytest.raises(SettingsError, match=r"exclude_accounts\[1\].*'alice'"):
        RotationSettings(exclude_accounts=("111122223333", "alice"))


def test_settings_are_frozen() -> None:
    settings = RotationSettings()
    with pytest.raises(ValueError, match="frozen"):
        settings.dry_run = False  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('{"dry_run": false,}', "not valid JSON"),
        ('{"warning_days": "7"}', "warning_days"),
        ('{"email_transport": "pigeon"}', "email_transport"),
        ('{"aws_conn_id": ""}', "aws_conn_id"),
        ('{"sender_email": "not an address"}', "sender_email"),
    ],
)
def test_variable_text_errors_name_the_problem(text: str, named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        settings_from_json(text)


@pytest.mark.parametrize("text", [None, "", "  "])
def test_no_variable_means_every_default(text: str | None) -> None:
    assert settings_from_json(text) == RotationSettings()


def test_strings_are_trimmed_and_null_is_empty() -> None:
    settings = settings_from_json('{"email_transport": " smtp ", "owner_tag": null}')
    assert (settings.email_transport, settings.owner_tag) == ("smtp", "")


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
