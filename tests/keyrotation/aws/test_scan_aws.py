from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from deploy.demo.organization import DemoKey, DemoUser
from keyrotation.aws.scan import ScanError, ScannedKey, read_owner, scan_account

GROUP = "IAMKeyRotationExemptionGroup"


def test_scan_reads_users_keys_and_last_use_minus_exempt_users(member, now):
    account = member(
        DemoUser("carol", (DemoKey(105, 12), DemoKey(15, None, active=False))),
        DemoUser("alice", (DemoKey(120, 1),)),
        DemoUser("nokeys", ()),
        DemoUser("break-glass", (DemoKey(400, 30),), exempt=True),
    )

    scan = scan_account(account.iam(), account_id=account.id, exemption_group=GROUP)

    assert scan.account_id == account.id
    assert scan.exempt == ("break-glass",)
    assert [u.name for u in scan.users] == ["alice", "carol", "nokeys"]
    alice, carol, nokeys = scan.users
    assert alice.arn == f"arn:aws:iam::{account.id}:user/alice"
    assert nokeys.keys == ()
    old, new = carol.keys
    assert old.access_key_id == account.seeded_keys["carol"][0]
    assert (old.status, old.active) == ("Active", True)
    assert abs(old.created - (now - timedelta(days=105))) < timedelta(seconds=1)
    assert abs(old.last_used - (now - timedelta(days=12))) < timedelta(seconds=1)
    assert old.created.tzinfo == UTC
    assert (new.status, new.active, new.last_used) == ("Inactive", False, None)
    assert carol.key_metadata()[1] == {
        "UserName": "carol",
        "AccessKeyId": new.access_key_id,
        "Status": "Inactive",
        "CreateDate": new.created,
        "LastUsedDate": None,
    }


def test_a_missing_exemption_group_exempts_nobody(member):
    account = member(DemoUser("alice", ()))
    account.iam().delete_group(GroupName=GROUP)

    scan = scan_account(account.iam(), account_id=account.id, exemption_group=GROUP)

    assert scan.exempt == ()
    assert [u.name for u in scan.users] == ["alice"]


@pytest.mark.parametrize("operation", ["GetAccessKeyLastUsed", "GetGroup", "ListUsers"])
def test_a_failed_read_is_an_error_never_a_guess(member, sessions, operation):
    account = member(DemoUser("alice", (DemoKey(120, 1),)))
    session = sessions.assume_role(account.id, "iam-key-rotation-member-role", purpose="test")
    iam = sessions.client("iam", session)
    sessions.faults[operation] = "AccessDenied"

    with pytest.raises(ScanError) as raised:
        scan_account(iam, account_id=account.id, exemption_group=GROUP)

    assert account.id in str(raised.value)
    assert f"{operation}: AccessDenied" in str(raised.value)


def test_a_scan_failure_fails_the_whole_account_before_any_change(member, rotate, sessions):
    account = member(DemoUser("alice", (DemoKey(120, 1),)), DemoUser("bob", (DemoKey(95),)))
    sessions.faults["GetAccessKeyLastUsed"] = "ServiceUnavailableException"

    with pytest.raises(ScanError):
        rotate(account)

    assert sessions.mutating_calls() == ["AssumeRole"]


def test_read_owner_matches_the_tag_key_case_insensitively(member):
    account = member(DemoUser("alice", (), owner="alice@example.com"), DemoUser("bob", ()))
    iam = account.iam()

    assert read_owner(iam, "alice", "Owner") == "alice@example.com"
    assert read_owner(iam, "bob", "owner") is None


def _user(name: str) -> dict:
    return {
        "Path": "/",
        "UserName": name,
        "UserId": f"AIDA{name.upper():0<16}",
        "Arn": f"arn:aws:iam::111111111111:user/{name}",
        "CreateDate": datetime(2020, 1, 1, tzinfo=UTC),
    }


def _key(user: str, key_id: str, status: str = "Active") -> dict:
    return {
        "UserName": user,
        "AccessKeyId": key_id,
        "Status": status,
        "CreateDate": datetime(2024, 1, 1, tzinfo=UTC),
    }


@pytest.fixture
def stubbed_iam():
    iam = boto3.client("iam", region_name="us-east-1")
    with Stubber(iam) as stubber:
        yield iam, stubber
        stubber.assert_no_pending_responses()


