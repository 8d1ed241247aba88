"""Rotate one account: assume the member role, scan, plan, execute, report.

One user's failure does not stop the others: it becomes a record with outcome
``failed``. Only a failure that concerns the whole account (the member role cannot be
assumed, the users cannot be read) raises.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

import boto3
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from keyrotation.aws.key_actions import InterruptedRotation, KeyActions, describe_error
from keyrotation.aws.orphaned_secrets import orphaned_secrets
from keyrotation.aws.scan import (
    AccountScan,
    ScanError,
    ScannedUser,
    Triage,
    read_owner,
    scan_account,
)
from keyrotation.aws.secret_store import OwnSecret, PendingRotation, SecretStore
from keyrotation.aws.sessions import AccountSessions, error_code
from keyrotation.exemptions import (
    AccountExemptions,
    Exemption,
    group_exemption,
    resolve_exemptions,
)
from keyrotation.planner import UserPlan, forced_users, plan_users
from keyrotation.policy import Action, ActionType, Reason
from keyrotation.results import Account, ActionRecord, Notice, Outcome
from keyrotation.settings import RotationSettings

__all__ = ["AccountReport", "rotate_account"]

logger = logging.getLogger(__name__)

_ROTATIONS = (ActionType.ROTATE, ActionType.ROTATE_AND_DELETE)
_NEW_KEY_REASONS = (Reason.NEW_KEY_NOT_IN_USE, Reason.NEW_KEY_USE_DEADLINE)


@dataclass
class AccountReport:
    """Every planned action of one account, WARN included, with its outcome."""

    account: Account
    records: list[ActionRecord] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(record.failed for record in self.records)


def rotate_account(
    account: Account,
    *,
    sessions: AccountSessions,
    settings: RotationSettings,
    now: datetime,
    dry_run: bool,
    force_rotate: Collection[str] = (),
) -> AccountReport:
    """Apply the key policy at ``now`` to every user of ``account``.

    In a dry run only List/Get/Describe calls (and AssumeRole) reach AWS.
    """
    forced = forced_users(force_rotate, account.id)
    member = sessions.assume_role(account.id, settings.member_role_name, purpose="rotation")
    iam = sessions.client("iam", member)
    store = _secret_store(account, sessions, settings, member)
    actions = KeyActions(iam, store)
    pending = _pending_rotations(account, store)
    scan = scan_account(
        iam,
        account_id=account.id,
        exemption_group=settings.exemption_group,
        mode=settings.scan_mode,
        triage=Triage(
            now=now,
            policy=settings.policy,
            forced=forced,
            always=frozenset(p.user_name for p in pending),
        ),
        read_tags=bool(settings.exempt_tag or settings.owner_tag),
    )
    exemptions = resolve_exemptions(
        account_id=account.id,
        account_tags=account.tags,
        user_tags={user.name: user.tags for user in scan.users},
        exempt_tag=settings.exempt_tag,
        now=now,
        max_days=settings.max_exemption_days,
    )
    mode = "dry run" if dry_run else "enforce"
    logger.info(
        "Account %s (%s), %s: %d user(s) scanned (%s), %d exempt%s",
        account.id,
        account.name,
        mode,
        len(scan.users) + len(scan.exempt) + scan.not_due,
        scan.mode.value,
        len(scan.exempt),
        f", {scan.not_due} with nothing due per the credential report" if scan.not_due else "",
    )
    if scan.exempt:
        logger.info("exempt (members of %s): %s", settings.exemption_group, ", ".join(scan.exempt))
    for problem in exemptions.problems:
        logger.warning("%s", problem.message)

    users, blocked = _recover_interrupted(scan, actions, pending, dry_run=dry_run)
    plans = plan_users(
        users,
        now=now,
        settings=settings.policy,
        forced=forced,
        exempt_until=exemptions.ends(user.name for user in users),
    )
    report = AccountReport(account=account)
    for plan in plans:
        if not plan.actions:
            logger.info("%s: no action (%s)", plan.user.name, _describe_keys(plan.user, now))
            continue
        owner = _owner(iam, plan.user, settings.owner_tag)
        records = _UserRun(
            plan, account=account, actions=actions, store=store, owner=owner, dry_run=dry_run
        ).execute(blocked.get(plan.user.name))
        report.records.extend(records)
        line = f"{plan.user.name}: " + "; ".join(_describe_record(r) for r in records)
        if any(r.failed for r in records):
            logger.warning("%s", line)
        else:
            logger.info("%s", line)
    report.records.extend(_exemption_records(account, scan, exemptions, settings))
    report.records.extend(_secret_upkeep(account, iam, store, scan, settings, dry_run=dry_run))
    _log_summary(report, mode)
    return report


def _secret_upkeep(
    account: Account,
    iam: BaseClient,
    store: SecretStore,
    scan: AccountScan,
    settings: RotationSettings,
    *,
    dry_run: bool,
) -> list[ActionRecord]:
    """The pipeline's secrets of the account: delete the orphaned, repair failed replicas."""
    try:
        secrets = store.own_secrets()
    except Exception as error:
        logger.warning("Listing the account's secrets failed: %s", describe_error(error))
        return [
            ActionRecord(
                account_id=account.id,
                user_name="",
                access_key_id="",
                action=Notice.DELETE_ORPHANED_SECRET.value,
                reason=Notice.DELETE_ORPHANED_SECRET.value,
                due=None,
                outcome=Outcome.FAILED.value,
                error=f"listing the account's secrets failed: {describe_error(error)}",
            )
        ]
    records = _orphaned_secret_records(
        account, iam, store, secrets, scan, settings, dry_run=dry_run
    )
    orphaned = {record.secret_name for record in records}
    if store.replication_regions:
        for secret in secrets:
            if secret.name not in orphaned:
                records += _replica_records(account, store, secret, dry_run=dry_run)
    return records


