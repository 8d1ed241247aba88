"""The pipeline's secrets: those of users that no longer exist are scheduled for deletion
(only the pipeline's own), a replica whose replication Failed is repaired, and a region
that keeps failing is reported."""

from __future__ import annotations

from deploy.demo.organization import DemoKey, DemoUser
from keyrotation.aws.secret_store import (
    ACCOUNT_ID_TAG,
    REPLICA_REPAIRED_TAG,
    USER_NAME_TAG,
    secret_name,
)
from keyrotation.settings import RotationSettings

REPLICA = "eu-west-1"
REPLICATED = RotationSettings(dry_run=False, replication_regions=(REPLICA,))


def replica_status(account, user: str = "alice") -> dict[str, str]:
    described = account.secrets().describe_secret(SecretId=secret_name(account.id, user))
    return {r["Region"]: r["Status"] for r in described.get("ReplicationStatus", [])}


def repairs(report):
    return [r for r in report.records if r.action == "REPAIR_REPLICA"]


def block_replica_region(account, user: str = "alice") -> str:
    """A secret of the same name in the replica region makes the replication fail."""
    name = secret_name(account.id, user)
    account.secrets(REPLICA).create_secret(Name=name, SecretString="{}")
    return name


def test_a_region_that_keeps_failing_is_a_failed_record_naming_it(member, rotate):
    account = member(DemoUser("alice", (DemoKey(120, 1),)))
    block_replica_region(account)

    report = rotate(account, REPLICATED)

    assert replica_status(account) == {REPLICA: "Failed"}
    (record,) = repairs(report)
    assert (record.user_name, record.secret_region, record.outcome) == (
        "alice",
        REPLICA,
        "failed",
    )
    assert "already exists" in record.error
    assert report.failed  # the admin summary hears of it


def test_a_failed_replica_is_repaired_once_the_cause_is_gone(member, rotate, sessions):
    account = member(DemoUser("alice", (DemoKey(120, 1),)))
    blocking = block_replica_region(account)
    rotate(account, REPLICATED)
    account.secrets(REPLICA).delete_secret(SecretId=blocking, ForceDeleteWithoutRecovery=True)
    sessions.calls.clear()

    report = rotate(account, REPLICATED)

    (record,) = repairs(report)
    assert record.outcome == "done"
    assert replica_status(account) == {REPLICA: "InSync"}
    assert sessions.calls.index("RemoveRegionsFromReplication") < sessions.calls.index(
        "ReplicateSecretToRegions"
    )
    # The next run finds it healthy and forgets the repair.
    assert repairs(rotate(account, REPLICATED)) == []
    tags = account.secrets().describe_secret(SecretId=secret_name(account.id, "alice"))["Tags"]
    assert REPLICA_REPAIRED_TAG not in {tag["Key"] for tag in tags}


def test_a_failed_replica_is_not_counted_as_replicated_when_rotating(member, rotate, age):
    account = member(DemoUser("alice", (DemoKey(120, 1),)))
    blocking = block_replica_region(account)
    first = rotate(account, REPLICATED).records[0].new_access_key_id
    account.secrets(REPLICA).delete_secret(SecretId=blocking, ForceDeleteWithoutRecovery=True)
    old = account.seeded_keys["alice"][0]
    account.iam().delete_access_key(UserName="alice", AccessKeyId=old)
    age(account.id, "alice", first, 120, 1)

    report = rotate(account, REPLICATED)

    assert [r.action for r in report.records] == ["ROTATE"]
    assert replica_status(account) == {REPLICA: "InSync"}


def test_a_dry_run_reports_the_failed_replica_and_changes_nothing(member, rotate, sessions):
    account = member(DemoUser("alice", (DemoKey(120, 1),)))
    blocking = block_replica_region(account)
    rotate(account, REPLICATED)
    account.secrets(REPLICA).delete_secret(SecretId=blocking, ForceDeleteWithoutRecovery=True)
    sessions.calls.clear()

    report = rotate(account, REPLICATED, dry_run=True)

    (record,) = repairs(report)
    assert record.outcome == "skipped (dry run)"
    assert sessions.mutating_calls() == ["AssumeRole"]
    assert replica_status(account) == {REPLICA: "Failed"}


