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

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from keyrotation.aws.errors import describe_error
from keyrotation.aws.interrupted import pending_rotations, recover_interrupted
from keyrotation.aws.key_actions import KeyActions
from keyrotation.aws.scan import ScannedUser, Triage, read_owner, scan_account
from keyrotation.aws.sessions import AccountSessions
from keyrotation.exemptions import resolve_exemptions
from keyrotation.planner import forced_users, plan_users
from keyrotation.report.model import KeyRow
from keyrotation.report.rows import account_rows
from keyrotation.results import Account, ActionRecord
from keyrotation.rotation.describe import describe_keys, describe_record
from keyrotation.rotation.executor import executor_for
from keyrotation.rotation.exemption_records import exemption_records
from keyrotation.rotation.gate import ActionGate
from keyrotation.rotation.stores import secret_store
from keyrotation.rotation.upkeep import secret_upkeep
from keyrotation.rotation.user_run import execute_plan
from keyrotation.settings import RotationSettings

__all__ = ["AccountReport", "rotate_account"]

logger = logging.getLogger(__name__)


@dataclass
class AccountReport:
    """Every planned action of one account, WARN included, with its outcome."""

    account: Account
    records: list[ActionRecord] = field(default_factory=list)
    #: Every key of the account as the run saw it, for the run's evidence report.
    rows: list[KeyRow] = field(default_factory=list)

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
    gate: ActionGate | None = None,
) -> AccountReport:
    """Apply the key policy at ``now`` to every user of ``account``.

    In a dry run only List/Get/Describe calls (and AssumeRole) reach AWS. ``gate``: which
    planned key actions may run (None: all); a dry run runs none, so it ignores the gate.
    """
    forced = forced_users(force_rotate, account.id)
    member = sessions.assume_role(account.id, settings.member_role_name, purpose="rotation")
    iam = sessions.client("iam", member)
    store = secret_store(account, sessions, settings, member)
    actions = KeyActions(iam, store)
    executor = executor_for(dry_run=dry_run, actions=actions, store=store, gate=gate)
    pending = pending_rotations(account.id, store)
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

    # Deleting a key nobody received is safety, not a planned action: only a run that
    # makes no change at all (a dry run, a rejected plan) leaves it for a later run.
    users, blocked = recover_interrupted(scan, actions, pending, clean_up=executor.hold is None)
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
            logger.info("%s: no action (%s)", plan.user.name, describe_keys(plan.user, now))
            continue
        records = execute_plan(
            plan,
            account=account,
            executor=executor,
            store=store,
            owner=_owner(iam, plan.user, settings.owner_tag),
            blocked=blocked.get(plan.user.name),
        )
        report.records.extend(records)
        line = f"{plan.user.name}: " + "; ".join(describe_record(r) for r in records)
        if any(r.failed for r in records):
            logger.warning("%s", line)
        else:
            logger.info("%s", line)
    report.records.extend(exemption_records(account, scan, exemptions, settings))
    report.records.extend(secret_upkeep(account, iam, store, scan, settings, hold=executor.hold))
    _log_summary(report, mode)
    report.rows = account_rows(
        account,
        users=scan.users,
        unread=scan.unread,
        records=report.records,
        now=now,
        policy=settings.policy,
        owner_tag=settings.owner_tag,
    )
    return report


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
