"""The README's settings table, written from the groups' fields.

``python -m keyrotation.settings.readme_table --markdown`` prints it.
"""

from __future__ import annotations

import json
from typing import Any

from keyrotation.settings.groups import GROUPS

__all__ = ["markdown_table"]


def _shown(default: Any) -> str:
    if default in ("", ()):
        return "empty"
    return f"`{default}`" if isinstance(default, str) else f"`{json.dumps(default)}`"


def markdown_table() -> str:
    """The README's settings table: one row per key, by group, in declaration order."""
    rows = ["| group | key | default | meaning |", "|---|---|---|---|"]
    for group in GROUPS:
        for name, info in group.model_fields.items():
            default = _shown(info.default)
            rows.append(f"| {group.group} | `{name}` | {default} | {info.description} |")
    return "\n".join(rows) + "\n"
