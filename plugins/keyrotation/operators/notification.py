"""The last task of a run: the evidence report, then the emails."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from keyrotation.account_results import results_by_account
from keyrotation.approval import ApprovalDecision
from keyrotation.compat import AirflowException, Context
from keyrotation.notification import build_transport, load_template_source, send_notifications
from keyrotation.operators.base import KeyRotationBaseOperator
from keyrotation.report import (
    KeyRow,
    ReportStoreError,
    RunIdentity,
    build_report_files,
    default_report_uri,
    report_location,
    summarize,
    write_report,
)
from keyrotation.results import Account, ActionRecord, Outcome, accounts_of
from keyrotation.run_context import RunContext

__all__ = ["SendNotificationsOperator", "changes_made", "is_backfill"]


def is_backfill(context: Context) -> bool:
    run_type = getattr(context.get("dag_run"), "run_type", "") or ""
    return str(getattr(run_type, "value", run_type)).lower().endswith("backfill")


def changes_made(records: Sequence[ActionRecord]) -> list[ActionRecord]:
    """The records of changes made or attempted: what a backfill run emails about.

    Every run of a backfill sees the same pending warnings (and, dry, the same would-be
    changes); emailing them from each run would tell owners the same thing once per day
    of the backfill. A change happens once, so its email is sent once.
    """
    return [r for r in records if r.outcome in (Outcome.DONE, Outcome.FAILED)]


class SendNotificationsOperator(KeyRotationBaseOperator):
    """Write the run's evidence report, then email each account owner and each key owner
    about their keys, and the admins the run's summary. Fails when any account failed,
    after sending.

    :param accounts: the listed accounts (templated): ``ListAccountsOperator``'s output.
    :param results: the rotation tasks' outputs (templated), matched to the accounts by
        account id; an account without a result counts as failed.
    :param approval: the approval decision (templated), when the run asked for one.
    :param settings_variable: the Airflow Variable holding the JSON settings.
    """

    template_fields: Sequence[str] = aws_template_fields(
        "accounts", "results", "approval", "settings_variable"
    )

    def __init__(self, *, accounts: Any, results: Any, approval: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.accounts = accounts
        self.results = results
        self.approval = approval

    def execute(self, context: Context) -> dict[str, Any]:
        run = self.load_run(context)
        settings = run.settings
        decision = ApprovalDecision.from_dict(self.approval) if self.approval else None
        accounts, records, failures, rows = self._collect_results()
        evidence = self._write_evidence(context, run, accounts, failures, rows, decision)
        if is_backfill(context):
            records = changes_made(records)
            self.log.info(
                "Backfill run: emails report only the %d change(s) this run made or failed "
                "(no warnings or audit reports, which every run of the backfill would repeat)",
                len(records),
            )
        report = send_notifications(
            accounts=accounts,
            records=records,
            failures=failures,
            settings=settings,
            dry_run=run.dry_run,
            now=run.now,
            partition=self.rotation_hook(run).sessions.partition,
            transport=build_transport(
                settings,
                ses_hook=self.ses_hook(run) if settings.email_transport == "ses" else None,
            ),
            template_source=load_template_source(
                settings.email_templates, s3_hook_factory=lambda: self.s3_hook(run)
            ),
            evidence=evidence,
            approval=decision.describe() if decision else None,
        )
        summary = report.to_dict() | {"report": evidence}
        if decision:
            summary["approval"] = decision.describe()
        self.log.info("Sent %d email(s)", len(summary.get("emails", [])))
        if "error" in evidence:
            raise AirflowException(f"the evidence report was not written: {evidence['error']}")
        if failures:
            raise AirflowException(
                f"{len(failures)} account(s) failed: "
                + "; ".join(f"{account}: {error}" for account, error in sorted(failures.items()))
            )
        return summary

    def _collect_results(
        self,
    ) -> tuple[list[Account], list[ActionRecord], dict[str, str], list[KeyRow]]:
        """The listed accounts, and each one's result: action records, failures by account
        id and the report's key rows."""
        if self.accounts is None:
            raise AirflowException("the account list is missing (did list_accounts run?)")
        accounts = [account for item in self.accounts for account in accounts_of(item)]
        found = results_by_account(self.results)
        records: list[ActionRecord] = []
        failures: dict[str, str] = {}
        rows: list[KeyRow] = []
        for account in accounts:
            result = found.get(account.id)
            if result is None:
                failures[account.id] = "the rotation task did not report a result"
                continue
            records += result.records
            rows += result.rows
            if result.failed:
                failures[account.id] = result.failure or ""
        return accounts, records, failures, rows

    def _write_evidence(
        self,
        context: Context,
        run: RunContext,
        accounts: list[Account],
        failures: dict[str, str],
        rows: list[KeyRow],
        decision: ApprovalDecision | None,
    ) -> dict[str, Any]:
        """Write the run's evidence report: every key of the run's accounts."""
        dag_run = context["dag_run"]
        identity = RunIdentity(
            dag_id=dag_run.dag_id,
            run_id=dag_run.run_id,
            evaluated_at=run.now,
            dry_run=run.dry_run,
            approved_by=decision.describe() if decision else None,
        )
        summary = summarize(
            rows,
            now=run.now,
            rotation_period_days=run.settings.policy.rotation_period_days,
            account_failures=failures,
            account_names={account.id: account.name for account in accounts},
        )
        location = report_location(
            run.settings.report_uri or default_report_uri(),
            run_id=identity.run_id,
            evaluated_at=run.now,
        )
        try:
            written = write_report(
                location,
                build_report_files(rows, summary=summary, run=identity),
                s3_hook_factory=lambda: self.s3_hook(run),
            )
        except ReportStoreError as error:
            # The emails still go out; the task fails after them, naming the problem.
            self.log.error("%s", error)
            return {"location": location, "error": str(error), "headline": summary.headline()}
        self.log.info("Evidence report (%d keys): %s\n%s", len(rows), summary.headline(), location)
        return {"location": location, "files": written, "headline": summary.headline()}
