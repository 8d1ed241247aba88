"""The two executors: which of them holds every change back, and why."""

from __future__ import annotations

from keyrotation.policy import Action as PlannedAction
from keyrotation.policy import ActionType, Reason
from keyrotation.results import Outcome
from keyrotation.rotation import ActionGate
from keyrotation.rotation.executor import AwsExecutor, DryRunExecutor, executor_for

DELETE = PlannedAction(ActionType.DELETE, "AKIA1", "erin", Reason.UNUSED_EXPIRED_KEY)


def test_a_dry_run_holds_every_change_and_needs_no_approval() -> None:
    executor = executor_for(dry_run=True, actions=None, store=None, gate=ActionGate(rejected=True))  # type: ignore[arg-type]

    assert isinstance(executor, DryRunExecutor)
    assert executor.hold is not None
    assert (executor.hold.outcome, executor.hold.error) == (Outcome.DRY_RUN, None)
    assert executor.refusal("erin", DELETE) is None


def test_enforcing_without_a_gate_holds_nothing_and_refuses_nothing() -> None:
    executor = AwsExecutor(None)  # type: ignore[arg-type]

    assert executor.hold is None
    assert executor.refusal("erin", DELETE) is None


def test_a_rejected_plan_holds_every_change_with_its_reason() -> None:
    executor = AwsExecutor(None, gate=ActionGate(rejected=True, reason="rejected by alice"))  # type: ignore[arg-type]

    assert executor.hold is not None
    assert (executor.hold.outcome, executor.hold.error) == (
        Outcome.NOT_APPROVED,
        "rejected by alice",
    )
    assert executor.refusal("erin", DELETE) == "rejected by alice"


def test_an_action_not_in_the_approved_plan_is_refused_with_the_gate_reason() -> None:
    gate = ActionGate(needs_approval=frozenset({ActionType.DELETE}))
    executor = AwsExecutor(None, gate=gate)  # type: ignore[arg-type]

    assert executor.hold is None
    assert executor.refusal("erin", DELETE) == "not in the approved plan: left for the next run"
