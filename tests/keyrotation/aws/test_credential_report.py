"""The credential report: age, regeneration, waiting and parsing, proven with Stubber.

moto builds its report afresh on every call and stamps it 2015-02-02, so what depends on
the report's real age is shown here on stubbed IAM answers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from keyrotation.aws.credential_report import (
    MAX_REPORT_AGE,
    ReportUnavailable,
    fetch_credential_report,
    parse_report,
    report_flags,
)
from keyrotation.policy import PolicySettings

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _line(user: str, *keys: tuple[str, datetime | str, datetime | str]) -> str:
    slots = []
    for slot in range(2):
        if slot < len(keys):
            active, created, used = keys[slot]
            created = _iso(created) if isinstance(created, datetime) else created
            used = _iso(used) if isinstance(used, datetime) else used
            slots.append(f"{active},{created},{used},us-east-1,s3")
        else:
            slots.append("false,N/A,N/A,N/A,N/A")
    return (
        f"{user},arn:aws:iam::111111111111:user/{user},{_iso(NOW - timedelta(days=400))},"
        f"false,N/A,N/A,N/A,false,{slots[0]},{slots[1]},false,N/A,false,N/A"
    )


CONTENT = "\n".join(
    [
        HEADER,
        "<root_account>,arn:aws:iam::111111111111:root,2020-01-01T00:00:00+00:00,not_supported,"
        "2026-01-01T00:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,"
        "false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
        _line("alice", ("true", NOW - timedelta(days=120), NOW - timedelta(days=1))),
    ]
).encode()


def _report(generated: datetime) -> dict:
    return {"Content": CONTENT, "ReportFormat": "text/csv", "GeneratedTime": generated}


class FakeClock:
    """The wall clock, advanced by the sleeps the code under test asks for."""

    def __init__(self) -> None:
        self.now = NOW
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def stubbed():
    iam = boto3.client("iam", region_name="us-east-1")
    with Stubber(iam) as stubber:
        yield iam, stubber
        stubber.assert_no_pending_responses()


def _fetch(iam, clock: FakeClock, **kwargs):
    return fetch_credential_report(iam, clock=clock, sleep=clock.sleep, **kwargs)


def test_a_report_up_to_four_hours_old_is_used_as_is(stubbed, clock):
    iam, stub = stubbed
    # COMPLETE: IAM has a report less than 4 hours old and serves it, with its real age.
    stub.add_response("generate_credential_report", {"State": "COMPLETE"})
    stub.add_response("get_credential_report", _report(NOW - timedelta(hours=3, minutes=59)))

    report = _fetch(iam, clock)

    assert report.age == timedelta(hours=3, minutes=59)
    assert set(report.rows) == {"alice"}  # the root line is not a user
    assert clock.sleeps == []


def test_an_older_report_is_regenerated_and_awaited(stubbed, clock):
    iam, stub = stubbed
    # STARTED: IAM's report was older than 4 hours (or absent); a new one is built.
    stub.add_response("generate_credential_report", {"State": "STARTED"})
    stub.add_client_error("get_credential_report", "ReportInProgress", http_status_code=404)
    stub.add_client_error("get_credential_report", "ReportInProgress", http_status_code=404)
    stub.add_response("get_credential_report", _report(NOW + timedelta(seconds=2)))

    report = _fetch(iam, clock)

    assert clock.sleeps == [1.0, 2.0]
    # The triage margin comes from the new report's real age.
    assert report.age == timedelta(seconds=1)
    assert report.generated == NOW + timedelta(seconds=2)


@pytest.mark.parametrize("code", ["ReportNotPresent", "ReportExpired"])
def test_a_report_gone_after_complete_is_generated_again(stubbed, clock, code):
    iam, stub = stubbed
    stub.add_response("generate_credential_report", {"State": "COMPLETE"})
    stub.add_client_error("get_credential_report", code, http_status_code=410)
    stub.add_response("generate_credential_report", {"State": "STARTED"})
    stub.add_response("get_credential_report", _report(NOW + timedelta(milliseconds=500)))

    assert _fetch(iam, clock).age == timedelta(milliseconds=500)
    assert clock.sleeps == [1.0]


def test_limit_exceeded_is_retried_then_reported(stubbed, clock):
    iam, stub = stubbed
    for _ in range(4):
        stub.add_client_error("generate_credential_report", "LimitExceeded", http_status_code=409)

    with pytest.raises(ReportUnavailable, match="GenerateCredentialReport: LimitExceeded"):
        _fetch(iam, clock)
    assert clock.sleeps == [2.0, 4.0, 8.0]


def test_limit_exceeded_once_is_overcome(stubbed, clock):
    iam, stub = stubbed
    stub.add_client_error("generate_credential_report", "LimitExceeded", http_status_code=409)
    stub.add_response("generate_credential_report", {"State": "STARTED"})
    stub.add_response("get_credential_report", _report(NOW + timedelta(seconds=2)))

    assert _fetch(iam, clock).rows["alice"].keys is not None


def test_the_wait_for_a_report_in_progress_is_bounded(stubbed, clock):
    iam, stub = stubbed
    stub.add_response("generate_credential_report", {"State": "INPROGRESS"})
    for _ in range(7):
        stub.add_client_error("get_credential_report", "ReportInProgress", http_status_code=404)

    with pytest.raises(ReportUnavailable, match="still being generated after 0:00:30"):
        _fetch(iam, clock, max_wait=timedelta(seconds=30))
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0, 10.0, 5.0]


@pytest.mark.parametrize(
    ("state", "generated", "age"),
    [
        # moto stamps every report 2015-02-02; one built on our request is 0 old.
        ("STARTED", datetime(2015, 2, 2, 20, 2, 2, tzinfo=UTC), timedelta(0)),
        ("COMPLETE", datetime(2015, 2, 2, 20, 2, 2, tzinfo=UTC), MAX_REPORT_AGE),
        # Older than IAM allows after COMPLETE: the most that answer allows.
        ("COMPLETE", NOW - timedelta(hours=5), MAX_REPORT_AGE),
        # From the future, beyond a clock skew.
        ("COMPLETE", NOW + timedelta(hours=2), MAX_REPORT_AGE),
        ("STARTED", NOW + timedelta(hours=2), timedelta(0)),
        # Within the clock skew: 0 old.
        ("STARTED", NOW + timedelta(minutes=2), timedelta(0)),
    ],
)
def test_an_implausible_stamp_is_aged_by_what_iam_answered(stubbed, clock, state, generated, age):
    iam, stub = stubbed
    stub.add_response("generate_credential_report", {"State": state})
    stub.add_response("get_credential_report", _report(generated))

    assert _fetch(iam, clock).age == age


def test_access_denied_makes_the_report_unavailable(stubbed, clock):
    iam, stub = stubbed
    stub.add_response("generate_credential_report", {"State": "COMPLETE"})
    stub.add_client_error("get_credential_report", "AccessDenied", http_status_code=403)

    with pytest.raises(ReportUnavailable, match="GetCredentialReport: AccessDenied"):
        _fetch(iam, clock)


def test_lines_that_cannot_be_read_are_marked_not_guessed():
    used = NOW - timedelta(days=3)
    rows = parse_report(
        "\n".join(
            [
                HEADER,
                _line("no-keys"),
                _line("never-used", ("true", NOW - timedelta(days=10), "N/A")),
                _line("two", ("false", NOW - timedelta(days=50), used), ("true", NOW, used)),
                _line("active-no-date", ("true", "N/A", "N/A")),
                _line("bad-date", ("true", "yesterday", "N/A")),
                _line("bad-flag", ("maybe", NOW, "N/A")),
            ]
        )
    )

    assert rows["no-keys"].keys == ()
    (key,) = rows["never-used"].keys or ()
    assert key.active and key.last_used is None
    assert [k.active for k in rows["two"].keys or ()] == [False, True]
    for name in ("active-no-date", "bad-date", "bad-flag"):
        assert rows[name].keys is None, name
        assert rows[name].problem


def test_a_report_without_the_key_columns_is_unavailable():
    with pytest.raises(ReportUnavailable, match="lacks the column"):
        parse_report("user,arn\nalice,arn:aws:iam::111111111111:user/alice\n")
    with pytest.raises(ReportUnavailable, match="UTF-8"):
        parse_report(b"\xff\xfe")


def _row(age_days: float, used: bool = True):
    created = NOW - timedelta(days=age_days)
    line = _line("u", ("true", created, NOW - timedelta(days=1) if used else "N/A"))
    return parse_report(f"{HEADER}\n{line}")["u"]


def test_the_triage_is_the_policy_at_now_and_at_now_plus_the_margin():
    policy = PolicySettings()
    # 90-day rotation, 7-day warning: a key 82.9 days old warns 0.1 days from now.
    just_outside = _row(82.9)
    assert report_flags(_row(10), now=NOW, margin=timedelta(hours=5), policy=policy) == ""
    assert report_flags(just_outside, now=NOW, margin=timedelta(0), policy=policy) == ""
    assert "WARN" in report_flags(just_outside, now=NOW, margin=timedelta(hours=5), policy=policy)
    assert "ROTATE" in report_flags(_row(95), now=NOW, margin=timedelta(0), policy=policy)
    assert "ROTATE" in report_flags(
        _row(10), now=NOW, margin=timedelta(0), policy=policy, force_rotate=True
    )
    unreadable = parse_report(f"{HEADER}\n{_line('u', ('true', 'N/A', 'N/A'))}")["u"]
    assert "unreadable" in report_flags(unreadable, now=NOW, margin=timedelta(0), policy=policy)
