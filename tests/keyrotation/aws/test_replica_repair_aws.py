"""A replica whose replication Failed is repaired, and a region that keeps failing reported."""

from __future__ import annotations

from deploy.demo.organization import DemoKey, DemoUser
from keyrotation.aws.secret_store import REPLICA_REPAIRED_TAG, secret_name
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
