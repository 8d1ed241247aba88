"""keyrotation.compat: each moved name resolves on the installed Airflow, name by name."""

from __future__ import annotations

import pytest

from keyrotation import compat


def test_every_exported_name_resolves() -> None:
    missing = [name for name in compat.__all__ if getattr(compat, name, None) is None]
    assert missing == []


def test_first_found_falls_back_name_by_name() -> None:
    # json has no "Path", pathlib has: the second home is taken.
    found = compat.first_found("Path", "json", "no_such_module_anywhere", "pathlib")
    from pathlib import Path

    assert found is Path


def test_first_found_names_every_home_it_tried() -> None:
    with pytest.raises(ImportError, match="'NoSuchName' from any of json, pathlib"):
        compat.first_found("NoSuchName", "json", "pathlib")


def test_trigger_rule_and_exceptions_are_the_installed_airflows() -> None:
    assert compat.TriggerRule.ALL_DONE == "all_done"
    assert issubclass(compat.AirflowFailException, compat.AirflowException)
    assert compat.AIRFLOW_VERSION.startswith("3.") == compat.AIRFLOW_V3


def test_register_secret_masks_the_value_in_logs() -> None:
    from keyrotation.compat import first_found

    redact = first_found(
        "redact",
        "airflow.sdk.log",
        "airflow.sdk.execution_time.secrets_masker",
        "airflow.utils.log.secrets_masker",
    )
    secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCY-fake-value"
    compat.register_secret(secret)
    assert secret not in str(redact(f"the key is {secret}"))
