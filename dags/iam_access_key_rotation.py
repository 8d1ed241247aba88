"""Airflow DAG: rotate the IAM user access keys of every account of the AWS Organization, daily."""

from __future__ import annotations

from datetime import datetime, timedelta

from keyrotation.compat import DAG, HITL_AVAILABLE, TriggerRule
from keyrotation.operators import (
    ListAccountsOperator,
    PlanAccountKeysOperator,
    RotateAccountKeysOperator,
    SendNotificationsOperator,
    rotation_scheduling,
)
from keyrotation.run_options import trigger_form_params

DOC_MD = """
### IAM access key rotation

Lists the organisation's active accounts, applies the key policy to every IAM user's
access keys in each account (one mapped task per account), then emails account owners,
key owners and, when an account failed, the administrator.

Policy: rotate an Active key at `rotation_period_days` (90), deactivate the old key
`installation_grace_days` (10) later, delete it `recovery_grace_days` (10) after that,
and warn `warning_days` (7) ahead. New keys are stored in AWS Secrets Manager as
`Account_<account id>_User_<user name>_AccessKey`, readable only by that user.

Settings: the Variable `iam_access_key_rotation` (JSON; every key optional; the run is
**dry unless it sets `"dry_run": false`**). Run params (Trigger DAG form):

* `dry_run`: audit only; the run is dry if this or the setting says so.
* `force_rotate`: user names to rotate now (`123456789012:alice` for one account).
* `accounts`: limit this run to these account ids.

With the setting `approval` (`destructive` or `all`, Airflow 3.1+), an enforcing run
first plans every account (read only), then `approve_plan` waits for a person to approve
the plan on its Required Actions page; only approved changes are made, and a rejection or
no answer within `approval_timeout_hours` changes nothing. Otherwise both steps are skipped.

Accounts run 4 at a time (`[iam_access_key_rotation] max_concurrent_accounts`), in
the pool `[iam_access_key_rotation] pool` when set. Beyond `core.max_map_length`
accounts, each mapped task rotates a batch of accounts, named by its range.

Re-run one account by clearing its mapped `rotate_account_keys` instance; re-send the
emails of a run by clearing `send_notifications`.
"""

with DAG(
    dag_id="iam_access_key_rotation",
    description="Rotate IAM user access keys across the AWS Organization",
    schedule="@daily",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["security", "iam", "aws"],
    doc_md=DOC_MD,
    default_args={"owner": "security", "retries": 1, "retry_delay": timedelta(minutes=2)},
    params=trigger_form_params(),
) as dag:
    accounts = ListAccountsOperator(task_id="list_accounts")
    per_account = {
        **rotation_scheduling(),
        "retries": 3,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        "map_index_template": "{{ account_label }}",
    }

    approval = None
    if HITL_AVAILABLE:
        from keyrotation.operators import ApprovalPathOperator, ApprovePlanOperator

        plans = PlanAccountKeysOperator.partial(task_id="plan_account_keys", **per_account).expand(
            account=accounts.output
        )
        approval = ApprovePlanOperator(
            task_id="approve_plan",
            plans=plans.output,
            accounts=accounts.output,
            trigger_rule=TriggerRule.NONE_SKIPPED,  # an account that failed to plan waits
            retries=0,  # a retry would ask the approvers again
        )
        accounts >> ApprovalPathOperator(task_id="approval_needed") >> plans

    rotations = RotateAccountKeysOperator.partial(
        task_id="rotate_account_keys",
        approval=approval.output if approval else None,
        trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,  # the approval may be skipped
        **per_account,
    ).expand(account=accounts.output)

    SendNotificationsOperator(
        task_id="send_notifications",
        accounts=accounts.output,
        results=rotations.output,
        approval=approval.output if approval else None,
        trigger_rule=TriggerRule.ALL_DONE,
        retries=0,  # a retry would email everyone again; clear the task to re-send
    )
