"""Every group at once, read from the Airflow Variable's JSON text."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from keyrotation.settings.errors import SettingsError
from keyrotation.settings.groups import (
    ApprovalSettings,
    InventorySettings,
    NotificationSettings,
    PolicyGroupSettings,
    SecretSettings,
)

__all__ = ["VARIABLE_NAME", "RotationSettings", "settings_from_json"]

VARIABLE_NAME = "iam_access_key_rotation"


class RotationSettings(
    NotificationSettings, SecretSettings, InventorySettings, ApprovalSettings, PolicyGroupSettings
):
    """Everything an operator of the pipeline can set, with the safe defaults."""

    group: ClassVar[str] = "all"

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> RotationSettings:
        """Build settings from a JSON object, rejecting unknown and ill-typed keys."""
        if values is None:
            values = {}
        if not isinstance(values, Mapping):
            raise SettingsError(f"settings must be a JSON object, got {type(values).__name__}")
        return cls(**{str(name): value for name, value in values.items()})


def settings_from_json(text: str | None) -> RotationSettings:
    """Settings from the Variable's JSON text; None (no Variable) means every default."""
    if text is None or not text.strip():
        return RotationSettings()
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise SettingsError(
            f"the Variable {VARIABLE_NAME!r} is not valid JSON: {error.msg} "
            f"(line {error.lineno}, column {error.colno})"
        ) from None
    return RotationSettings.from_mapping(values)
