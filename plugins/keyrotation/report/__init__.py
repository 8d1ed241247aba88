"""The evidence a run leaves for auditors: every key of the run's accounts, as CSV, JSON
Lines and one self-contained HTML page, written to ``report_uri``."""

from __future__ import annotations

from keyrotation.report.model import (
    AGE_BANDS,
    COLUMNS,
    AccountFigures,
    KeyRow,
    ReportSummary,
    RunIdentity,
    summarize,
)
from keyrotation.report.render import render_csv, render_html, render_jsonl
from keyrotation.report.store import ReportStoreError, report_location, write_report

__all__ = [
    "AGE_BANDS",
    "COLUMNS",
    "AccountFigures",
    "KeyRow",
    "ReportStoreError",
    "ReportSummary",
    "RunIdentity",
    "build_report_files",
    "render_csv",
    "render_html",
    "render_jsonl",
    "report_location",
    "summarize",
    "write_report",
]


def build_report_files(
    rows: list[KeyRow], *, summary: ReportSummary, run: RunIdentity
) -> dict[str, str]:
    """The report's files by name, evaluated at the run's time."""
    now = run.evaluated_at
    return {
        "report.csv": render_csv(rows, now=now),
        "report.jsonl": render_jsonl(rows, now=now),
        "report.html": render_html(rows, summary=summary, run=run, now=now),
    }
