"""The tasks mapped over accounts: plan each account (read only), and rotate it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow.providers.amazon.aws.links.base_aws import BaseAwsLink
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from keyrotation.account_results import AccountResult, TaskOutput
from keyrotation.approval import ApprovalDecision
from keyrotation.aws.sessions import AccountAccessError, AccountSessions
from keyrotation.compat import AirflowException, AirflowFailException, Context
from keyrotation.console_links import iam_users_console_url
from keyrotation.operators.base import KeyRotationBaseOperator
from keyrotation.results import Account, accounts_of, format_summary_table
from keyrotation.rotation import ActionGate, rotate_account
from keyrotation.run_context import RunContext

__all__ = ["IamUsersConsoleLink", "PlanAccountKeysOperator", "RotateAccountKeysOperator"]


class IamUsersConsoleLink(BaseAwsLink):
    """The IAM users page of the task's account in the AWS console: through the IAM
    Identity Center portal when ``sso_start_url`` is set, else by switching role."""

    name = "IAM users (AWS console)"
    key = "iam_users_console"
    format_str = ""

    def format_link(self, **kwargs: Any) -> str:
        if not kwargs.get("account_id") or not kwargs.get("aws_domain"):
            return ""
        return iam_users_console_url(
            account_id=kwargs["account_id"],
            account_name=kwargs.get("account_name", ""),
            role_name=kwargs.get("role_name", ""),
            aws_domain=kwargs["aws_domain"],
            sso_start_url=kwargs.get("sso_start_url", ""),
            sso_permission_set=kwargs.get("sso_permission_set", ""),
        )


class _AccountTaskOperator(KeyRotationBaseOperator):
    """One mapped task: the key policy over one account, or over a batch of them beyond
    ``core.max_map_length``.

    Returns a ``TaskOutput`` with one result per account, and pushes it before failing
    too: the tasks downstream read every account's result whatever happened here. The
    task fails after processing every account of the batch if any account or action
    failed, so a retry re-scans live state and completes what is left.
    """

    template_fields: Sequence[str] = aws_template_fields("account", "settings_variable")
    operator_extra_links = (IamUsersConsoleLink(),)
    #: Whether the task only reads: planning never changes anything, whatever the run.
    read_only = False

    def __init__(self, *, account: dict[str, Any] | Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.account = account

    def execute(self, context: Context) -> dict[str, Any]:
        accounts = accounts_of(self.account)
        batch = "accounts" in self.account
        context["account_label"] = (  # type: ignore[typeddict-unknown-key]
            self.account["label"] if batch else f"{accounts[0].id} {accounts[0].name}"
        )
        run = self.load_run(context)
        sessions = self.rotation_hook(run).sessions
        if not batch:
            self._persist_console_link(context, run, sessions, accounts[0])
        denied: set[str] = set()
        results = [self._account_result(account, run, sessions, denied) for account in accounts]
        output = TaskOutput(tuple(results)).to_dict(run.now)
        failed = [result for result in results if result.failed]
        if not failed:
            return output
        # A failed task returns nothing: the results go to XCom explicitly, for the
        # tasks downstream that run whatever happened here.
        context["ti"].xcom_push(key="return_value", value=output)
        message = "; ".join(f"Account {r.account_id}: {r.failure}" for r in failed)
        if not batch and denied:
            # Retrying cannot deploy a role: fail now, so the admin summary goes out
            # without waiting out the retries; clear the task once the role is there.
            raise AirflowFailException(message)
        raise AirflowException(message)

    def gate(self, run: RunContext, account: Account) -> ActionGate | None:
        """What the account's task may change; None: whatever the plan says."""
        return None

    def _account_result(
        self, account: Account, run: RunContext, sessions: AccountSessions, denied: set[str]
    ) -> AccountResult:
        """The account's result; its id goes into ``denied`` when its role cannot be assumed."""
        try:
            report = rotate_account(
                account,
                sessions=sessions,
                settings=run.settings,
                now=run.now,
                dry_run=run.dry_run or self.read_only,
                force_rotate=run.options.force_rotate,
                gate=None if run.dry_run or self.read_only else self.gate(run, account),
            )
        except Exception as error:
            # One account's failure does not stop the rest of its batch.
            self.log.exception("Account %s (%s) failed", account.id, account.name)
            if isinstance(error, AccountAccessError) and error.denied:
                denied.add(account.id)
            return AccountResult(account_id=account.id, error=str(error))
        self.log.info(
            "Summary for %s (%s):\n%s",
            account.id,
            account.name,
            format_summary_table(report.records),
        )
        return AccountResult(
            account_id=account.id,
            records=tuple(report.records),
            # The plan only feeds the approval; the rotation's rows feed the report.
            rows=() if self.read_only else tuple(report.rows),
        )

    def _persist_console_link(
        self, context: Context, run: RunContext, sessions: AccountSessions, account: Account
    ) -> None:
        IamUsersConsoleLink.persist(
            context=context,
            operator=self,
            region_name=sessions.region_name,
            aws_partition=sessions.partition,
            account_id=account.id,
            account_name=account.name,
            role_name=run.settings.member_role_name,
            sso_start_url=run.settings.sso_start_url,
            sso_permission_set=run.settings.sso_permission_set,
        )


class PlanAccountKeysOperator(_AccountTaskOperator):
    """Plan one account for approval: what the key policy would do now. Reads only.

    :param account: the account, as listed by ``ListAccountsOperator`` (templated).
    :param settings_variable: the Airflow Variable holding the JSON settings.
    """

    read_only = True


class RotateAccountKeysOperator(_AccountTaskOperator):
    """Apply the key policy to every IAM user of one account.

    :param account: the account, as listed by ``ListAccountsOperator`` (templated).
    :param approval: the approval task's decision (templated); only approved changes run
        when the settings ask for approval. None where the run did not wait for one.
    :param settings_variable: the Airflow Variable holding the JSON settings.
    """

    template_fields: Sequence[str] = aws_template_fields("account", "approval", "settings_variable")

    def __init__(self, *, approval: Mapping[str, Any] | Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.approval = approval

    def gate(self, run: RunContext, account: Account) -> ActionGate | None:
        """A decision, once made, binds the run even if the settings changed since; with
        no decision, the settings say whether changes needed one (then none may run)."""
        if self.approval:
            decision = ApprovalDecision.from_dict(self.approval)
        elif run.settings.approval_required:
            decision = ApprovalDecision.missing(run.settings.approval)
        else:
            return None
        self.log.info("Approval: %s", decision.describe())
        return decision.gate(account.id)
