"""rotate_account end to end on moto IAM and Secrets Manager: every policy case."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import boto3
import pytest

from deploy.demo.organization import DemoAccount, DemoKey, DemoUser
from keyrotation.aws.secret_store import (
    PENDING_REPLACES_TAG,
    USER_POLICY_NAME,
    secret_name,
)
from keyrotation.policy import ActionType, Reason
from keyrotation.results import Outcome
from keyrotation.settings import RotationSettings

A = ActionType
R = Reason


def K(age_days: float, used_days_ago: float | None = None, active: bool = True) -> DemoKey:
    return DemoKey(age_days, used_days_ago, active)


@dataclass(frozen=True)
class Case:
    keys: tuple[DemoKey, ...]
    plan: tuple[tuple[ActionType, int, Reason], ...]  # (action, index of the key, reason)
    final: tuple[str | None, ...]  # status of each seeded key afterwards; None: deleted
    force: bool = False

    @property
    def rotates(self) -> bool:
        return any(action in (A.ROTATE, A.ROTATE_AND_DELETE) for action, _, _ in self.plan)


CASES = {
    "no key": Case((), (), ()),
    "fresh key": Case((K(10, 1),), (), ("Active",)),
    "expired active key": Case((K(120, 1),), ((A.ROTATE, 0, R.EXPIRED_ACTIVE_KEY),), ("Active",)),
    "key due exactly today": Case((K(90, 1),), ((A.ROTATE, 0, R.EXPIRED_ACTIVE_KEY),), ("Active",)),
    "forced rotation": Case(
        (K(10, 1),), ((A.ROTATE, 0, R.FORCED_ROTATION),), ("Active",), force=True
    ),
    "key near expiry": Case((K(86, 1),), ((A.WARN, 0, R.KEY_PENDING_ROTATION),), ("Active",)),
    "never used expired only key": Case(
        (K(95),), ((A.ROTATE_AND_DELETE, 0, R.UNUSED_EXPIRED_KEY),), (None,)
    ),
    "never used expired key beside another": Case(
        (K(95), K(10, 1)), ((A.DELETE, 0, R.UNUSED_EXPIRED_KEY),), (None, "Active")
    ),
    "never used key near expiry": Case(
        (K(85),),
        (
            (A.WARN, 0, R.UNUSED_KEY_PENDING_DELETION),
            (A.WARN, 0, R.KEY_PENDING_ROTATION),
        ),
        ("Active",),
    ),
    "inactive key past recovery grace": Case(
        (K(25, 1, active=False),), ((A.DELETE, 0, R.RECOVER_GRACE_PERIOD_END),), (None,)
    ),
    "inactive key near deletion": Case(
        (K(15, 1, active=False),), ((A.WARN, 0, R.KEY_PENDING_DELETION),), ("Inactive",)
    ),
    "two expired inactive keys": Case(
        (K(200, 150, active=False), K(100, 95, active=False)),
        ((A.DELETE, 0, R.RECOVER_GRACE_PERIOD_END), (A.DELETE, 1, R.RECOVER_GRACE_PERIOD_END)),
        (None, None),
    ),
    "expired active beside inactive": Case(
        (K(150, 100, active=False), K(95, 1)),
        ((A.DELETE, 0, R.EXPIRED_INACTIVE_KEY_CONFLICT), (A.ROTATE, 1, R.EXPIRED_ACTIVE_KEY)),
        (None, "Active"),
    ),
    "forced active beside inactive": Case(
        (K(150, 100, active=False), K(30, 1)),
        ((A.DELETE, 0, R.FORCED_INACTIVE_KEY_CONFLICT), (A.ROTATE, 1, R.FORCED_ROTATION)),
        (None, "Active"),
        force=True,
    ),
    "inactive key after both graces": Case(
        (K(130, 25, active=False), K(25, 1)),
        ((A.DELETE, 0, R.RECOVER_GRACE_PERIOD_END),),
        (None, "Active"),
    ),
    "two expired active keys": Case(
        (K(150, 3), K(100, 1)),
        (
            (A.DELETE, 0, R.EXPIRED_ACTIVE_KEY_CONFLICT_LRU),
            (A.ROTATE, 1, R.EXPIRED_ACTIVE_KEY),
        ),
        (None, "Active"),
    ),
    "forced with two active keys": Case(
        (K(50, 1), K(20, 3)),
        ((A.DELETE, 1, R.FORCED_ROTATION_CONFLICT_LRU), (A.ROTATE, 0, R.FORCED_ROTATION)),
        ("Active", None),
        force=True,
    ),
    "old key after the installation grace": Case(
        (K(105, 12), K(15, 1)),
        ((A.DEACTIVATE, 0, R.INSTALL_GRACE_PERIOD_END),),
        ("Inactive", "Active"),
    ),
    "old key within the installation grace": Case(
        (K(95, 1), K(5, 1)), ((A.WARN, 0, R.KEY_PENDING_DEACTIVATION),), ("Active", "Active")
    ),
    "two active keys both near expiry": Case(
        (K(86, 1), K(85, 1)),
        ((A.WARN, 0, R.KEY_PENDING_DELETION_CONFLICT), (A.WARN, 1, R.KEY_PENDING_ROTATION)),
        ("Active", "Active"),
    ),
}


def assert_delivered(member, user_name: str, new_key_id: str) -> dict:
    """The secret holds a working key of the user that only the user may read."""
    secrets, iam = member.secrets(), member.iam()
    name = secret_name(member.id, user_name)
    value = json.loads(secrets.get_secret_value(SecretId=name)["SecretString"])
    assert set(value) == {"AccessKeyId", "SecretAccessKey", "UserName", "CreateDate"}
    assert value["AccessKeyId"] == new_key_id
    assert value["UserName"] == user_name
    assert member.keys(user_name)[new_key_id] == "Active"
    assert datetime.fromisoformat(value["CreateDate"]).tzinfo is not None
    user_arn = iam.get_user(UserName=user_name)["User"]["Arn"]
    # The stored secret access key works: AWS authenticates it as the user.
    stored = boto3.client(
        "sts",
        region_name="us-east-1",
        aws_access_key_id=value["AccessKeyId"],
        aws_secret_access_key=value["SecretAccessKey"],
    )
    assert stored.get_caller_identity()["Arn"] == user_arn

    resource_policy = json.loads(secrets.get_resource_policy(SecretId=name)["ResourcePolicy"])
    (grant,) = resource_policy["Statement"]
    assert grant["Effect"] == "Allow"
    assert grant["Principal"] == {"AWS": user_arn}
    assert "secretsmanager:GetSecretValue" in grant["Action"]

    secret_arn = secrets.describe_secret(SecretId=name)["ARN"]
    assert secret_arn.startswith(f"arn:aws:secretsmanager:us-east-1:{member.id}:secret:{name}-")
    document = iam.get_user_policy(UserName=user_name, PolicyName=USER_POLICY_NAME)[
        "PolicyDocument"
    ]
    (read,) = document["Statement"]
    assert read["Effect"] == "Allow"
    assert secret_arn in read["Resource"]
    assert "secretsmanager:GetSecretValue" in read["Action"]
    return value


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_policy_case_end_to_end(member, rotate, case: Case):
    account = member(DemoUser("alice", case.keys, owner="owner@example.com"))
    seeded = account.seeded_keys["alice"]

    report = rotate(account, force=("alice",) if case.force else ())

    planned = [(r.action, seeded.index(r.access_key_id), r.reason) for r in report.records]
    assert planned == [(action.name, index, reason.name) for action, index, reason in case.plan]
    for record in report.records:
        expected = Outcome.WARNED if record.action == "WARN" else Outcome.DONE
        assert record.outcome == expected.value, record.error
        assert record.account_id == account.id
        assert record.owner == "owner@example.com"
        assert (record.due is not None) == (record.action == "WARN")
    keys = account.keys("alice")
    for key_id, status in zip(seeded, case.final, strict=True):
        assert keys.get(key_id) == status
    new_keys = set(keys) - set(seeded)
    if case.rotates:
        (new_key,) = new_keys
        (rotation,) = [r for r in report.records if r.new_access_key_id]
        assert rotation.new_access_key_id == new_key
        assert rotation.secret_name == secret_name(account.id, "alice")
        assert rotation.secret_region == "us-east-1"
        assert_delivered(account, "alice", new_key)
    else:
        assert new_keys == set()
        assert account.secrets().list_secrets()["SecretList"] == []
    assert not report.failed


def test_a_second_run_on_the_same_state_changes_nothing(member, rotate, sessions):
    account = member(DemoUser("alice", (K(120, 1),)), DemoUser("bob", (K(105, 12), K(15, 1))))
    first = rotate(account)
    keys_after_first = {user: account.keys(user) for user in ("alice", "bob")}
    sessions.calls.clear()

    second = rotate(account)

    assert {r.action for r in first.records} == {"ROTATE", "DEACTIVATE"}
    assert second.records == []
    assert {user: account.keys(user) for user in ("alice", "bob")} == keys_after_first
    assert sessions.mutating_calls() == ["AssumeRole"]


def test_a_later_rotation_puts_a_new_version_and_corrects_the_user_policy(member, rotate, age):
    account = member(DemoUser("alice", (K(120, 1),)))
    (first_key,) = account.seeded_keys["alice"]
    first = rotate(account).records[0].new_access_key_id
    account.iam().delete_access_key(UserName="alice", AccessKeyId=first_key)
    age(account.id, "alice", first, 95, 1)
    account.iam().put_user_policy(
        UserName="alice",
        PolicyName=USER_POLICY_NAME,
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}],
            }
        ),
    )

    (record,) = rotate(account).records

    assert record.action == "ROTATE"
    assert record.access_key_id == first
    assert_delivered(account, "alice", record.new_access_key_id)
    versions = account.secrets().list_secret_version_ids(SecretId=secret_name(account.id, "alice"))[
        "Versions"
    ]
    stages = sorted(tuple(v["VersionStages"]) for v in versions)
    assert stages == [("AWSCURRENT",), ("AWSPREVIOUS",)]


def test_exempt_users_are_not_touched_and_are_logged_once(member, rotate, caplog):
    caplog.set_level(logging.INFO, logger="keyrotation")
    account = member(
        DemoUser("break-glass", (K(400, 30),), exempt=True),
        DemoUser("root-ci", (K(400, 30),), exempt=True),
        DemoUser("alice", (K(10, 1),)),
    )

    report = rotate(account)

    # Listed as exempt, with what made them exempt and no end date.
    assert [(r.user_name, r.action, r.outcome) for r in report.records] == [
        ("break-glass", "EXEMPT", "exempt"),
        ("root-ci", "EXEMPT", "exempt"),
    ]
    assert {r.exemption_source for r in report.records} == {
        "member of the IAM group IAMKeyRotationExemptionGroup"
    }
    assert {r.exempt_until for r in report.records} == {None}
    assert account.keys("break-glass") == {account.seeded_keys["break-glass"][0]: "Active"}
    assert "exempt (members of IAMKeyRotationExemptionGroup): break-glass, root-ci" in caplog.text


EXEMPT_UNTIL = "iam-key-rotation:exempt-until"
EXEMPT_REASON = "iam-key-rotation:exempt-reason"


def in_days(now: datetime, days: int) -> str:
    return (now.date() + timedelta(days=days)).isoformat()


def test_a_user_tag_exempts_through_its_date_with_its_reason(member, rotate, now):
    until = in_days(now, 30)
    account = member(
        DemoUser(
            "legacy-app",
            (K(120, 1),),
            tags=((EXEMPT_UNTIL, until), (EXEMPT_REASON, "vendor migrates in Q1")),
        ),
        DemoUser("alice", (K(120, 1),)),
    )

    report = rotate(account)

    exempt = [r for r in report.records if r.user_name == "legacy-app"]
    assert [(r.action, r.exempt_until, r.exemption_reason) for r in exempt] == [
        ("EXEMPT", until, "vendor migrates in Q1")
    ]
    assert exempt[0].exemption_source == f"user tag {EXEMPT_UNTIL}"
    assert account.keys("legacy-app") == {account.seeded_keys["legacy-app"][0]: "Active"}
    assert [r.action for r in report.records if r.user_name == "alice"] == ["ROTATE"]


def test_an_exemption_ending_within_the_window_warns_each_key(member, rotate, now):
    until = in_days(now, 3)
    account = member(DemoUser("legacy-app", (K(120, 1), K(30, 1)), tags=((EXEMPT_UNTIL, until),)))

    report = rotate(account)

    warnings = [r for r in report.records if r.action == "WARN"]
    assert {r.access_key_id for r in warnings} == set(account.seeded_keys["legacy-app"])
    assert {r.reason for r in warnings} == {"EXEMPTION_ENDING"}
    assert {r.due for r in warnings} == {f"{in_days(now, 4)}T00:00:00+00:00"}


@pytest.mark.parametrize("value", ["2026-13-45", "forever", "", "   ", "in 3 days"], ids=repr)
def test_an_unreadable_exemption_date_exempts_nothing_and_is_reported(member, rotate, value):
    account = member(DemoUser("legacy-app", (K(120, 1),), tags=((EXEMPT_UNTIL, value),)))

    report = rotate(account)

    actions = {r.action: r for r in report.records}
    assert actions["ROTATE"].outcome == "done"
    problem = actions["EXEMPTION_PROBLEM"]
    assert problem.user_name == "legacy-app"
    assert "user legacy-app" in problem.error
    assert EXEMPT_UNTIL in problem.error
    assert repr(value) in problem.error
    assert not report.failed


def test_an_exemption_date_beyond_the_cap_exempts_nothing(member, rotate, now):
    ten_years = in_days(now, 3650)
    account = member(DemoUser("legacy-app", (K(120, 1),), tags=((EXEMPT_UNTIL, ten_years),)))

    report = rotate(account)

    problem = next(r for r in report.records if r.action == "EXEMPTION_PROBLEM")
    assert "max_exemption_days" in problem.error and ten_years in problem.error
    assert "ROTATE" in [r.action for r in report.records]


def test_an_ended_exemption_applies_the_policy_silently(member, rotate, now):
    account = member(DemoUser("legacy-app", (K(120, 1),), tags=((EXEMPT_UNTIL, in_days(now, -1)),)))

    (record,) = rotate(account).records

    assert (record.action, record.outcome) == ("ROTATE", "done")


def test_an_account_tag_exempts_every_user_of_the_account(member, rotate, now):
    account = member(DemoUser("alice", (K(120, 1),)), DemoUser("bob", (K(200, 3),)))
    tagged = replace(
        account,
        account=replace(
            account.account,
            tags={EXEMPT_UNTIL: in_days(now, 60), EXEMPT_REASON: "audit freeze"},
        ),
    )

    (record,) = rotate(tagged).records

    assert (record.user_name, record.action, record.exemption_reason) == (
        "",
        "EXEMPT",
        "audit freeze",
    )
    assert "account tag" in record.exemption_source
    assert len(account.keys("alice")) == 1 and len(account.keys("bob")) == 1


def test_a_bad_account_tag_exempts_nothing_and_names_the_account(member, rotate):
    account = member(DemoUser("alice", (K(120, 1),)))
    tagged = replace(account, account=replace(account.account, tags={EXEMPT_UNTIL: "forever"}))

    records = rotate(tagged).records

    problem = next(r for r in records if r.action == "EXEMPTION_PROBLEM")
    assert f"account {account.account.id}" in problem.error and "'forever'" in problem.error
    assert problem.user_name == ""
    assert "ROTATE" in [r.action for r in records]


def test_a_missing_exemption_group_exempts_nobody(member, rotate):
    account = member(DemoUser("alice", (K(120, 1),)))
    account.iam().delete_group(GroupName="IAMKeyRotationExemptionGroup")

    (record,) = rotate(account).records

    assert record.action == "ROTATE"
    assert record.outcome == "done"


def test_accounts_are_isolated_through_their_assumed_roles(members, rotate):
    accounts = members(
        DemoAccount("first", ("Workloads",), (DemoUser("alice", (K(120, 1),)),)),
        DemoAccount("second", ("Workloads",), (DemoUser("alice", (K(120, 1),)),)),
    )
    first, second = accounts["first"], accounts["second"]

    (record,) = rotate(first).records

    assert record.secret_name == f"Account_{first.id}_User_alice_AccessKey"
    assert_delivered(first, "alice", record.new_access_key_id)
    assert second.keys("alice") == {second.seeded_keys["alice"][0]: "Active"}
    assert second.secrets().list_secrets()["SecretList"] == []


def test_one_users_failure_does_not_stop_the_others(member, rotate):
    account = member(DemoUser("alice", (K(120, 1),)), DemoUser("bob", (K(120, 1),)))
    secrets = account.secrets()
    name = secret_name(account.id, "alice")
    secrets.create_secret(Name=name)
    secrets.delete_secret(SecretId=name, RecoveryWindowInDays=7)

    report = rotate(account)

    alice, bob = sorted(report.records, key=lambda r: r.user_name)
    assert alice.outcome == "failed"
    assert "scheduled for deletion" in alice.error
    assert bob.outcome == "done"
    assert_delivered(account, "bob", bob.new_access_key_id)
    assert account.keys("alice") == {account.seeded_keys["alice"][0]: "Active"}
    assert report.failed


def test_after_a_failed_action_the_rest_of_the_users_plan_is_not_attempted(
    member, rotate, sessions
):
    account = member(DemoUser("alice", (K(150, 100, active=False), K(95, 1))))
    sessions.faults["DeleteAccessKey"] = "ServiceFailure"

    delete, rotation = rotate(account).records

    assert (delete.action, delete.outcome) == ("DELETE", "failed")
    assert "DeleteAccessKey: ServiceFailure" in delete.error
    assert (rotation.action, rotation.outcome) == ("ROTATE", "failed")
    assert rotation.error.startswith("not attempted")
    assert "CreateAccessKey" not in sessions.calls
    assert len(account.keys("alice")) == 2


def test_owner_is_read_only_when_an_owner_tag_is_configured(member, rotate, sessions):
    account = member(DemoUser("alice", (K(120, 1),), owner="team@example.com"))

    (record,) = rotate(
        account, RotationSettings(dry_run=False, owner_tag="", exempt_tag="")
    ).records

    assert record.owner is None
    assert "ListUserTags" not in sessions.calls


def test_the_owner_comes_from_the_tags_read_by_the_scan(member, rotate, sessions):
    account = member(DemoUser("alice", (K(120, 1),), owner="team@example.com"))

    (record,) = rotate(account).records

    assert record.owner == "team@example.com"
    # The credential-report scan reads every user's tags with GetAccountAuthorizationDetails.
    assert "GetAccountAuthorizationDetails" in sessions.calls
    assert sessions.calls.count("ListUserTags") == 0


def test_force_rotation_qualified_with_another_account_does_not_apply(member, rotate):
    account = member(DemoUser("alice", (K(10, 1),)), DemoUser("bob", (K(10, 1),)))

    report = rotate(account, force=("999999999999:alice", f"{account.id}:bob"))

    assert [(r.user_name, r.reason) for r in report.records] == [("bob", "FORCED_ROTATION")]


def test_a_dry_run_only_reads(member, rotate, sessions):
    account = member(
        DemoUser("alice", (K(120, 1),)),
        DemoUser("bob", (K(105, 12), K(15, 1))),
        DemoUser("carol", (K(130, 25, active=False), K(25, 1))),
        DemoUser("erin", (K(95),)),
        DemoUser("heidi", (K(86, 1),)),
        DemoUser("break-glass", (K(400, 1),), exempt=True),
    )
    before = {user: account.keys(user) for user in account.seeded_keys}
    sessions.calls.clear()

    report = rotate(account, dry_run=True)

    assert sessions.mutating_calls() == ["AssumeRole"]
    assert sessions.calls, "the recorder saw the calls"
    outcomes = {(r.user_name, r.action): r.outcome for r in report.records}
    assert outcomes == {
        ("alice", "ROTATE"): "skipped (dry run)",
        ("bob", "DEACTIVATE"): "skipped (dry run)",
        ("carol", "DELETE"): "skipped (dry run)",
        ("erin", "ROTATE_AND_DELETE"): "skipped (dry run)",
        ("heidi", "WARN"): "warned",
        ("break-glass", "EXEMPT"): "exempt",
    }
    alice = next(r for r in report.records if r.user_name == "alice")
    assert alice.secret_name == secret_name(account.id, "alice")
    assert {user: account.keys(user) for user in account.seeded_keys} == before
    assert account.secrets().list_secrets()["SecretList"] == []
    assert not report.failed


@pytest.mark.parametrize("scan_mode", ["auto", "per_user"])
def test_user_decisions_are_logged_one_line_each(member, rotate, caplog, scan_mode):
    caplog.set_level(logging.INFO, logger="keyrotation.rotation")
    account = member(DemoUser("alice", (K(120, 1),)), DemoUser("bob", (K(12, 1),)))

    (record,) = rotate(account, RotationSettings(dry_run=False, scan_mode=scan_mode)).records

    lines = [r.getMessage() for r in caplog.records if r.name.startswith("keyrotation.rotation")]
    assert (
        f"alice: {record.access_key_id} ROTATE (Active key has expired.) -> done, "
        f"new key {record.new_access_key_id} in secret Account_{account.id}_User_alice_AccessKey"
    ) in lines
    if scan_mode == "per_user":
        assert "bob: no action (keys: Active 12 days old)" in lines
    else:  # bob's keys are not read: the credential report shows nothing due
        assert not any(line.startswith("bob:") for line in lines)
        assert (
            f"Account {account.id} (workload), enforce: 2 user(s) scanned (credential_report), "
            f"0 exempt, 1 with nothing due per the credential report"
        ) in lines


def test_no_secret_access_key_in_logs_or_report(member, rotate, caplog):
    caplog.set_level(logging.DEBUG)
    account = member(
        DemoUser("alice", (K(120, 1),)),
        DemoUser("erin", (K(95),)),
        DemoUser("ivan", (K(150, 3), K(100, 1))),
    )

    report = rotate(account)

    secrets = [
        json.loads(
            account.secrets().get_secret_value(SecretId=secret_name(account.id, user))[
                "SecretString"
            ]
        )["SecretAccessKey"]
        for user in ("alice", "erin", "ivan")
    ]
    serialized = json.dumps([r.to_dict() for r in report.records]) + repr(report)
    assert len(report.records) == 4
    assert "botocore" in caplog.text, "debug logging was on"
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in serialized


def test_replicas_are_created_with_the_secret_and_only_missing_regions_added(
    member, rotate, sessions, age
):
    account = member(DemoUser("alice", (K(120, 1),)))
    name = secret_name(account.id, "alice")
    rotate(account, RotationSettings(dry_run=False, replication_regions=("eu-west-1",)))
    replicated = account.secrets().describe_secret(SecretId=name)["ReplicationStatus"]
    assert [r["Region"] for r in replicated] == ["eu-west-1"]
    assert "ReplicateSecretToRegions" not in sessions.calls

    settings = RotationSettings(
        dry_run=False, replication_regions=("eu-west-1", "eu-central-1", "us-east-1")
    )
    sessions.calls.clear()
    report = rotate(account, settings, force=("alice",))

    (_, rotation) = report.records
    assert rotation.outcome == "done"
    assert sessions.calls.count("ReplicateSecretToRegions") == 1
    replicated = account.secrets().describe_secret(SecretId=name)["ReplicationStatus"]
    assert sorted(r["Region"] for r in replicated) == ["eu-central-1", "eu-west-1"]
    # The user may read every replica.
    document = account.iam().get_user_policy(UserName="alice", PolicyName=USER_POLICY_NAME)
    resources = document["PolicyDocument"]["Statement"][0]["Resource"]
    assert {arn.split(":")[3] for arn in resources} == {"us-east-1", "eu-west-1", "eu-central-1"}


def test_central_secrets_live_in_the_secrets_account_encrypted_with_its_key(
    members, rotate, sessions
):
    accounts = members(
        DemoAccount("workload", ("Workloads",), (DemoUser("alice", (K(120, 1),)),)),
        DemoAccount("secrets", ("Security",), ()),
    )
    workload, vault = accounts["workload"], accounts["secrets"]
    vault.iam().create_role(
        RoleName="iam-key-rotation-secrets-role",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )
    key_arn = vault.clients("kms").create_key(Description="secrets")["KeyMetadata"]["Arn"]
    settings = RotationSettings(
        dry_run=False,
        secrets_account_id=vault.id,
        secrets_role_name="iam-key-rotation-secrets-role",
        secrets_kms_key_id=key_arn,
    )

    (record,) = rotate(workload, settings).records

    name = secret_name(workload.id, "alice")
    assert record.outcome == "done", record.error
    assert record.secret_name == name
    assert workload.secrets().list_secrets()["SecretList"] == []
    described = vault.secrets().describe_secret(SecretId=name)
    assert described["KmsKeyId"] == key_arn
    assert described["ARN"].split(":")[4] == vault.id
    value = json.loads(vault.secrets().get_secret_value(SecretId=name)["SecretString"])
    assert value["AccessKeyId"] == record.new_access_key_id
    user_arn = workload.iam().get_user(UserName="alice")["User"]["Arn"]
    policy = json.loads(vault.secrets().get_resource_policy(SecretId=name)["ResourcePolicy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": user_arn}
    document = workload.iam().get_user_policy(UserName="alice", PolicyName=USER_POLICY_NAME)
    read, decrypt = document["PolicyDocument"]["Statement"]
    assert read["Resource"] == [described["ARN"]]
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Resource"] == key_arn
    assumed = [params for name, params in sessions.params if name == "AssumeRole"]
    assert [(p["RoleArn"], p["RoleSessionName"]) for p in assumed] == [
        (
            f"arn:aws:iam::{workload.id}:role/iam-key-rotation-member-role",
            "iam-key-rotation-rotation",
        ),
        (
            f"arn:aws:iam::{vault.id}:role/iam-key-rotation-secrets-role",
            "iam-key-rotation-secrets",
        ),
    ]
    assert not [t for t in described.get("Tags", []) if t["Key"] == PENDING_REPLACES_TAG]
