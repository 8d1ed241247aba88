"""The execution of one user's plan: every action recorded, in the plan's order.

The rest of a user's plan was made for the state its earlier actions leave: once an
action fails or is not approved, the user's later changes are not attempted.
"""

from __future__ import annotations

from keyrotation.aws.secret_store import SecretStore
from keyrotation.planner import UserPlan
from keyrotation.policy import Action, ActionType, Reason
from keyrotation.results import Account, ActionRecord, Outcome
from keyrotation.rotation.executor import ActionResult, Executor

__all__ = ["execute_plan"]

_NEW_KEY_REASONS = (Reason.NEW_KEY_NOT_IN_USE, Reason.NEW_KEY_USE_DEADLINE)


def execute_plan(
    plan: UserPlan,
    *,
    account: Account,
    executor: Executor,
    store: SecretStore,
    owner: str | None,
    blocked: str | None = None,
) -> list[ActionRecord]:
    """Run ``plan`` through ``executor`` and record each action.

    ``blocked``: why none of the user's changes may run (an interrupted rotation that
    cannot be resolved), None when they may.
    """
    records = []
    failed = blocked
    not_approved: str | None = None
    for action in plan.actions:
        if action.action is ActionType.WARN:
            result = ActionResult(Outcome.WARNED)
        elif failed is not None:
            result = executor.withhold(plan.user, action, failed)
        elif not_approved is not None:
            result = ActionResult(Outcome.NOT_APPROVED, error=not_approved)
        elif (refusal := executor.refusal(plan.user.name, action)) is not None:
            result = ActionResult(Outcome.NOT_APPROVED, error=refusal)
            not_approved = f"not attempted: the {action.action.name} before it was not approved"
        else:
            result = executor.apply(plan.user, action)
            if result.outcome is Outcome.FAILED:
                failed = f"not attempted: the {action.action.name} before it failed"
        records.append(_record(plan, action, result, account=account, store=store, owner=owner))
    return records


def _record(
    plan: UserPlan,
    action: Action,
    result: ActionResult,
    *,
    account: Account,
    store: SecretStore,
    owner: str | None,
) -> ActionRecord:
    secret_name, secret_region = result.secret_name, result.secret_region
    if action.reason in _NEW_KEY_REASONS and secret_name is None:
        # The owner is told where the new key waits to be installed.
        secret_name = store.secret_name(plan.user.name)
        secret_region = store.region
    return ActionRecord(
        account_id=account.id,
        user_name=plan.user.name,
        access_key_id=action.access_key_id,
        action=action.action,
        reason=action.reason.name,
        due=action.due.isoformat() if action.due else None,
        outcome=result.outcome,
        error=result.error,
        secret_name=secret_name,
        secret_region=secret_region,
        new_access_key_id=result.new_access_key_id,
        owner=owner,
    )
