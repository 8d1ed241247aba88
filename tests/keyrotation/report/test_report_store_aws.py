"""The report written to a local folder or to S3 (moto) under the run's date and id."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from keyrotation.report import ReportStoreError, report_location, write_report

WHEN = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
FILES = {"report.csv": "a,b\n", "report.jsonl": "{}\n", "report.html": "<p>ok</p>"}


def test_location_is_made_of_the_run_date_and_a_safe_run_id() -> None:
    location = report_location(
        "s3://bucket/reports/", run_id="manual__2026-11-25T03:00:00+00:00", evaluated_at=WHEN
    )
    assert location == "s3://bucket/reports/2026-11-25/manual__2026-11-25T03_00_00_00_00"


def test_local_folder(tmp_path: Path) -> None:
    location = report_location(str(tmp_path / "reports"), run_id="r/../x", evaluated_at=WHEN)
    written = write_report(location, FILES)
    assert len(written) == 3
    folder = tmp_path / "reports" / "2026-11-25" / "r_.._x"
    assert (folder / "report.html").read_text() == "<p>ok</p>"
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)


def test_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ReportStoreError, match="cannot write the report to"):
        write_report(str(blocker / "sub"), FILES)


@mock_aws
def test_s3_through_the_providers_hook() -> None:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="evidence")
    written = write_report(
        "s3://evidence/iam/2026-11-25/run1",
        FILES,
        s3_hook_factory=lambda: S3Hook(aws_conn_id=None),
    )
    assert written == [f"s3://evidence/iam/2026-11-25/run1/{name}" for name in FILES]
    body = s3.get_object(Bucket="evidence", Key="iam/2026-11-25/run1/report.jsonl")["Body"]
    assert json.loads(body.read()) == {}


@mock_aws
def test_missing_bucket_names_the_location() -> None:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    with pytest.raises(ReportStoreError, match=r"s3://no-such-bucket/x/report\.csv"):
        write_report(
            "s3://no-such-bucket/x", FILES, s3_hook_factory=lambda: S3Hook(aws_conn_id=None)
        )
