"""Times in UTC: every time this pipeline decides on, records or prints is UTC."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["as_utc", "format_utc"]


def as_utc(moment: datetime) -> datetime:
    """``moment`` as a plain ``datetime`` in UTC; a naive time is read as UTC, never as the
    machine's local time.

    The result is a ``datetime``, not a subclass: Airflow 2 hands out pendulum times, whose
    time zone arithmetic differs between pendulum versions.
    """
    plain = datetime(
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond,
        tzinfo=UTC,
    )
    offset = moment.utcoffset()
    return plain - offset if offset is not None else plain


def format_utc(moment: datetime) -> str:
    """``2024-05-01 12:00 UTC``: the minute, as emails and reports show a time."""
    return as_utc(moment).strftime("%Y-%m-%d %H:%M UTC")
