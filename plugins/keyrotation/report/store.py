"""Where a run's report goes: ``report_uri``, a local folder or ``s3://bucket/prefix/``
(through the amazon provider's S3Hook), under ``<run date>/<run id>/``."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

__all__ = ["ReportStoreError", "report_location", "write_report"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ReportStoreError(RuntimeError):
    """The report could not be written where ``report_uri`` says; the message says where."""


def report_location(report_uri: str, *, run_id: str, evaluated_at: datetime) -> str:
    """``report_uri`` joined with the run's date and its id (made safe for a path or key)."""
    run_part = _UNSAFE.sub("_", run_id).strip("_") or "run"
    suffix = f"{evaluated_at:%Y-%m-%d}/{run_part}"
    return f"{report_uri.rstrip('/')}/{suffix}"


def write_report(
    location: str,
    files: Mapping[str, str],
    *,
    s3_hook_factory: Callable[[], S3Hook] | None = None,
) -> list[str]:
    """Write ``files`` (name -> text) under ``location``; return where each one went."""
    if location.startswith("s3://"):
        return _write_s3(location, files, s3_hook_factory)
    folder = Path(location).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, text in files.items():
            path = folder / name
            path.write_text(text, encoding="utf-8")
            written.append(str(path))
    except OSError as error:
        raise ReportStoreError(f"cannot write the report to {folder}: {error}") from error
    return written


def _write_s3(
    location: str, files: Mapping[str, str], hook_factory: Callable[[], S3Hook] | None
) -> list[str]:
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    if not bucket:
        raise ReportStoreError(f"report_uri {location!r} names no bucket")
    if hook_factory is None:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        hook = S3Hook()
    else:
        hook = hook_factory()
    written = []
    for name, text in files.items():
        key = f"{prefix.rstrip('/')}/{name}" if prefix else name
        try:
            hook.load_bytes(text.encode("utf-8"), key=key, bucket_name=bucket, replace=True)
        except Exception as error:  # the provider raises ClientError and its own errors
            raise ReportStoreError(
                f"cannot write the report to s3://{bucket}/{key}: {error}"
            ) from error
        written.append(f"s3://{bucket}/{key}")
    return written
