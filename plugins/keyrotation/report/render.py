"""The report's three files: CSV and JSON Lines for tools, one self-contained HTML page for
people. The page has no script, font or image from anywhere: it opens offline and in a mail
client. Every value that comes from AWS is escaped (Jinja2 autoescape)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

import jinja2

from keyrotation.report.model import COLUMNS, KeyRow, ReportSummary, RunIdentity

__all__ = ["render_csv", "render_html", "render_jsonl"]

_TEMPLATES = Path(__file__).resolve().parent / "templates"


def render_csv(rows: Iterable[KeyRow], *, now: datetime) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_safe(v) for k, v in row.to_dict(now).items()})
    return buffer.getvalue()


def render_jsonl(rows: Iterable[KeyRow], *, now: datetime) -> str:
    return "".join(json.dumps(row.to_dict(now), sort_keys=False) + "\n" for row in rows)


def render_html(
    rows: Sequence[KeyRow], *, summary: ReportSummary, run: RunIdentity, now: datetime
) -> str:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    largest_band = max((count for _, count in summary.age_bands), default=0) or 1
    return environment.get_template("report.html.j2").render(
        rows=rows,
        summary=summary,
        run=run,
        now=now,
        largest_band=largest_band,
        percent=_percent,
        day=_day,
    )


def _percent(share: float | None) -> str:
    return "n/a" if share is None else f"{share:.1%}"


def _day(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d")


def _csv_safe(value: object) -> object:
    """A cell a spreadsheet will not run as a formula (CSV injection): values from AWS,
    such as tag values, may start with = + - @."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