def test_without_replication_regions_no_secret_is_described(member, rotate, sessions):
    account = member(DemoUser("alice", (DemoKey(120, 1),)))
    rotate(account, REPLICATED)  # creates the secret
    sessions.calls.clear()

    rotate(account)

    assert "DescribeSecret" not in sessions.calls


def pipeline_secret(account, user_name: str, *, tags: dict[str, str] | None = None) -> str:
    """A secret as the pipeline creates it (name and tags), for ``user_name``."""
    name = secret_name(account.id, user_name)
    if tags is None:
        tags = {ACCOUNT_ID_TAG: account.id, USER_NAME_TAG: user_name}
    account.secrets().create_secret(
        Name=name,
        SecretString='{"AccessKeyId": "dead"}',
        Tags=[{"Key": key, "Value": value} for key, value in tags.items()],
    )
    return name


def deletion_date(account, name: str):
    secrets = account.secrets().list_secrets(IncludePlannedDeletion=True)["SecretList"]
    return next(s for s in secrets if s["Name"] == name).get("DeletedDate")


def orphan_records(report):
    return [r for r in report.records if r.action == "DELETE_ORPHANED_SECRET"]


def test_the_secret_of_a_deleted_user_is_scheduled_for_deletion(member, rotate):
    account = member(DemoUser("alice", (DemoKey(10, 1),)))
    gone = pipeline_secret(account, "bob")
    kept = pipeline_secret(account, "alice")

    report = rotate(account)

    (record,) = orphan_records(report)
    assert (record.user_name, record.secret_name, record.outcome) == ("bob", gone, "done")
    assert record.due is not None  # the end of the recovery window
    assert deletion_date(account, gone) is not None
    assert deletion_date(account, kept) is None
    assert not report.failed


def test_a_dry_run_reports_the_orphan_and_deletes_nothing(member, rotate, sessions):
    account = member(DemoUser("alice", (DemoKey(10, 1),)))
    gone = pipeline_secret(account, "bob")
    sessions.calls.clear()

    report = rotate(account, dry_run=True)

    (record,) = orphan_records(report)
    assert record.outcome == "skipped (dry run)"
    assert deletion_date(account, gone) is None
    assert "DeleteSecret" not in sessions.calls


def test_with_deletion_turned_off_the_orphan_is_only_reported(member, rotate):
    account = member(DemoUser("alice", (DemoKey(10, 1),)))
    gone = pipeline_secret(account, "bob")

    report = rotate(account, RotationSettings(dry_run=False, delete_orphaned_secrets=False))

    (record,) = orphan_records(report)
    assert record.outcome == "reported"
    assert deletion_date(account, gone) is None


def test_a_look_alike_secret_the_pipeline_did_not_create_is_never_touched(member, rotate):
    account = member(DemoUser("alice", (DemoKey(10, 1),)))
    untagged = pipeline_secret(account, "bob", tags={})
    mismatched = pipeline_secret(
        account, "carol", tags={ACCOUNT_ID_TAG: account.id, USER_NAME_TAG: "someone-else"}
    )
    other_account = pipeline_secret(
        account, "dave", tags={ACCOUNT_ID_TAG: "999999999999", USER_NAME_TAG: "dave"}
    )

    report = rotate(account)

    assert orphan_records(report) == []
    for name in (untagged, mismatched, other_account):
        assert deletion_date(account, name) is None


def test_the_secret_of_an_exempt_user_is_kept(member, rotate, sessions):
    account = member(DemoUser("break-glass", (DemoKey(400, 1),), exempt=True))
    kept = pipeline_secret(account, "break-glass")

    report = rotate(account)

    assert orphan_records(report) == []
    assert deletion_date(account, kept) is None
    assert "GetUser" not in sessions.calls  # the scan saw the user


def test_a_failed_lookup_is_a_failed_record_not_a_deletion(member, rotate, sessions):
    account = member(DemoUser("alice", (DemoKey(10, 1),)))
    gone = pipeline_secret(account, "bob")
    sessions.faults["GetUser"] = "ServiceFailure"

    report = rotate(account)

    (record,) = orphan_records(report)
    assert record.outcome == "failed"
    assert "GetUser: ServiceFailure" in record.error
    assert deletion_date(account, gone) is None
