"""A rotation interrupted anywhere never leaves a key nobody received, and the next run
finishes it."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from deploy.demo.organization import DemoKey, DemoUser
from keyrotation.aws.key_actions import KeyActions
from keyrotation.aws.secret_store import (
    PENDING_REPLACES_TAG,
    PENDING_SINCE_TAG,
    SecretStore,
    secret_name,
)
from keyrotation.settings import RotationSettings

FIRST_ROTATION = [
    "DescribeSecret",
    "CreateSecret",
    "PutResourcePolicy",
    "PutUserPolicy",
    "TagResource",
    "CreateAccessKey",
    "PutSecretValue",
    "UntagResource",
]
LATER_ROTATION = [
    "DescribeSecret",
    "ReplicateSecretToRegions",
    "PutResourcePolicy",
    "PutUserPolicy",
    "TagResource",
    "CreateAccessKey",
    "PutSecretValue",
    "UntagResource",
]
REPLICATED = RotationSettings(dry_run=False, replication_regions=("eu-west-1",))


class ProcessDied(BaseException):
    """Stands for the worker being killed: no ``except Exception`` sees it."""


def stored_key(account, user: str = "alice") -> str | None:
    try:
        value = account.secrets().get_secret_value(SecretId=secret_name(account.id, user))
    except account.secrets().exceptions.ResourceNotFoundException:
        return None
    return json.loads(value["SecretString"])["AccessKeyId"]


def pending_tags(account, user: str = "alice") -> set[str]:
    described = account.secrets().describe_secret(SecretId=secret_name(account.id, user))
    return {t["Key"] for t in described.get("Tags", [])} & {PENDING_REPLACES_TAG, PENDING_SINCE_TAG}


@pytest.fixture
def first_rotation(member):
    """alice has one expired key and no secret yet."""
    account = member(DemoUser("alice", (DemoKey(120, 1),)))
    return account, account.seeded_keys["alice"][0], RotationSettings(dry_run=False)


@pytest.fixture
def later_rotation(member, rotate, age):
    """alice's secret holds her only key, expired again; a replica region was added."""
    account = member(DemoUser("alice", (DemoKey(120, 1),)))
    (first,) = account.seeded_keys["alice"]
    current = rotate(account).records[0].new_access_key_id
    account.iam().delete_access_key(UserName="alice", AccessKeyId=first)
    age(account.id, "alice", current, 120, 1)
    return account, current, REPLICATED


@pytest.mark.parametrize(
    ("scenario", "path"), [("first_rotation", FIRST_ROTATION), ("later_rotation", LATER_ROTATION)]
)
def test_the_rotate_path_is_the_one_the_fault_tests_cover(
    request, rotate, sessions, scenario, path
):
    account, _, settings = request.getfixturevalue(scenario)
    sessions.calls.clear()

    rotate(account, settings)

    rotation = sessions.calls[sessions.calls.index("DescribeSecret") :]
    # After the rotation, the upkeep of the secrets lists them (secrets of deleted users)
    # and, with replica regions, describes each (failed replicas).
    upkeep = ["ListSecrets"] + (["DescribeSecret"] if settings.replication_regions else [])
    assert rotation == [*path, *upkeep]


@pytest.mark.parametrize(
    ("scenario", "operation"),
    [("first_rotation", op) for op in FIRST_ROTATION]
    + [("later_rotation", op) for op in LATER_ROTATION],
)
def test_a_failure_at_any_step_leaves_no_undelivered_key_and_the_next_run_completes(
    request, rotate, sessions, scenario, operation
):
    account, old_key, settings = request.getfixturevalue(scenario)
    sessions.faults[operation] = "InjectedFailure"

    # The upkeep of the replicas meets the same fault; this test is about the key.
    (failed_run,) = [r for r in rotate(account, settings).records if r.action != "REPAIR_REPLICA"]

    keys = account.keys("alice")
    assert keys[old_key] == "Active", "the old key is untouched"
    assert set(keys) - {old_key} <= {stored_key(account)}, "no undelivered key"
    if operation == "UntagResource":
        # The key was delivered before: tidying up is not worth undoing it.
        assert failed_run.outcome == "done"
    else:
        assert failed_run.outcome == "failed"
        assert f"{operation}: InjectedFailure" in failed_run.error

    sessions.faults.clear()
    second_run = rotate(account, settings).records

    keys = account.keys("alice")
    (new_key,) = set(keys) - {old_key}
    assert keys == {old_key: "Active", new_key: "Active"}
    assert stored_key(account) == new_key
    assert pending_tags(account) == set()
    if failed_run.outcome == "failed":
        assert [(r.action, r.outcome) for r in second_run] == [("ROTATE", "done")]
    else:
        assert second_run == []


def test_when_the_new_key_cannot_be_deleted_either_the_next_run_deletes_it(
    first_rotation, rotate, sessions
):
    account, old_key, settings = first_rotation
    sessions.faults["PutSecretValue"] = "InjectedFailure"
    sessions.faults["DeleteAccessKey"] = "InjectedFailure"

    (record,) = rotate(account, settings).records

    assert record.outcome == "failed"
    assert "the next run deletes it" in record.error
    (undelivered,) = set(account.keys("alice")) - {old_key}

    sessions.faults.clear()
    (record,) = rotate(account, settings).records

    assert record.outcome == "done"
    assert set(account.keys("alice")) == {old_key, record.new_access_key_id}
    assert undelivered != record.new_access_key_id
    assert stored_key(account) == record.new_access_key_id


def crash_between_create_and_store(account, rotate, sessions, *, cleanup_dies: bool = True):
    sessions.faults["PutSecretValue"] = ProcessDied()
    if cleanup_dies:
        sessions.faults["DeleteAccessKey"] = ProcessDied()
    with pytest.raises(ProcessDied):
        rotate(account)
    sessions.faults.clear()


