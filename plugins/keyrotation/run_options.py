"""Per-run options from the trigger form (DAG params / run conf) and the evaluation time."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "RUN_PARAM_SCHEMAS",
    "RunConfError",
    "RunOptions",
    "evaluation_time",
    "trigger_form_params",
]

_ACCOUNT_ID = r"^[0-9]{12}$"
_FORCE_ENTRY = r"^([0-9]{12}:)?[A-Za-z0-9+=,.@_-]{1,64}$"

#: JSON schemas of the run params, shared by the DAG's trigger form and by the
#: validation the tasks repeat on the run's conf (a run triggered through the API or
#: CLI may skip the form). Each type admits null: an empty field is valid (it means
#: "not dry by this param", "nobody forced", "every account"), and the form marks a
#: field required unless its type admits null.
RUN_PARAM_SCHEMAS: dict[str, dict[str, Any]] = {
    "dry_run": {
        "type": ["boolean", "null"],
        "title": "Dry run (audit mode)",
        "description": "Report what would change and change nothing. The run is dry when "
        "this is on or when the dry_run setting of the Variable is true.",
    },
    "force_rotate": {
        "type": ["array", "null"],
        "items": {"type": "string", "pattern": _FORCE_ENTRY},
        "title": "Force rotation of users",
        "description": "IAM user names whose Active key is rotated now, whatever its age. "
        "Write 123456789012:alice to act in one account only.",
    },
    "accounts": {
        "type": ["array", "null"],
        "items": {"type": "string", "pattern": _ACCOUNT_ID},
        "title": "Limit this run to accounts",
        "description": "Account ids to process in this run; empty means every account "
        "of the inventory.",
    },
}


class RunConfError(ValueError):
    """The run's conf has an unknown or ill-typed key; the message names it."""


@dataclass(frozen=True)
class RunOptions:
    dry_run: bool = False
    force_rotate: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()

    @classmethod
    def from_conf(cls, conf: Mapping[str, Any] | None) -> RunOptions:
        """Validate a run's conf (or resolved params) against the run param schemas."""
        conf = dict(conf or {})
        unknown = sorted(set(conf) - set(RUN_PARAM_SCHEMAS))
        if unknown:
            raise RunConfError(
                f"unknown run parameter {unknown[0]!r}; "
                f"known parameters: {', '.join(RUN_PARAM_SCHEMAS)}"
            )
        dry_run = conf.get("dry_run", False)
        if dry_run is None:
            dry_run = False
        if not isinstance(dry_run, bool):
            raise RunConfError(f"run parameter 'dry_run' must be true or false, got {dry_run!r}")
        return cls(
            dry_run=dry_run,
            force_rotate=_string_list(conf, "force_rotate", _FORCE_ENTRY),
            accounts=_string_list(conf, "accounts", _ACCOUNT_ID),
        )


def _string_list(conf: Mapping[str, Any], name: str, pattern: str) -> tuple[str, ...]:
    value = conf.get(name) or []
    if not isinstance(value, (list, tuple)):
        raise RunConfError(f"run parameter {name!r} must be a list of strings, got {value!r}")
    for item in value:
        if not isinstance(item, str) or not re.match(pattern, item):
            raise RunConfError(
                f"run parameter {name!r} holds {item!r}, which does not match {pattern}"
            )
    return tuple(dict.fromkeys(value))


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
            return _as_utc(moment)
    raise RunConfError("the run has neither a data interval nor a run_after time")


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return datetime.fromtimestamp(moment.timestamp(), tz=UTC)


_PARAM_DEFAULTS: dict[str, Any] = {"dry_run": False, "force_rotate": [], "accounts": []}


def trigger_form_params() -> dict[str, Any]:
    """The DAG's params: the trigger form's fields, from ``RUN_PARAM_SCHEMAS``."""
    from keyrotation.compat import Param

    return {
        name: Param(_PARAM_DEFAULTS[name], **schema) for name, schema in RUN_PARAM_SCHEMAS.items()
    }
