"""Per-run options from the trigger form (DAG params / run conf) and the evaluation time."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from keyrotation import identifiers
from keyrotation.utc import as_utc

__all__ = [
    "RunConfError",
    "RunOptions",
    "RunParams",
    "evaluation_time",
    "forced_user",
    "trigger_form_params",
]

#: ``alice`` (every account) or ``123456789012:alice`` (that account only).
FORCE_ENTRY = rf"^(?:({identifiers.ACCOUNT_ID[1:-1]}):)?({identifiers.IAM_USER_NAME[1:-1]})$"
_FORCE_ENTRY = re.compile(FORCE_ENTRY)


class RunConfError(ValueError):
    """The run's conf has an unknown or ill-typed key; the message names it."""


def forced_user(entry: str) -> tuple[str | None, str]:
    """``(account id or None, user name)`` of a force rotation entry."""
    parsed = _FORCE_ENTRY.match(entry.strip())
    if parsed is None:
        raise ValueError(
            f"force rotation entry {entry!r} is neither a user name nor "
            f"<12-digit account id>:<user name>"
        )
    return parsed[1], parsed[2]


class RunParams(BaseModel):
    """The run params' schema: the trigger form's fields and the check of a run's conf."""

    model_config = ConfigDict(extra="forbid", strict=True)

    dry_run: bool = Field(
        default=False,
        title="Dry run (audit mode)",
        description="Report what would change and change nothing. The run is dry when "
        "this is on or when the dry_run setting of the Variable is true.",
    )
    force_rotate: list[Annotated[str, StringConstraints(pattern=FORCE_ENTRY)]] = Field(
        default=[],
        title="Force rotation of users",
        description="IAM user names whose Active key is rotated now, whatever its age. "
        "Write 123456789012:alice to act in one account only.",
    )
    accounts: list[Annotated[str, StringConstraints(pattern=identifiers.ACCOUNT_ID)]] = Field(
        default=[],
        title="Limit this run to accounts",
        description="Account ids to process in this run; empty means every account "
        "of the inventory.",
    )


@dataclass(frozen=True)
class RunOptions:
    dry_run: bool = False
    force_rotate: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()

    @classmethod
    def from_conf(cls, conf: Mapping[str, Any] | None) -> RunOptions:
        """Validate a run's conf (or resolved params) against ``RunParams``."""
        # null stands for the default, as an empty form field does
        values = {name: value for name, value in (conf or {}).items() if value is not None}
        try:
            params = RunParams.model_validate(values)
        except ValidationError as error:
            raise RunConfError(_describe(error)) from None
        return cls(
            dry_run=params.dry_run,
            force_rotate=tuple(dict.fromkeys(params.force_rotate)),
            accounts=tuple(dict.fromkeys(params.accounts)),
        )


def _describe(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    location, value = first["loc"], first["input"]
    name = str(location[0]) if location else "conf"
    if first["type"] == "extra_forbidden":
        return (
            f"unknown run parameter {name!r}; known parameters: {', '.join(RunParams.model_fields)}"
        )
    if len(location) > 1:
        if name == "force_rotate" and isinstance(value, str):
            return f"run parameter {name!r}: {_force_error(value)}"
        return f"run parameter {name!r} holds {value!r}: {first['msg'].lower()}"
    return f"run parameter {name!r}: {first['msg'].lower()}, got {value!r}"


def _force_error(entry: str) -> str:
    try:
        forced_user(entry)
    except ValueError as error:
        return str(error)
    return f"force rotation entry {entry!r} is not valid"  # pragma: no cover


def evaluation_time(context: Mapping[str, Any]) -> datetime:
    """The time a run decides at: the end of its data interval when scheduled, else when
    it was asked to run. A retried or cleared task so decides the same way again."""
    dag_run = context.get("dag_run")
    run_type = str(getattr(dag_run, "run_type", "") or "").lower()
    candidates: list[Any] = []
    if run_type.endswith("scheduled"):
        candidates.append(context.get("data_interval_end"))
    candidates += [
        getattr(dag_run, "run_after", None),
        context.get("logical_date"),
        context.get("data_interval_end"),
    ]
    for moment in candidates:
        if moment is not None:
            return as_utc(moment)
    raise RunConfError("the run has neither a data interval nor a run_after time")


def trigger_form_params() -> dict[str, Any]:
    """The DAG's params: the trigger form's fields, from the ``RunParams`` schema."""
    from keyrotation.compat import Param

    properties = RunParams.model_json_schema()["properties"]
    params = {}
    for name, schema in properties.items():
        default = schema.pop("default")
        # An empty field is valid ("not dry by this param", "nobody forced", "every
        # account"); the form marks a field required unless its type admits null.
        schema["type"] = [schema["type"], "null"]
        params[name] = Param(default, **schema)
    return params
