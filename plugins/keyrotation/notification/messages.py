"""Who gets which email: a pure function from action records to planned emails.

Nothing here does I/O. ``plan_emails`` turns the rotation tasks' records into a list of
``PlannedEmail``: recipient, subject, template name and the values the template renders.
The words of a line come from ``wording``, the recipients from ``recipients``, the
template values and subjects from ``context``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from keyrotation.notification.context import (
    ADMIN_TEMPLATE,
    AUDIT_SUBJECT_PREFIX,
    AUDIT_TEMPLATE,
    ENFORCE_TEMPLATE,
    SUBJECT_PREFIX,
    ExemptionLine,
    FailedAccount,
    PlannedEmail,
    common_context,
    counts,
    exemption_line,
    section,
    subject,
)
from keyrotation.notification.recipients import account_order, admin_address, by_owner
from keyrotation.notification.wording import Level, Line, describe_record, plural
from keyrotation.results import Account, ActionRecord, Notice
from keyrotation.settings import RotationSettings
from keyrotation.utc import as_utc

__all__ = ["plan_emails"]


@dataclass(frozen=True)
class _Run:
    """A run's records in words, by account, in the order emails list accounts."""

    by_id: Mapping[str, Account]
    order: Sequence[str]
    lines: Mapping[str, Sequence[tuple[ActionRecord, Line]]]
    exemptions: Mapping[str, Sequence[ExemptionLine]]
    common: Mapping[str, Any]
    template: str
    prefix: str

    def each_line(self) -> list[tuple[ActionRecord, Line]]:
        return [pair for account_id in self.order for pair in self.lines.get(account_id, [])]


def plan_emails(
    *,
    accounts: Sequence[Account],
    records: Sequence[ActionRecord],
    failures: Mapping[str, str],
    settings: RotationSettings,
    dry_run: bool,
    now: datetime,
    partition: str,
    sender: str,
    evidence: Mapping[str, Any] | None = None,
    approval: str | None = None,
) -> list[PlannedEmail]:
    """Every email of a run: per account, per owner, and the admin summary.

    An account gets an email when it has at least one record; owners (the owner tag of a
    user) get one email across all accounts listing only their users, grouped by account.
    The admin summary goes to ``admin_email`` (else the sender) when an account failed, an
    action failed or an exemption tag is wrong, and on every run that wrote its evidence
    report (``evidence``: its location and headline). Emails whose recipient is unknown
    are still planned, with an empty ``to``, so that delivery reports them instead of
    dropping them silently.
    """
    now = as_utc(now)
    lines: dict[str, list[tuple[ActionRecord, Line]]] = {}
    exemptions: dict[str, list[ExemptionLine]] = {}
    for record in records:
        if record.action is Notice.EXEMPT:
            exemptions.setdefault(record.account_id, []).append(exemption_line(record))
        else:
            pair = (record, describe_record(record, now=now))
            lines.setdefault(record.account_id, []).append(pair)
    run = _Run(
        by_id={account.id: account for account in accounts},
        order=account_order(accounts, records, failures),
        lines=lines,
        exemptions=exemptions,
        common={
            **common_context(
                settings, dry_run=dry_run, now=now, partition=partition, sender=sender
            ),
            "approval": approval,
        },
        template=AUDIT_TEMPLATE if dry_run else ENFORCE_TEMPLATE,
        prefix=AUDIT_SUBJECT_PREFIX if dry_run else SUBJECT_PREFIX,
    )
    admin = _admin_email(
        run,
        failures,
        to=admin_address(settings, sender),
        accounts_evaluated=len(accounts),
        evidence=evidence,
    )
    return [*_account_emails(run), *_owner_emails(run), *([admin] if admin else [])]


def _account_emails(run: _Run) -> list[PlannedEmail]:
    emails = []
    for account_id in run.order:
        pairs = run.lines.get(account_id, [])
        exempt = run.exemptions.get(account_id, [])
        if not pairs and not exempt:
            continue  # nothing to report: no email
        part = section(run.by_id, account_id, pairs, exempt)
        name = f" ({part.account_name})" if part.account_name else ""
        emails.append(
            PlannedEmail(
                kind="account",
                to=part.account_email,
                subject=subject(f"{run.prefix} Account {account_id}{name}: {counts([part])}"),
                template=run.template,
                context={
                    **run.common,
                    "recipient_kind": "account",
                    "recipient": part.account_email,
                    "owner": None,
                    "sections": [part],
                },
            )
        )
    return emails


def _owner_emails(run: _Run) -> list[PlannedEmail]:
    emails = []
    for owner, accounts in by_owner(run.order, run.lines).items():
        sections = [section(run.by_id, account_id, pairs) for account_id, pairs in accounts.items()]
        emails.append(
            PlannedEmail(
                kind="owner",
                to=owner,
                subject=subject(f"{run.prefix} Access keys of your IAM users: {counts(sections)}"),
                template=run.template,
                context={
                    **run.common,
                    "recipient_kind": "owner",
                    "recipient": owner,
                    "owner": owner,
                    "sections": sections,
                },
            )
        )
    return emails


def _admin_email(
    run: _Run,
    failures: Mapping[str, str],
    *,
    to: str,
    accounts_evaluated: int,
    evidence: Mapping[str, Any] | None,
) -> PlannedEmail | None:
    """The summary for the admins: every run with an evidence report, and whenever an
    account or an action failed or a tag is wrong."""
    failed_accounts = [
        FailedAccount(
            account_id=account_id,
            account_name=run.by_id[account_id].name if account_id in run.by_id else "",
            error=failures[account_id],
        )
        for account_id in run.order
        if account_id in failures
    ]
    failed_lines = [line for record, line in run.each_line() if record.failed]
    problem_lines = [line for _, line in run.each_line() if line.level is Level.PROBLEM]
    attention = bool(failed_accounts or failed_lines or problem_lines)
    if not attention and not evidence:
        return None
    needs = (
        (len(failed_accounts), "failed account"),
        (len(failed_lines), "failed action"),
        (len(problem_lines), "exemption problem"),
    )
    summary = ", ".join(plural(count, noun) for count, noun in needs if count)
    headline = (evidence or {}).get("headline") or ""
    title = f"Run needs attention: {summary}" if attention else f"Run summary: {headline}"
    return PlannedEmail(
        kind="admin",
        to=to,
        subject=subject(f"{run.prefix} {title}"),
        template=ADMIN_TEMPLATE,
        context={
            **run.common,
            "recipient_kind": "admin",
            "recipient": to,
            "failed_accounts": failed_accounts,
            "failed_lines": failed_lines,
            "problem_lines": problem_lines,
            "run_failed": bool(failed_accounts or failed_lines),
            "needs_attention": attention,
            "accounts_evaluated": accounts_evaluated,
            "report_headline": headline,
            "report_location": (evidence or {}).get("location") or "",
            "report_error": (evidence or {}).get("error") or "",
        },
    )
