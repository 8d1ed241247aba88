"""Reading the Variable: JSON text or a mapping, every key optional, unknown keys named."""

from __future__ import annotations

import pytest

from keyrotation.settings import RotationSettings, SettingsError, settings_from_json


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


def test_unknown_setting_is_named() -> None:
    with pytest.raises(SettingsError, match="'rotation_period'"):
        RotationSettings.from_mapping({"rotation_period": 30})


def test_settings_must_be_an_object() -> None:
    with pytest.raises(SettingsError, match="JSON object"):
        RotationSettings.from_mapping(["dry_run"])  # type: ignore[arg-type]
