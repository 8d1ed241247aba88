"""The pipeline's secrets of one account: delete the orphaned, repair failed replicas.

Neither is a key action of the policy; both are changes, so a run that makes no change
(``hold``: a dry run, a rejected plan) records what it would do instead.
"""

from __future__ import annotations

import logging

from botocore.client import BaseClient

from keyrotation.aws.errors import describe_error
from keyrotation.aws.orphaned_secrets import orphaned_secrets
from keyrotation.aws.scan import AccountScan
from keyrotation.aws.secret_store import OwnSecret, SecretStore
from keyrotation.results import Account, ActionRecord, Notice, Outcome
from keyrotation.rotation.executor import Hold
from keyrotation.settings import RotationSettings

__all__ = ["secret_upkeep"]

logger = logging.getLogger(__name__)


def secret_upkeep(
    account: Account,
    iam: BaseClient,
    store: SecretStore,
    scan: AccountScan,
    settings: RotationSettings,
    *,
    hold: Hold | None,
) -> list[ActionRecord]:
    """Records of the orphaned secrets and of the replicas repaired (or to repair)."""
    try:
        secrets = store.own_secrets()
    except Exception as error:
        logger.warning("Listing the account's secrets failed: %s", describe_error(error))
        return [
            ActionRecord.notice(
                Notice.DELETE_ORPHANED_SECRET,
                account_id=account.id,
                user_name="",
                outcome=Outcome.FAILED,
                error=f"listing the account's secrets failed: {describe_error(error)}",
            )
        ]
    records = _orphaned_secret_records(account, iam, store, secrets, scan, settings, hold=hold)
    orphaned = {record.secret_name for record in records}
    if store.replication_regions:
        for secret in secrets:
            if secret.name not in orphaned:
                records += _replica_records(account, store, secret, hold=hold)
    return records


def _replica_records(
    account: Account, store: SecretStore, secret: OwnSecret, *, hold: Hold | None
) -> list[ActionRecord]:
    """Re-replicate a secret to the regions whose replica failed; report each region."""

    def record(region: str, outcome: Outcome, error: str | None = None) -> ActionRecord:
        return ActionRecord.notice(
            Notice.REPAIR_REPLICA,
            account_id=account.id,
            user_name=secret.user_name,
            outcome=outcome,
            error=error,
            secret_name=secret.name,
            secret_region=region,
        )

    try:
        health = store.failed_replicas(secret)
        if not health.failed:
            if health.repaired_before and hold is None:
                store.forget_replica_repairs(secret)
            return []
        if hold is not None:
            return [record(region, hold.outcome, error=hold.error) for region in health.failed]
        answers = store.repair_replicas(secret, health.failed)
    except Exception as error:
        return [record("", Outcome.FAILED, error=f"repairing replicas: {describe_error(error)}")]
    records = []
    for region in health.failed:
        status, message = answers.get(region, ("", ""))
        # Failed at once, or failed again after the previous run's repair (whose answer
        # was still InProgress): the region keeps failing.
        if status == "Failed" or (status != "InSync" and region in health.repaired_before):
            message = message or health.messages.get(region) or "Failed"
            logger.warning(
                "%s: replica of %s in %s keeps failing: %s",
                secret.user_name,
                secret.name,
                region,
                message,
            )
            records.append(
                record(region, Outcome.FAILED, error=f"replication failed again: {message}")
            )
        else:
            logger.info("%s: replica of %s in %s repaired", secret.user_name, secret.name, region)
            records.append(record(region, Outcome.DONE))
    return records


def _orphaned_secret_records(
    account: Account,
    iam: BaseClient,
    store: SecretStore,
    secrets: list[OwnSecret],
    scan: AccountScan,
    settings: RotationSettings,
    *,
    hold: Hold | None,
) -> list[ActionRecord]:
    """Schedule the deletion of the secrets of users that no longer exist, and say so."""

    def record(
        user_name: str, secret: str | None, outcome: Outcome, **details: str | None
    ) -> ActionRecord:
        return ActionRecord.notice(
            Notice.DELETE_ORPHANED_SECRET,
            account_id=account.id,
            user_name=user_name,
            due=details.pop("due", None),
            outcome=outcome,
            secret_name=secret,
            secret_region=store.region if secret else None,
            **details,
        )

    existing = {user.name for user in scan.users} | set(scan.exempt)
    try:
        orphans = orphaned_secrets(iam, secrets, existing)
    except Exception as error:
        logger.warning("Looking for secrets of deleted users failed: %s", describe_error(error))
        return [
            record(
                "",
                None,
                Outcome.FAILED,
                error=f"looking for secrets of deleted users failed: {describe_error(error)}",
            )
        ]
    kept = _kept(hold, settings)
    records = []
    for secret in orphans:
        if kept is not None:
            logger.warning(
                "%s: secret %s holds the key of a user that no longer exists (%s)",
                secret.user_name,
                secret.name,
                kept.why,
            )
            records.append(record(secret.user_name, secret.name, kept.outcome, error=kept.error))
            continue
        try:
            deletion = store.schedule_deletion(secret)
        except Exception as error:
            records.append(
                record(secret.user_name, secret.name, Outcome.FAILED, error=describe_error(error))
            )
            continue
        logger.info(
            "%s: user no longer exists; secret %s scheduled for deletion%s",
            secret.user_name,
            secret.name,
            f" on {deletion.isoformat()}" if deletion else "",
        )
        records.append(
            record(
                secret.user_name,
                secret.name,
                Outcome.DONE,
                due=deletion.isoformat() if deletion else None,
            )
        )
    return records


def _kept(hold: Hold | None, settings: RotationSettings) -> Hold | None:
    """Why orphaned secrets are only reported, not deleted; None: they are deleted."""
    # With deletion turned off there is nothing to approve, so a rejected plan reports the
    # orphan as any run does; a dry run says what it would do whatever the setting.
    if hold is not None and (settings.delete_orphaned_secrets or hold.outcome is Outcome.DRY_RUN):
        return Hold(hold.outcome, hold.error, f"{hold.why}: not deleted")
    if not settings.delete_orphaned_secrets:
        return Hold(Outcome.REPORTED, None, "delete_orphaned_secrets is off")
    return None
