"""The README's settings table: written from the schema, and the README holds it."""

from __future__ import annotations

from pathlib import Path

import pytest

from keyrotation.settings import RotationSettings, markdown_table
from keyrotation.settings.readme_table import main

README = Path(__file__).resolve().parents[3] / "README.md"


def test_readme_settings_table_is_the_schema() -> None:
    # Regenerate with: python -m keyrotation.settings.readme_table --markdown
    assert markdown_table() in README.read_text(encoding="utf-8")


def test_table_lists_every_key_with_its_group_and_default() -> None:
    rows = markdown_table().splitlines()[2:]
    assert len(rows) == len(RotationSettings.model_fields)
    assert "| policy | `rotation_period_days` | `90` |" in markdown_table()
    assert "| inventory | `include_accounts` | empty |" in markdown_table()


def test_the_module_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--markdown"])
    assert capsys.readouterr().out == markdown_table()


def test_the_module_without_markdown_says_how_to_call_it() -> None:
    with pytest.raises(
        SystemExit, match=r"python -m keyrotation\.settings\.readme_table --markdown"
    ):
        main([])