def test_a_crash_between_create_and_store_is_cleaned_up_then_rotated_by_the_next_run(
    first_rotation, rotate, sessions, caplog
):
    account, old_key, _ = first_rotation
    crash_between_create_and_store(account, rotate, sessions)
    (undelivered,) = set(account.keys("alice")) - {old_key}
    assert stored_key(account) is None
    assert pending_tags(account) == {PENDING_REPLACES_TAG, PENDING_SINCE_TAG}
    caplog.set_level(logging.WARNING, logger="keyrotation")

    (record,) = rotate(account).records

    assert (record.action, record.outcome) == ("ROTATE", "done")
    assert account.keys("alice") == {old_key: "Active", record.new_access_key_id: "Active"}
    assert stored_key(account) == record.new_access_key_id
    assert pending_tags(account) == set()
    assert f"alice: deleting undelivered key(s) {undelivered}" in caplog.text


def test_a_crash_during_rotate_and_delete_is_finished_by_the_next_run(member, rotate, sessions):
    account = member(DemoUser("erin", (DemoKey(95),)))
    (never_used,) = account.seeded_keys["erin"]
    sessions.faults["PutSecretValue"] = ProcessDied()
    sessions.faults["DeleteAccessKey"] = ProcessDied()
    with pytest.raises(ProcessDied):
        rotate(account)
    sessions.faults.clear()
    assert len(account.keys("erin")) == 2

    (record,) = rotate(account).records

    assert (record.action, record.outcome) == ("ROTATE_AND_DELETE", "done")
    assert account.keys("erin") == {record.new_access_key_id: "Active"}
    assert never_used != record.new_access_key_id
    assert stored_key(account, "erin") == record.new_access_key_id


def test_a_crash_after_which_the_cleanup_still_ran_leaves_only_the_record(
    first_rotation, rotate, sessions
):
    account, old_key, _ = first_rotation
    crash_between_create_and_store(account, rotate, sessions, cleanup_dies=False)
    assert account.keys("alice") == {old_key: "Active"}

    (record,) = rotate(account).records

    assert record.outcome == "done"
    assert pending_tags(account) == set()


def test_a_key_used_since_the_crash_is_never_deleted(first_rotation, rotate, sessions, age):
    account, old_key, _ = first_rotation
    crash_between_create_and_store(account, rotate, sessions)
    (other,) = set(account.keys("alice")) - {old_key}
    # Not ours after all: someone uses it.
    age(account.id, "alice", other, 0.01, 0.001)

    rotate(account)

    assert account.keys("alice") == {old_key: "Active", other: "Active"}
    assert pending_tags(account) == set()


def test_a_key_older_than_the_recorded_intent_is_never_deleted(member, rotate):
    account = member(DemoUser("alice", (DemoKey(120, 1), DemoKey(3))))
    old_key, persons_key = account.seeded_keys["alice"]
    secrets = account.secrets()
    secrets.create_secret(
        Name=secret_name(account.id, "alice"),
        Tags=[
            {"Key": PENDING_REPLACES_TAG, "Value": old_key},
            {"Key": PENDING_SINCE_TAG, "Value": datetime.now(UTC).isoformat(timespec="seconds")},
        ],
    )

    rotate(account)

    assert set(account.keys("alice")) == {old_key, persons_key}
    assert pending_tags(account) == set()


def test_a_secret_written_by_someone_else_blocks_the_users_changes(
    first_rotation, rotate, sessions, now, caplog
):
    account, old_key, _ = first_rotation
    crash_between_create_and_store(account, rotate, sessions)
    (unknown,) = set(account.keys("alice")) - {old_key}
    account.secrets().put_secret_value(
        SecretId=secret_name(account.id, "alice"), SecretString='{"written": "by hand"}'
    )

    # Past the new key's use deadline, the policy would deactivate the old key in favour
    # of the unknown (never used) one.
    (record,) = rotate(account, at=now + timedelta(days=31)).records

    assert (record.action, record.outcome) == ("DEACTIVATE", "failed")
    assert record.error.startswith("not attempted: a rotation of key")
    assert account.keys("alice") == {old_key: "Active", unknown: "Active"}
    assert "was not written by this pipeline" in caplog.text


def test_a_dry_run_after_a_crash_deletes_nothing_and_plans_as_if_cleaned_up(
    first_rotation, rotate, sessions, caplog
):
    account, old_key, _ = first_rotation
    crash_between_create_and_store(account, rotate, sessions)
    keys = account.keys("alice")
    (undelivered,) = set(keys) - {old_key}
    sessions.calls.clear()
    caplog.set_level(logging.WARNING, logger="keyrotation")

    (record,) = rotate(account, dry_run=True).records

    assert (record.action, record.outcome) == ("ROTATE", "skipped (dry run)")
    assert sessions.mutating_calls() == ["AssumeRole"]
    assert account.keys("alice") == keys
    assert pending_tags(account) == {PENDING_REPLACES_TAG, PENDING_SINCE_TAG}
    assert f"would delete undelivered key(s) {undelivered}" in caplog.text


def test_deactivate_and_delete_are_idempotent(member):
    account = member(DemoUser("alice", (DemoKey(120, 1, active=False), DemoKey(10, 1))))
    inactive, active = account.seeded_keys["alice"]
    iam = account.iam()
    actions = KeyActions(iam, SecretStore(account.secrets(), account_id=account.id))

    actions.deactivate("alice", inactive)
    actions.delete("alice", inactive)
    actions.delete("alice", inactive)
    actions.deactivate("alice", inactive)

    assert account.keys("alice") == {active: "Active"}
