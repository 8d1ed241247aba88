"""Every time the pipeline handles ends up as a plain UTC datetime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pendulum
import pytest

from keyrotation.utc import as_utc, format_utc

NOON_UTC = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    "moment",
    [
        NOON_UTC,
        NOON_UTC.astimezone(timezone(timedelta(hours=5, minutes=30))),
        NOON_UTC.astimezone(timezone(-timedelta(hours=8))),
        NOON_UTC.replace(tzinfo=None),
        pendulum.instance(NOON_UTC).in_timezone("Europe/Paris"),
    ],
    ids=["utc", "ahead", "behind", "naive", "pendulum"],
)
def test_any_time_becomes_the_same_plain_utc_datetime(moment: datetime) -> None:
    converted = as_utc(moment)
    assert converted == NOON_UTC
    assert type(converted) is datetime
    assert converted.tzinfo is UTC


def test_format_shows_the_utc_minute() -> None:
    paris = pendulum.instance(NOON_UTC).in_timezone("Europe/Paris")
    assert format_utc(paris) == "2026-03-01 12:00 UTC"
