"""Airflow imports every Python file of the plugins folder as a top-level module named after
the file (``keyrotation/settings/values.py`` as ``values``), so a file named like a standard
library module would replace it in the scheduler, and a ``__main__.py`` would replace, and
run as, the process's own main module."""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "plugins" / "keyrotation"


def test_no_module_is_named_like_a_standard_library_module_or_main() -> None:
    names = {path.stem for path in PACKAGE.rglob("*.py")}
    assert "values" in names  # the walk sees the package's subfolders
    assert sorted(names & (set(sys.stdlib_module_names) | {"__main__"})) == []
