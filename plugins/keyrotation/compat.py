"""Every Airflow import that moved between Airflow 2.10 and Airflow 3.x.

The rest of the package imports these names from here and nowhere else, so that the same
code runs on every Airflow that Amazon MWAA offers (2.10, 2.11, 3.0, 3.x). Each name is
looked up on its own, newest home first, the way ``airflow.providers.common.compat.sdk``
does: the task SDK did not move everything at once (task SDK 1.0, in Airflow 3.0, has no
``TriggerRule`` and no ``airflow.sdk.exceptions``), so one try/except around a group of
imports would fall back to Airflow 2 homes that Airflow 3 no longer has.

Type checkers read the Airflow 3 task SDK names below; at run time ``first_found`` picks the
first home that exists in the installed Airflow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from airflow import __version__ as AIRFLOW_VERSION
from packaging.version import Version

__all__ = [
    "AIRFLOW_V3",
    "AIRFLOW_VERSION",
    "DAG",
    "HITL_AVAILABLE",
    "AirflowException",
    "AirflowFailException",
    "Context",
    "Param",
    "ParamValidationError",
    "TriggerRule",
    "Variable",
    "conf",
    "first_found",
    "mask_secret",
    "read_variable",
    "register_secret",
]

#: True on Airflow 3.x, where tasks talk to the API server through the task SDK.
AIRFLOW_V3 = Version(Version(AIRFLOW_VERSION).base_version) >= Version("3.0.0")


def first_found(name: str, *modules: str) -> Any:
    """``name`` from the first of ``modules`` that has it, or an ImportError naming them all."""
    for module_name in modules:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if hasattr(module, name):
            return getattr(module, name)
    raise ImportError(
        f"cannot import {name!r} from any of {', '.join(modules)} (Airflow {AIRFLOW_VERSION})"
    )


if TYPE_CHECKING:
    from airflow.sdk import (
        DAG,
        Context,
        Param,
        TriggerRule,
        Variable,
    )
    from airflow.sdk.configuration import conf
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        ParamValidationError,
    )
    from airflow.sdk.log import mask_secret
else:
    DAG = first_found("DAG", "airflow.sdk", "airflow.models.dag")
    Context = first_found("Context", "airflow.sdk", "airflow.utils.context")
    Param = first_found("Param", "airflow.sdk", "airflow.models.param")
    Variable = first_found("Variable", "airflow.sdk", "airflow.models.variable")
    TriggerRule = first_found(
        "TriggerRule", "airflow.sdk", "airflow.task.trigger_rule", "airflow.utils.trigger_rule"
    )
    conf = first_found("conf", "airflow.sdk.configuration", "airflow.configuration")
    AirflowException = first_found(
        "AirflowException", "airflow.sdk.exceptions", "airflow.exceptions"
    )
    AirflowFailException = first_found(
        "AirflowFailException", "airflow.sdk.exceptions", "airflow.exceptions"
    )
    ParamValidationError = first_found(
        "ParamValidationError", "airflow.sdk.exceptions", "airflow.exceptions"
    )
    mask_secret = first_found(
        "mask_secret",
        "airflow.sdk.log",
        "airflow.sdk.execution_time.secrets_masker",
        "airflow.utils.log.secrets_masker",
    )


def read_variable(name: str) -> str | None:
    """The raw value of an Airflow Variable, or None when it does not exist."""
    if AIRFLOW_V3:
        return Variable.get(name, default=None)
    return Variable.get(name, default_var=None)  # type: ignore[call-arg]


def register_secret(value: Any) -> None:
    """Tell Airflow's log masker about a secret the moment it exists."""
    if value:
        mask_secret(value)


#: True where the standard provider's human-in-the-loop operators exist (Airflow 3.1+).
HITL_AVAILABLE = Version(Version(AIRFLOW_VERSION).base_version) >= Version("3.1.0")
if HITL_AVAILABLE:
    from airflow.providers.standard.operators.branch import BaseBranchOperator
    from airflow.providers.standard.operators.hitl import ApprovalOperator

    __all__ += ["ApprovalOperator", "BaseBranchOperator"]


# Airflow's configuration: the same import on Airflow 2 and 3.
from airflow.configuration import conf  # noqa: E402

__all__ += ["conf"]
