"""A bad setting as one sentence that names the key (and the list entry) at fault."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

__all__ = ["SettingsError", "validation_message"]


class SettingsError(ValueError):
    """A setting is missing, unknown or ill-typed; the message names it."""


_PROBLEMS = {
    "bool_type": "must be true or false",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "string_type": "must be a string",
    "tuple_type": "must be a list of strings",
    "string_too_short": "must not be empty",
}


def validation_message(error: ValidationError, model: type[BaseModel]) -> str:
    """The first problem of ``error`` in words that name the key (and the list entry)."""
    first = error.errors(include_url=False)[0]
    kind, location = first["type"], first["loc"]
    name = str(location[0]) if location else ""
    if kind == "extra_forbidden":
        known = ", ".join(sorted(model.model_fields))
        return f"unknown setting {name!r}; known settings: {known}"
    if kind == "value_error":
        detail = str(first["ctx"]["error"])
    elif kind == "less_than_equal":
        detail = f"must be at most {first['ctx']['le']}, got {first['input']!r}"
    elif kind == "greater_than_equal":
        unit = " day" if name.endswith("_days") else ""
        detail = f"must be at least {first['ctx']['ge']}{unit}, got {first['input']!r}"
    else:
        problem = _PROBLEMS.get(kind) or first["msg"][:1].lower() + first["msg"][1:]
        if kind.startswith("int") and name.endswith("_days"):
            problem += " of days"
        detail = f"{problem}, got {first['input']!r}"
    where = "".join([name, *(f"[{index}]" for index in location[1:])])
    return f"{where}: {detail}" if where else detail
