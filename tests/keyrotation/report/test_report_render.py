"""The report files: CSV and JSON Lines hold every row; the HTML page is self-contained and
escapes every value that comes from AWS."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

from keyrotation.report import COLUMNS, KeyRow, RunIdentity, build_report_files, summarize

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
RUN = RunIdentity(
    dag_id="iam_access_key_rotation",
    run_id="scheduled__2026-11-25T00:00:00+00:00",
    evaluated_at=NOW,
    dry_run=False,
    approved_by="alice",
)
HOSTILE = '<script>alert("x")</script>'


def rows() -> list[KeyRow]:
    return [
        KeyRow(
            account_id="111111111111",
            account_name=HOSTILE,
            user_name="alice",
            access_key_id="AKIAEXAMPLEALICE0001",
            status="Active",
            created=NOW - timedelta(days=100),
            last_used=NOW - timedelta(days=1),
            owner='=HYPERLINK("http://evil")',
            action="ROTATE",
            reason="EXPIRED_ACTIVE_KEY",
            outcome="done",
            next_action="DEACTIVATE",
            next_action_date=NOW + timedelta(days=10),
        ),
        KeyRow(
            account_id="111111111111",
            account_name=HOSTILE,
            user_name="bob",
            access_key_id=None,
            status="Active",
            created=NOW - timedelta(days=3),
            last_used=None,
            exemption_reason=HOSTILE,
            exemption_until="2026-12-31",
        ),
    ]


def files() -> dict[str, str]:
    data = rows()
    summary = summarize(data, now=NOW, rotation_period_days=90)
    return build_report_files(data, summary=summary, run=RUN)


def test_csv_has_every_column_and_row_and_defuses_formulas() -> None:
    parsed = list(csv.DictReader(io.StringIO(files()["report.csv"])))
    assert tuple(parsed[0]) == COLUMNS
    assert [r["user_name"] for r in parsed] == ["alice", "bob"]
    assert parsed[0]["age_days"] == "100"
    assert parsed[0]["owner"].startswith("'=")  # not run as a formula by a spreadsheet
    assert parsed[1]["access_key_id"] == ""


def test_jsonl_is_one_object_per_key() -> None:
    lines = files()["report.jsonl"].splitlines()
    objects = [json.loads(line) for line in lines]
    assert [o["user_name"] for o in objects] == ["alice", "bob"]
    assert objects[0]["next_action_date"] == (NOW + timedelta(days=10)).isoformat()
    assert objects[0]["owner"] == '=HYPERLINK("http://evil")'  # data as IAM holds it


def test_html_is_self_contained_and_escapes_aws_values() -> None:
    html = files()["report.html"]
    assert HOSTILE not in html
    assert "&lt;script&gt;" in html
    assert not re.search(r"<script|<link|@import|src=|url\(", html, re.IGNORECASE)
    assert not re.search(r"https?://", html.replace("http://evil", ""))
    assert "scheduled__2026-11-25T00:00:00+00:00" in html
    assert "enforced" in html and "alice" in html
    assert "50.0%" in html  # one of two Active keys is younger than 90 days
    assert "91-180 days" in html
    assert "2026-12-31" in html


def test_html_of_a_dry_run_without_approval_says_so() -> None:
    data = rows()
    run = RunIdentity(dag_id="d", run_id="manual__x", evaluated_at=NOW, dry_run=True)
    summary = summarize(data, now=NOW, rotation_period_days=90)
    html = build_report_files(data, summary=summary, run=run)["report.html"]
    assert "dry run (audit: nothing changed)" in html
    assert "no approval required" in html
