"""What an AWS error says: its code, its message, and one line for records and logs."""

from __future__ import annotations

from botocore.exceptions import ClientError

__all__ = ["describe_error", "error_code", "error_message"]


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def error_message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", ""))


def describe_error(error: BaseException, *, hide: str | None = None) -> str:
    """A one-line description of ``error`` for records and logs, with ``hide`` removed."""
    if isinstance(error, ClientError):
        text = f"{error.operation_name}: {error_code(error)}: {error_message(error)}"
    else:
        text = f"{type(error).__name__}: {error}"
    if hide:
        text = text.replace(hide, "***")
    return text
