"""Typed settings of the rotation pipeline, read from one JSON object.

The Airflow Variable ``iam_access_key_rotation`` holds a flat JSON object whose every key
is optional. The schema is the only description of those keys: it validates them, names
the first bad key in ``SettingsError`` and writes the README's settings table
(``python -m keyrotation.settings.readme_table --markdown``). The keys are grouped by what
they steer; ``RotationSettings`` is every group at once, so ``settings.member_role_name``
reads a key directly and a function that needs one group can ask for that group's type.

* ``values``: the value types (flags, days, ids, lists) and how they are read;
* ``groups``: the groups of keys, each with its defaults, descriptions and checks;
* ``loading``: ``RotationSettings`` and reading the Variable's JSON text;
* ``errors``: ``SettingsError`` and its messages;
* ``docs``: the README's table (``readme_table`` prints it).

No module of the package is named like a standard library module (nor ``__main__``):
Airflow imports every file of the plugins folder under its bare file name.

Adding a setting is one field, with its default and description, in its group in
``groups``; then regenerate the README table (a test fails until it matches).
"""

from __future__ import annotations

from keyrotation.settings.docs import markdown_table
from keyrotation.settings.errors import SettingsError
from keyrotation.settings.groups import (
    GROUPS,
    ApprovalSettings,
    InventorySettings,
    NotificationSettings,
    PolicyGroupSettings,
    SecretSettings,
)
from keyrotation.settings.loading import VARIABLE_NAME, RotationSettings, settings_from_json

__all__ = [
    "GROUPS",
    "VARIABLE_NAME",
    "ApprovalSettings",
    "InventorySettings",
    "NotificationSettings",
    "PolicyGroupSettings",
    "RotationSettings",
    "SecretSettings",
    "SettingsError",
    "markdown_table",
    "settings_from_json",
]