def test_every_page_of_users_and_exemption_group_members_is_read(stubbed_iam):
    iam, stub = stubbed_iam
    group = {
        "Path": "/",
        "GroupName": GROUP,
        "GroupId": "AGPAEXAMPLE0000000000",
        "Arn": f"arn:aws:iam::111111111111:group/{GROUP}",
        "CreateDate": datetime(2020, 1, 1, tzinfo=UTC),
    }
    stub.add_response(
        "get_group",
        {"Group": group, "Users": [_user("exempt-1")], "IsTruncated": True, "Marker": "g2"},
        {"GroupName": GROUP, "MaxItems": 1000},
    )
    stub.add_response(
        "get_group",
        {"Group": group, "Users": [_user("exempt-2")], "IsTruncated": False},
        {"GroupName": GROUP, "MaxItems": 1000, "Marker": "g2"},
    )
    stub.add_response(
        "list_users",
        {"Users": [_user("exempt-1"), _user("u1")], "IsTruncated": True, "Marker": "u2"},
        {"MaxItems": 1000},
    )
    stub.add_response(
        "list_users",
        {"Users": [_user("exempt-2"), _user("u2")], "IsTruncated": True, "Marker": "u3"},
        {"MaxItems": 1000, "Marker": "u2"},
    )
    stub.add_response(
        "list_users",
        {"Users": [_user("u3")], "IsTruncated": False},
        {"MaxItems": 1000, "Marker": "u3"},
    )
    used = datetime(2024, 5, 1, tzinfo=UTC)
    for user, key_id, last_used in (
        ("u1", "AKIAEXAMPLE000000001", used),
        ("u2", "AKIAEXAMPLE000000002", None),
        ("u3", "AKIAEXAMPLE000000003", used),
    ):
        stub.add_response(
            "list_access_keys",
            {"AccessKeyMetadata": [_key(user, key_id)], "IsTruncated": False},
            {"UserName": user},
        )
        block = (
            {"ServiceName": "s3", "Region": "us-east-1"}
            if last_used
            else {
                "ServiceName": "N/A",
                "Region": "N/A",
            }
        )
        if last_used:
            block["LastUsedDate"] = last_used
        stub.add_response(
            "get_access_key_last_used",
            {"UserName": user, "AccessKeyLastUsed": block},
            {"AccessKeyId": key_id},
        )

    scan = scan_account(
        iam, account_id="111111111111", exemption_group=GROUP, max_workers=1, read_tags=False
    )

    assert scan.exempt == ("exempt-1", "exempt-2")
    assert [u.name for u in scan.users] == ["u1", "u2", "u3"]
    assert [u.keys[0].last_used for u in scan.users] == [used, None, used]


def test_users_and_keys_deleted_during_the_scan_are_left_out(stubbed_iam):
    iam, stub = stubbed_iam
    stub.add_client_error(
        "get_group", "NoSuchEntity", expected_params={"GroupName": GROUP, "MaxItems": 1000}
    )
    stub.add_response(
        "list_users",
        {"Users": [_user("gone"), _user("kept")], "IsTruncated": False},
        {"MaxItems": 1000},
    )
    stub.add_client_error("list_access_keys", "NoSuchEntity", expected_params={"UserName": "gone"})
    stub.add_response(
        "list_access_keys",
        {
            "AccessKeyMetadata": [
                _key("kept", "AKIAEXAMPLE00000GONE"),
                _key("kept", "AKIAEXAMPLE00000KEPT"),
            ]
        },
        {"UserName": "kept"},
    )
    stub.add_client_error(
        "get_access_key_last_used",
        "NoSuchEntity",
        expected_params={"AccessKeyId": "AKIAEXAMPLE00000GONE"},
    )
    stub.add_response(
        "get_access_key_last_used",
        {"UserName": "kept", "AccessKeyLastUsed": {"ServiceName": "N/A", "Region": "N/A"}},
        {"AccessKeyId": "AKIAEXAMPLE00000KEPT"},
    )

    stub.add_response("list_user_tags", {"Tags": [], "IsTruncated": False}, {"UserName": "kept"})

    scan = scan_account(iam, account_id="111111111111", exemption_group=GROUP, max_workers=1)

    (kept,) = scan.users
    assert kept.tags == {}
    assert kept.name == "kept"
    assert kept.keys == (
        ScannedKey("AKIAEXAMPLE00000KEPT", "Active", datetime(2024, 1, 1, tzinfo=UTC), None),
    )


def test_an_answer_without_last_used_is_an_error(stubbed_iam):
    iam, stub = stubbed_iam
    stub.add_response(
        "list_users", {"Users": [_user("u1")], "IsTruncated": False}, {"MaxItems": 1000}
    )
    stub.add_response(
        "list_access_keys",
        {"AccessKeyMetadata": [_key("u1", "AKIAEXAMPLE000000001")]},
        {"UserName": "u1"},
    )
    stub.add_response("get_access_key_last_used", {}, {"AccessKeyId": "AKIAEXAMPLE000000001"})

    with pytest.raises(ScanError, match="AKIAEXAMPLE000000001"):
        scan_account(iam, account_id="111111111111", exemption_group="", max_workers=1)


def test_every_page_of_a_users_tags_is_read(stubbed_iam):
    iam, stub = stubbed_iam
    stub.add_client_error(
        "get_group", "NoSuchEntity", expected_params={"GroupName": GROUP, "MaxItems": 1000}
    )
    stub.add_response(
        "list_users",
        {"Users": [_user("tagged"), _user("gone")], "IsTruncated": False},
        {"MaxItems": 1000},
    )
    for name in ("tagged", "gone"):
        stub.add_response(
            "list_access_keys", {"AccessKeyMetadata": [], "IsTruncated": False}, {"UserName": name}
        )
        if name == "gone":
            stub.add_client_error(
                "list_user_tags", "NoSuchEntity", expected_params={"UserName": name}
            )
            continue
        stub.add_response(
            "list_user_tags",
            {
                "Tags": [{"Key": "owner", "Value": "a@example.com"}],
                "IsTruncated": True,
                "Marker": "t2",
            },
            {"UserName": name},
        )
        stub.add_response(
            "list_user_tags",
            {"Tags": [{"Key": "Iam-Key-Rotation:Exempt-Until", "Value": "2026-12-31"}]},
            {"UserName": name, "Marker": "t2"},
        )

    scan = scan_account(iam, account_id="111111111111", exemption_group=GROUP, max_workers=1)

    (tagged,) = scan.users
    assert tagged.tags == {
        "owner": "a@example.com",
        "Iam-Key-Rotation:Exempt-Until": "2026-12-31",
    }
    assert tagged.tag("iam-key-rotation:exempt-until") == "2026-12-31"
