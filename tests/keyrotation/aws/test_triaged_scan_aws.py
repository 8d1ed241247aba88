"""The triaged scan: the same plans as the per-user scan, with calls that grow with what
is due; the fall-back when the credential report cannot be had."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from deploy.demo.organization import DEMO_ACCOUNTS, DemoAccount, DemoKey, DemoUser
from keyrotation.aws.scan import ScanError, ScanMode, Triage, scan_account
from keyrotation.policy import PolicySettings, Reason
from keyrotation.settings import RotationSettings

K = DemoKey
GROUP = "IAMKeyRotationExemptionGroup"

#: Besides the demo's users, one user per remaining case of the policy.
EVERY_CASE = DemoAccount(
    "every-case",
    ("Workloads",),
    (
        DemoUser("no-keys", ()),
        DemoUser("inactive-old", (K(25, 24, active=False),), owner="o@example.com"),
        DemoUser("inactive-soon", (K(15, 14, active=False),)),
        DemoUser("two-inactive", (K(120, 100, active=False), K(95, 94, active=False))),
        DemoUser("one-inactive-expired", (K(120, 100, active=False), K(80, 1))),
        DemoUser("two-active-old-near", (K(85, 2), K(30, 1))),
        DemoUser("two-active-both-near", (K(86, 2), K(85, 1))),
        DemoUser("expired-beside-inactive", (K(20, 19, active=False), K(100, 1))),
        DemoUser("never-used-expired-pair", (K(95), K(10, 1))),
        DemoUser("never-used-inactive", (K(95, active=False),)),
        DemoUser("installing", (K(100, 1), K(3, 1)), owner="i@example.com"),
        DemoUser("fresh-pair", (K(40, 1), K(20, 1))),
        DemoUser("fresh", (K(30, 2),), owner="f@example.com"),
        DemoUser("forced", (K(20, 1),), owner="forced@example.com"),
        DemoUser("forced-pair", (K(20, 1), K(10, 2))),
        DemoUser("forced-beside-inactive", (K(30, 29, active=False), K(20, 1))),
        DemoUser("exempt-expired", (K(300, 1),), exempt=True),
    ),
)
FORCED = ("forced", "forced-pair", "forced-beside-inactive")


def _plan(report) -> list[tuple]:
    return sorted(
        (r.account_id, r.user_name, r.access_key_id, r.action, r.reason, r.due, r.owner)
        for r in report.records
    )


def test_both_scans_plan_the_same_on_an_organisation_of_every_case(members, rotate, sessions):
    accounts = [a for a in DEMO_ACCOUNTS if not a.suspended] + [EVERY_CASE]
    seeded = members(*accounts)
    reasons: set[str] = set()
    for member in seeded.values():
        plans = {}
        for mode in ("per_user", "auto"):
            settings = RotationSettings(scan_mode=mode)
            plans[mode] = _plan(rotate(member, settings, dry_run=True, force=FORCED))
        assert plans["auto"] == plans["per_user"], member.account.name
        reasons |= {entry[4] for entry in plans["auto"]}
    # The organisation covers every reason of the policy.
    assert reasons == {reason.name for reason in Reason}
    assert "ListUsers" not in sessions.calls[-20:]  # the last scan was the triaged one


def test_calls_grow_with_what_is_due_not_with_users(members, rotate, sessions):
    quiet = tuple(
        DemoUser(f"quiet-{i:02d}", (K(5 + i, 1),), owner="q@example.com") for i in range(40)
    )
    due = (
        DemoUser("due", (K(120, 1),), owner="d@example.com"),
        DemoUser("near", (K(86, 1),), owner="n@example.com"),
        DemoUser("pair", (K(95, 1), K(5, 1))),
    )
    (member,) = members(DemoAccount("big", ("Workloads",), quiet + due)).values()
    sessions.calls.clear()

    report = rotate(member, RotationSettings(), dry_run=True)

    calls = Counter(sessions.calls)
    acting = {record.user_name for record in report.records}
    assert acting == {"due", "near", "pair"}
    assert calls["ListAccessKeys"] == len(acting)
    assert calls["GetAccessKeyLastUsed"] == 4  # one per key of those users
    assert calls["GetAccountAuthorizationDetails"] == 1
    for unwanted in ("ListUsers", "GetGroup", "ListUserTags"):
        assert calls[unwanted] == 0, unwanted
    iam_calls = sum(n for api, n in calls.items() if api not in ("AssumeRole", "ListSecrets"))
    assert iam_calls <= 10 + 3 * len(acting)
    # The owners come from the tags GetAccountAuthorizationDetails returned.
    assert {r.user_name: r.owner for r in report.records}["due"] == "d@example.com"


@pytest.mark.parametrize(
    "api",
    ["GenerateCredentialReport", "GetCredentialReport", "GetAccountAuthorizationDetails"],
)
def test_without_the_report_every_user_is_scanned_and_the_log_says_why(
    member, rotate, sessions, caplog, api
):
    account = member(DemoUser("alice", (K(120, 1),)), DemoUser("bob", (K(12, 1),)))
    sessions.faults[api] = "AccessDenied"
    caplog.set_level(logging.WARNING, logger="keyrotation.aws.scan")

    (record,) = rotate(account, dry_run=True).records

    assert record.user_name == "alice"
    assert sessions.calls.count("ListAccessKeys") == 2  # bob too: the per-user scan
    assert f"credential report unavailable ({api}: AccessDenied" in caplog.text
    assert "scanning every user" in caplog.text


def test_a_forced_credential_report_scan_fails_without_the_report(member, rotate, sessions):
    account = member(DemoUser("alice", (K(120, 1),)))
    sessions.faults["GetCredentialReport"] = "AccessDenied"

    with pytest.raises(ScanError, match="scan_mode is credential_report"):
        rotate(account, RotationSettings(scan_mode="credential_report"))
    assert [c for c in sessions.mutating_calls() if c != "AssumeRole"] == []


def test_the_per_user_scan_mode_reads_no_report(member, rotate, sessions):
    account = member(DemoUser("alice", (K(120, 1),)))

    rotate(account, RotationSettings(scan_mode="per_user"), dry_run=True)

    assert "GetCredentialReport" not in sessions.calls
    assert "ListUsers" in sessions.calls


def test_a_pipeline_tag_or_a_named_tag_earns_a_live_look(member, sessions, now):
    account = member(DemoUser("fresh", (K(10, 1),)), DemoUser("tagged", (K(10, 1),)))
    iam = account.iam()
    iam.tag_user(UserName="tagged", Tags=[{"Key": "iam-key-rotation:exempt-until", "Value": "x"}])
    iam.tag_user(UserName="fresh", Tags=[{"Key": "Temporary", "Value": "yes"}])
    triage = Triage(now=now, policy=PolicySettings())

    scan = scan_account(
        iam, account_id=account.id, exemption_group=GROUP, mode="auto", triage=triage
    )
    assert [u.name for u in scan.users] == ["tagged"]
    assert scan.not_due == 1 and scan.mode is ScanMode.CREDENTIAL_REPORT

    named = Triage(now=now, policy=PolicySettings(), tags=("temporary",))
    scan = scan_account(
        iam, account_id=account.id, exemption_group=GROUP, mode="auto", triage=named
    )
    assert [u.name for u in scan.users] == ["fresh", "tagged"]
    assert scan.users[0].tags == {"Temporary": "yes"}


# --- Stubber: what moto cannot show (pages, a report older than the users) -------------

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HEADER = (
    "user,arn,user_creation_time,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_2_active,access_key_2_last_rotated,"
    "access_key_2_last_used_date"
)
CREATED = NOW - timedelta(days=400)


def _arn(name: str) -> str:
    return f"arn:aws:iam::111111111111:user/{name}"


def _detail(name: str, groups=(), tags=(), created: datetime = CREATED) -> dict:
    return {
        "UserName": name,
        "UserId": f"AIDA{name.upper():0<17}"[:21],
        "Arn": _arn(name),
        "Path": "/",
        "CreateDate": created,
        "GroupList": list(groups),
        "Tags": [{"Key": k, "Value": v} for k, v in tags],
    }


def _line(name: str, key_age_days: float) -> str:
    created = (NOW - timedelta(days=key_age_days)).isoformat()
    used = (NOW - timedelta(days=1)).isoformat()
    return f"{name},{_arn(name)},{CREATED.isoformat()},true,{created},{used},false,N/A,N/A"


def test_every_page_of_users_is_read_and_only_the_due_are_read_live():
    iam = boto3.client("iam", region_name="us-east-1")
    content = "\n".join(
        [
            HEADER,
            _line("due", 120),
            _line("fresh", 10),
            _line("exempt", 300),
            _line("reborn", 10),
            # Warned 83 days after creation: in 1.5 and in 2.5 hours. The report is an
            # hour old, the slack an hour: the margin is two hours.
            _line("soon", 83 - 1.5 / 24),
            _line("later", 83 - 2.5 / 24),
        ]
    )
    with Stubber(iam) as stub:
        stub.add_response("generate_credential_report", {"State": "COMPLETE"})
        stub.add_response(
            "get_credential_report",
            {"Content": content.encode(), "GeneratedTime": NOW - timedelta(hours=1)},
        )
        stub.add_response(
            "get_account_authorization_details",
            {
                "UserDetailList": [
                    _detail("due", tags=[("Owner", "o@example.com")]),
                    _detail("exempt", groups=[GROUP]),
                ],
                "IsTruncated": True,
                "Marker": "m2",
            },
            {"Filter": ["User"], "MaxItems": 1000},
        )
        stub.add_response(
            "get_account_authorization_details",
            {
                "UserDetailList": [
                    _detail("fresh"),
                    _detail("soon"),
                    _detail("later"),
                    _detail("newcomer", created=NOW - timedelta(minutes=5)),
                    # Deleted and created again since the report: its line is not its own.
                    _detail("reborn", created=NOW - timedelta(minutes=30)),
                ],
                "IsTruncated": False,
            },
            {"Filter": ["User"], "MaxItems": 1000, "Marker": "m2"},
        )
        for name in ("due", "soon", "newcomer", "reborn"):
            stub.add_response(
                "list_access_keys",
                {"AccessKeyMetadata": [], "IsTruncated": False},
                {"UserName": name},
            )

        scan = scan_account(
            iam,
            account_id="111111111111",
            exemption_group=GROUP,
            max_workers=1,
            mode="credential_report",
            triage=Triage(now=NOW, policy=PolicySettings(), clock=lambda: NOW),
        )
        stub.assert_no_pending_responses()

    assert [u.name for u in scan.users] == ["due", "newcomer", "reborn", "soon"]
    assert scan.exempt == ("exempt",)
    assert scan.not_due == 2  # fresh, later
    assert scan.users[0].tag("owner") == "o@example.com"
