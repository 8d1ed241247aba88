"""The approval stage (Airflow 3.1+): whether to wait, and the wait for a person's answer.

Built on the standard provider's human-in-the-loop operators: the plan is shown on the
task's Required Actions page, answered there or through the REST API
(``PATCH .../taskInstances/approve_plan/-1/hitlDetails``), and Airflow resolves an
unanswered plan at the timeout with the default answer, Reject.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.amazon.aws.hooks.ses import SesHook
from airflow.sdk.bases.notifier import BaseNotifier

from keyrotation.account_results import results_by_account
from keyrotation.approval import ApprovalDecision, ApprovalRequest, Decision, needing_approval
from keyrotation.compat import ApprovalOperator, BaseBranchOperator, Context
from keyrotation.hooks import KeyRotationHook
from keyrotation.notification import build_transport, load_template_source
from keyrotation.notification.approval_request import send_approval_request
from keyrotation.results import accounts_of
from keyrotation.run_context import RunContext, load_run_context
from keyrotation.settings import VARIABLE_NAME

__all__ = ["ApprovalPathOperator", "ApprovePlanOperator"]

#: XCom key of the plan the approver saw: the approval decides on exactly that plan.
REQUEST_KEY = "approval_request"


class ApprovalPathOperator(BaseBranchOperator):
    """Go through planning and approval only when the settings ask for approval and the
    run changes things; otherwise skip them, so the run costs what it costs without.

    :param settings_variable: the Airflow Variable holding the JSON settings.
    """

    template_fields: Sequence[str] = ("settings_variable",)

    def __init__(self, *, settings_variable: str = VARIABLE_NAME, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings_variable = settings_variable

    def choose_branch(self, context: Context) -> Iterable[str] | None:
        run = load_run_context(
            context, settings_variable=self.settings_variable, dag_aws_conn_id=None
        )
        if run.dry_run:
            self.log.info("Dry run: nothing to approve, no planning step")
            return None
        if not run.settings.approval_required:
            self.log.info("approval is 'none': the accounts are rotated without a planning step")
            return None
        self.log.info(
            "approval is %r: plan every account, then wait for a person", run.settings.approval
        )
        return sorted(self.downstream_task_ids)


class ApprovePlanOperator(ApprovalOperator):
    """Show the organisation's plan and wait for Approve or Reject.

    Returns an ``ApprovalDecision``: what the rotation tasks may change. When nothing in
    the plan needs approval, it returns at once without waiting. No answer within
    ``approval_timeout_hours`` is a rejection.

    :param plans: the planning task's output (templated): one result per account.
    :param accounts: the listed accounts (templated), to name them in the plan.
    :param settings_variable: the Airflow Variable holding the JSON settings.
    :param aws_conn_id: the AWS connection of the email to the admins; when the DAG gives
        none, the settings Variable's.
    """

    template_fields: Sequence[str] = (
        *ApprovalOperator.template_fields,
        "plans",
        "accounts",
        "settings_variable",
    )

    def __init__(
        self,
        *,
        plans: Any,
        accounts: Any = None,
        settings_variable: str = VARIABLE_NAME,
        aws_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("subject", "Approve the planned IAM access key changes")
        super().__init__(defaults=ApprovalOperator.REJECT, **kwargs)
        self.plans = plans
        self.accounts = accounts
        self.settings_variable = settings_variable
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Context) -> Any:
        run = self._load_run(context)
        request = ApprovalRequest.from_plans(
            results_by_account(self.plans).values(),
            approval=run.settings.approval,
            account_names={
                account.id: account.name
                for item in self.accounts or ()
                for account in accounts_of(item)
            },
        )
        if run.dry_run or not run.settings.approval_required or not request.waits:
            decision = ApprovalDecision(
                decision=Decision.NOT_NEEDED,
                needs_approval=needing_approval(run.settings.approval),
            )
            self.log.info("Nothing in the plan needs approval (%s): not waiting", request.totals())
            return decision.to_dict()
        context["ti"].xcom_push(
            key=REQUEST_KEY,
            value={
                "needs_approval": sorted(a.name for a in request.needs_approval),
                "approved": request.approved(),
            },
        )
        self.subject = request.subject()
        self.body = request.markdown()
        self.response_timeout = timedelta(hours=run.settings.approval_timeout_hours)
        self.notifiers = [
            ApprovalRequestEmail(request=request, run=run, hook_conn_id=run.aws_conn_id)
        ]
        self.log.info("%s; waiting up to %s:\n%s", self.subject, self.response_timeout, self.body)
        return super().execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        # The provider's ApprovalOperator skips the tasks downstream on Reject; here they
        # run, so that every account's task records its changes as not approved and the
        # emails say so. The answer is checked by the base HITL operator.
        answer = super(ApprovalOperator, self).execute_complete(context, event)
        request = context["ti"].xcom_pull(task_ids=self.task_id, key=REQUEST_KEY)
        approved = answer["chosen_options"] == [ApprovalOperator.APPROVE]
        user = answer.get("responded_by_user") or {}
        if approved:
            decision = Decision.APPROVED
        elif event.get("timedout") or not user:
            decision = Decision.TIMED_OUT
        else:
            decision = Decision.REJECTED
        result = ApprovalDecision.from_dict(
            {
                **request,
                "decision": decision.value,
                "decided_by": user.get("name") or user.get("id"),
                "decided_at": answer["responded_at"].isoformat()
                if answer.get("responded_at")
                else None,
            }
        )
        self.log.info("The plan was %s", result.describe())
        return result.to_dict()

    def _load_run(self, context: Context) -> RunContext:
        return load_run_context(
            context, settings_variable=self.settings_variable, dag_aws_conn_id=self.aws_conn_id
        )


class ApprovalRequestEmail(BaseNotifier):
    """Tells the admins that a plan waits for them, with the link to its page in Airflow."""

    template_fields = ()

    def __init__(self, *, request: ApprovalRequest, run: RunContext, hook_conn_id: str) -> None:
        super().__init__()
        self.request = request
        self.run = run
        self.hook_conn_id = hook_conn_id

    def notify(self, context: Context) -> None:
        settings = self.run.settings
        try:
            link = ApprovalOperator.generate_link_to_ui_from_context(context=context)
        except ValueError:
            ti = context["ti"]
            link = f"/dags/{ti.dag_id}/runs/{ti.run_id}/tasks/{ti.task_id}/required_actions"
            self.log.warning("[api] base_url is not set: the email links to %s only", link)
        ses_hook = (
            SesHook(aws_conn_id=self.hook_conn_id) if settings.email_transport == "ses" else None
        )
        try:
            report = send_approval_request(
                headline=self.request.subject(),
                totals=self.request.totals(),
                changes=self.request.changes,
                unplanned=self.request.unplanned,
                account_names=self.request.account_names,
                link=link,
                deadline=datetime.now(UTC) + timedelta(hours=settings.approval_timeout_hours),
                settings=settings,
                now=self.run.now,
                partition=KeyRotationHook(aws_conn_id=self.hook_conn_id).sessions.partition,
                transport=build_transport(settings, ses_hook=ses_hook),
                template_source=load_template_source(
                    settings.email_templates,
                    s3_hook_factory=lambda: _s3_hook(self.hook_conn_id),
                ),
            )
        except Exception as error:
            # The plan still waits on its page in Airflow; only the email is lost.
            self.log.error("The email asking for approval was not sent: %s", error)
            return
        self.log.info(
            "Asked %s for approval", ", ".join(e["to"] for e in report.to_dict()["emails"])
        )


def _s3_hook(aws_conn_id: str) -> Any:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=aws_conn_id)
