"""How a key's value is read: strict types, trimmed text, lists as text; errors name the key."""

from __future__ import annotations

from typing import Any

import pytest

from keyrotation.settings import RotationSettings, SettingsError, settings_from_json


def test_direct_construction_names_the_bad_key() -> None:
    with pytest.raises(SettingsError, match=r"exclude_accounts\[1\].*'alice'"):
        RotationSettings(exclude_accounts=("111122223333", "alice"))


def test_strings_are_trimmed_and_null_is_empty() -> None:
    settings = settings_from_json('{"email_transport": " smtp ", "owner_tag": null}')
    assert (settings.email_transport, settings.owner_tag) == ("smtp", "")


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
