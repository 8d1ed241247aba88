"""The settings schema: one description of every key, grouped, and the README's table."""

from __future__ import annotations

from pathlib import Path

import pytest

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