def _replica_records(
    account: Account, store: SecretStore, secret: OwnSecret, *, dry_run: bool
) -> list[ActionRecord]:
    """Re-replicate a secret to the regions whose replica failed; report each region."""

    def record(region: str, outcome: Outcome, error: str | None = None) -> ActionRecord:
        return ActionRecord(
            account_id=account.id,
            user_name=secret.user_name,
            access_key_id="",
            action=Notice.REPAIR_REPLICA.value,
            reason=Notice.REPAIR_REPLICA.value,
            due=None,
            outcome=outcome.value,
            error=error,
            secret_name=secret.name,
            secret_region=region,
        )

    try:
        health = store.failed_replicas(secret)
        if not health.failed:
            if health.repaired_before and not dry_run:
                store.forget_replica_repairs(secret)
            return []
        if dry_run:
            return [record(region, Outcome.DRY_RUN) for region in health.failed]
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
    dry_run: bool,
) -> list[ActionRecord]:
    """Schedule the deletion of the secrets of users that no longer exist, and say so."""

    def record(
        user_name: str, secret: str | None, outcome: Outcome, **details: str | None
    ) -> ActionRecord:
        return ActionRecord(
            account_id=account.id,
            user_name=user_name,
            access_key_id="",
            action=Notice.DELETE_ORPHANED_SECRET.value,
            reason=Notice.DELETE_ORPHANED_SECRET.value,
            due=details.pop("due", None),
            outcome=outcome.value,
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
    records = []
    for secret in orphans:
        if dry_run or not settings.delete_orphaned_secrets:
            outcome = Outcome.DRY_RUN if dry_run else Outcome.REPORTED
            logger.warning(
                "%s: secret %s holds the key of a user that no longer exists%s",
                secret.user_name,
                secret.name,
                " (dry run: not deleted)" if dry_run else " (delete_orphaned_secrets is off)",
            )
            records.append(record(secret.user_name, secret.name, outcome))
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


def _exemption_records(
    account: Account, scan: AccountScan, exemptions: AccountExemptions, settings: RotationSettings
) -> list[ActionRecord]:
    """The account's exempt users and accounts, and the exemption tags that exempt nothing."""
    listed: list[tuple[str, Exemption]] = []
    if exemptions.account is not None:
        listed.append(("", exemptions.account))
    group = group_exemption(settings.exemption_group)
    listed += [(name, group) for name in scan.exempt]
    listed += sorted(exemptions.users.items())
    records = [
        ActionRecord(
            account_id=account.id,
            user_name=name,
            access_key_id="",
            action=Notice.EXEMPT.value,
            reason=Notice.EXEMPT.value,
            due=exemption.ends.isoformat() if exemption.ends else None,
            outcome=Outcome.EXEMPT.value,
            exemption_source=exemption.source,
            exemption_reason=exemption.reason or None,
            exempt_until=exemption.until.isoformat() if exemption.until else None,
        )
        for name, exemption in listed
    ]
    records += [
        ActionRecord(
            account_id=account.id,
            user_name=problem.user_name,
            access_key_id="",
            action=Notice.EXEMPTION_PROBLEM.value,
            reason=Notice.EXEMPTION_PROBLEM.value,
            due=None,
            outcome=Outcome.REPORTED.value,
            error=problem.message,
        )
        for problem in exemptions.problems
    ]
    return records


class _UserRun:
    """The execution of one user's plan: records every action, stops at a failure."""

    def __init__(
        self,
        plan: UserPlan,
        *,
        account: Account,
        actions: KeyActions,
        store: SecretStore,
        owner: str | None,
        dry_run: bool,
    ) -> None:
        self.plan = plan
        self.account = account
        self.actions = actions
        self.store = store
        self.owner = owner
        self.dry_run = dry_run

    def execute(self, blocked: str | None) -> list[ActionRecord]:
        records = []
        # After a failure the rest of the plan would run on a state it was not made for.
        stop = blocked
        for action in self.plan.actions:
            if action.action is ActionType.WARN:
                records.append(self._record(action, Outcome.WARNED))
            elif self.dry_run:
                secret = self.store.secret_name(self.plan.user.name)
                records.append(
                    self._record(
                        action,
                        Outcome.DRY_RUN,
                        secret_name=secret if action.action in _ROTATIONS else None,
                        secret_region=self.store.region if action.action in _ROTATIONS else None,
                    )
                )
            elif stop is not None:
                records.append(self._record(action, Outcome.FAILED, error=stop))
            else:
                record = self._apply(action)
                records.append(record)
                if record.failed:
                    stop = f"not attempted: the {action.action.name} before it failed"
        return records

    def _apply(self, action: Action) -> ActionRecord:
        user = self.plan.user
        try:
            if action.action is ActionType.DEACTIVATE:
                self.actions.deactivate(user.name, action.access_key_id)
            elif action.action is ActionType.DELETE:
                self.actions.delete(user.name, action.access_key_id)
            else:
                return self._rotate(action)
        except Exception as error:
            return self._record(action, Outcome.FAILED, error=describe_error(error))
        return self._record(action, Outcome.DONE)

    def _rotate(self, action: Action) -> ActionRecord:
        user = self.plan.user
        result = self.actions.rotate(user, replaces=action.access_key_id)
        delivered = {
            "new_access_key_id": result.new_access_key_id,
            "secret_name": result.secret.name,
            "secret_region": result.secret.region,
        }
        if action.action is ActionType.ROTATE_AND_DELETE:
            # The policy plans this only for a user's only key, so creating the new key
            # first never needs a third key, and a failed rotation keeps the old one.
            try:
                self.actions.delete(user.name, action.access_key_id)
            except Exception as error:
                return self._record(
                    action,
                    Outcome.FAILED,
                    error=f"new key stored, but deleting the old key failed: "
                    f"{describe_error(error)}",
                    **delivered,
                )
        return self._record(action, Outcome.DONE, **delivered)

    def _record(
        self,
        action: Action,
        outcome: Outcome,
        *,
        error: str | None = None,
        secret_name: str | None = None,
        secret_region: str | None = None,
        new_access_key_id: str | None = None,
    ) -> ActionRecord:
        if action.reason in _NEW_KEY_REASONS and secret_name is None:
            # The owner is told where the new key waits to be installed.
            secret_name = self.store.secret_name(self.plan.user.name)
            secret_region = self.store.region
        return ActionRecord(
            account_id=self.account.id,
            user_name=self.plan.user.name,
            access_key_id=action.access_key_id,
            action=action.action.name,
            reason=action.reason.name,
            due=action.due.isoformat() if action.due else None,
            outcome=outcome.value,
            error=error,
            secret_name=secret_name,
            secret_region=secret_region,
            new_access_key_id=new_access_key_id,
            owner=self.owner,
        )


def _pending_rotations(account: Account, store: SecretStore) -> list[PendingRotation]:
    try:
        return store.pending_rotations()
    except ClientError as error:
        raise ScanError(
            f"Reading the unfinished rotations of account {account.id} failed in "
            f"{error.operation_name}: {error_code(error)}"
        ) from None


def _recover_interrupted(
    scan: AccountScan,
    actions: KeyActions,
    pending: list[PendingRotation],
    *,
    dry_run: bool,
) -> tuple[list[ScannedUser], dict[str, str]]:
    """Delete the undelivered keys of interrupted rotations, then plan without them.

    Returns the users to plan and, for users whose state cannot be trusted, why their
    changes must not run.
    """
    users = {user.name: user for user in scan.users}
    try:
        interrupted = actions.find_interrupted(users, pending)
    except ClientError as error:
        raise ScanError(
            f"Reading the unfinished rotations of account {scan.account_id} failed in "
            f"{error.operation_name}: {error_code(error)}"
        ) from None
    blocked: dict[str, str] = {}
    for found in interrupted:
        name = found.pending.user_name
        if found.unresolved:
            blocked[name] = _unresolved_message(found)
            logger.error("%s: %s", name, blocked[name])
            continue
        if found.undelivered:
            logger.warning(
                "%s: %s undelivered key(s) %s of a rotation interrupted at %s",
                name,
                "would delete" if dry_run else "deleting",
                ", ".join(found.undelivered),
                found.pending.since.isoformat(),
            )
        if not dry_run:
            try:
                actions.clean_up(found)
            except Exception as error:
                blocked[name] = (
                    f"not attempted: removing the undelivered key(s) of an interrupted "
                    f"rotation failed: {describe_error(error)}"
                )
                logger.error("%s: %s", name, blocked[name])
                continue
        users[name] = users[name].without_keys(set(found.undelivered))
    return [users[name] for name in sorted(users)], blocked


def _unresolved_message(found: InterruptedRotation) -> str:
    return (
        f"not attempted: a rotation of key {found.pending.replaces} was interrupted at "
        f"{found.pending.since.isoformat()} and {found.unresolved}; check which key the "
        f"secret {found.pending.secret.name} holds, delete any never-used key not in it, "
        f"then remove the secret's iam-key-rotation:pending-* tags"
    )


def _secret_store(
    account: Account,
    sessions: AccountSessions,
    settings: RotationSettings,
    member: boto3.Session,
) -> SecretStore:
    if settings.central_secrets:
        role = settings.secrets_role_name or settings.member_role_name
        holder = settings.secrets_account_id
        session = sessions.assume_role(holder, role, purpose="secrets")
    else:
        holder, session = account.id, member
    return SecretStore(
        sessions.client("secretsmanager", session),
        account_id=account.id,
        holder_account_id=holder,
        partition=sessions.partition,
        kms_key_id=settings.secrets_kms_key_id,
        replication_regions=settings.replication_regions,
    )


def _owner(iam: BaseClient, user: ScannedUser, owner_tag: str) -> str | None:
    if not owner_tag:
        return None
    if user.tags is not None:  # the scan read the tags already
        return user.tag(owner_tag) or None
    try:
        return read_owner(iam, user.name, owner_tag)
    except ClientError as error:
        # Only the owner's own notice is lost; the account's email still reports.
        logger.warning(
            "%s: cannot read the %s tag: %s", user.name, owner_tag, describe_error(error)
        )
        return None


def _describe_keys(user: ScannedUser, now: datetime) -> str:
    if not user.keys:
        return "no access keys"
    parts = []
    for key in user.keys:
        days = (now - key.created).days
        age = f"{days} days old" if days >= 0 else "created after the evaluation time"
        used = "" if key.last_used else ", never used"
        parts.append(f"{key.status} {age}{used}")
    return f"keys: {'; '.join(parts)}"


def _describe_record(record: ActionRecord) -> str:
    if record.reason not in Reason.__members__:
        return f"{record.action} -> {record.outcome}" + (
            f": {record.error}" if record.error else ""
        )
    reason = Reason[record.reason].text
    text = f"{record.access_key_id} {record.action}"
    if record.due:
        text += f" due {record.due}"
    text += f" ({reason}) -> {record.outcome}"
    if record.new_access_key_id:
        text += f", new key {record.new_access_key_id} in secret {record.secret_name}"
    elif record.secret_name:
        text += f", secret {record.secret_name}"
    if record.error:
        text += f": {record.error}"
    return text


def _log_summary(report: AccountReport, mode: str) -> None:
    counts: dict[str, int] = {}
    for record in report.records:
        counts[record.outcome] = counts.get(record.outcome, 0) + 1
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) or "none"
    log = logger.warning if report.failed else logger.info
    log(
        "Account %s (%s), %s: %d action(s): %s",
        report.account.id,
        report.account.name,
        mode,
        len(report.records),
        summary,
    )
