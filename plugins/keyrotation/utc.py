"""Times in UTC: every time this pipeline decides on, records or prints is UTC."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["as_utc", "format_utc"]


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive time is read as UTC, never as the machine's local time."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_utc(moment: datetime) -> str:
    """``2024-05-01 12:00 UTC``: the minute, as emails and reports show a time."""
    return as_utc(moment).strftime("%Y-%m-%d %H:%M UTC")
