"""Every Airflow import that moved between Airflow 2.10/2.11 and Airflow 3.

The rest of the package imports these names from here and nowhere else, so that the
same code runs on Amazon MWAA's Airflow 2 environments and on Airflow 3.
"""

from __future__ import annotations

from typing import Any

try:  # Airflow 3: the task SDK
    from airflow.sdk import (
        DAG,
        BaseOperator,
        BaseOperatorLink,
        Param,
        TriggerRule,
        Variable,
        XComArg,
        get_current_context,
    )
    from airflow.sdk.definitions.context import Context
    from airflow.sdk.log import mask_secret

    AIRFLOW_V3 = True
except ImportError:  # Airflow 2.10 / 2.11
    from airflow.models import DAG, BaseOperator, BaseOperatorLink, Variable  # type: ignore[no-redef]
    from airflow.models.param import Param  # type: ignore[no-redef]
    from airflow.models.xcom_arg import XComArg  # type: ignore[no-redef]
    from airflow.operators.python import get_current_context  # type: ignore[no-redef]
    from airflow.utils.context import Context  # type: ignore[no-redef,attr-defined]
    from airflow.utils.log.secrets_masker import mask_secret  # type: ignore[no-redef]
    from airflow.utils.trigger_rule import TriggerRule  # type: ignore[no-redef]

    AIRFLOW_V3 = False

try:  # Airflow 3
    from airflow.sdk.exceptions import AirflowException, AirflowFailException
except ImportError:  # Airflow 2
    from airflow.exceptions import AirflowException, AirflowFailException  # type: ignore[no-redef]

__all__ = [
    "AIRFLOW_V3",
    "DAG",
    "AirflowException",
    "AirflowFailException",
    "BaseOperator",
    "BaseOperatorLink",
    "Context",
    "Param",
    "TriggerRule",
    "Variable",
    "XComArg",
    "get_current_context",
    "mask_secret",
    "read_variable",
    "register_secret",
]


def read_variable(name: str) -> str | None:
    """The raw value of an Airflow Variable, or None when it does not exist."""
    if AIRFLOW_V3:
        return Variable.get(name, default=None)
    return Variable.get(name, default_var=None)  # type: ignore[call-arg]


def register_secret(value: Any) -> None:
    """Tell Airflow's log masker about a secret the moment it exists."""
    if value:
        mask_secret(value)


# Airflow's configuration: the same import on Airflow 2 and 3.
from airflow.configuration import conf  # noqa: E402

__all__ += ["conf"]
