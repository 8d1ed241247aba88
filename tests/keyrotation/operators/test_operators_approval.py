"""The approval stage's operators: when the run waits, what the approver sees, and what
each answer (or no answer) becomes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from keyrotation.compat import HITL_AVAILABLE

pytestmark = pytest.mark.skipif(not HITL_AVAILABLE, reason="human-in-the-loop needs Airflow 3.1+")

WHEN = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
A = "111111111111"


class FakeTaskInstance:
    """Just the XCom calls the operators make, kept in a dict."""

    def __init__(self) -> None:
        self.xcoms: dict[tuple[str, str], Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[("approve_plan", key)] = value

    def xcom_pull(self, task_ids: str, key: str = "return_value", **_: Any) -> Any:
        return self.xcoms.get((task_ids, key))


def context(conf: dict | None = None) -> dict[str, Any]:
    dag_run = SimpleNamespace(conf=conf or {}, run_type="manual", run_after=WHEN)
    return {"dag_run": dag_run, "logical_date": WHEN, "ti": FakeTaskInstance()}


def settings(monkeypatch, **values: Any) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_IAM_ACCESS_KEY_ROTATION", json.dumps(values))


def plan_output(*actions: tuple[str, str, str]) -> dict[str, Any]:
    from keyrotation.account_results import AccountResult, TaskOutput
    from keyrotation.results import ActionRecord

    records = tuple(
        ActionRecord(
            account_id=A,
            user_name=user,
            access_key_id=key,
            action=action,
            reason="EXPIRED_ACTIVE_KEY",
            due=None,
            outcome="skipped (dry run)",
        )
        for user, key, action in actions
    )
    return TaskOutput((AccountResult(account_id=A, records=records),)).to_dict(WHEN)


@pytest.mark.parametrize(
    ("values", "conf", "branch"),
    [
        ({"dry_run": False}, {}, None),
        ({"dry_run": False, "approval": "destructive"}, {"dry_run": True}, None),
        ({"dry_run": True, "approval": "all"}, {}, None),
        ({"dry_run": False, "approval": "destructive"}, {}, ["plan_account_keys"]),
    ],
)
def test_only_an_enforcing_run_with_approval_plans_and_waits(monkeypatch, values, conf, branch):
    from keyrotation.operators import ApprovalPathOperator

    settings(monkeypatch, **values)
    operator = ApprovalPathOperator(task_id="approval_needed")
    operator.downstream_task_ids.add("plan_account_keys")
    assert operator.choose_branch(context(conf)) == branch


def approve(plans: Any) -> Any:
    from keyrotation.operators import ApprovePlanOperator

    return ApprovePlanOperator(
        task_id="approve_plan", plans=[plans], accounts=[{"id": A, "name": "payments"}]
    )


def test_a_plan_without_destructive_changes_does_not_wait(monkeypatch) -> None:
    settings(monkeypatch, dry_run=False, approval="destructive")
    operator = approve(plan_output(("alice", "AKIAALICE", "ROTATE"), ("bob", "AKIABOB", "WARN")))
    result = operator.execute(context())
    assert result["decision"] == "not needed"
    assert result["approved"] == {}


def test_the_approver_sees_every_destructive_change_and_waits_for_an_answer(monkeypatch) -> None:
    settings(monkeypatch, dry_run=False, approval="destructive", approval_timeout_hours=6)
    operator = approve(plan_output(("alice", "AKIAALICE", "ROTATE"), ("bob", "AKIABOB", "DELETE")))
    run = context()
    written: dict[str, Any] = {}

    class Waiting(Exception):
        pass

    def upsert(**detail: Any) -> None:
        written.update(detail)

    def wait(self, context):
        upsert(subject=self.subject, body=self.body, defaults=self.defaults)
        raise Waiting

    from airflow.providers.standard.operators.hitl import HITLOperator

    monkeypatch.setattr(HITLOperator, "execute", wait)
    with pytest.raises(Waiting):
        operator.execute(run)

    assert written["subject"] == "Approve 1 IAM access key change(s) in 1 account(s)"
    assert f"| {A} (payments) | bob | AKIABOB | DELETE |" in written["body"]
    assert "AKIAALICE" not in written["body"].split("Needs approval")[1]
    assert written["defaults"] == ["Reject"]
    assert operator.response_timeout.total_seconds() == 6 * 3600
    assert run["ti"].xcoms[("approve_plan", "approval_request")]["approved"] == {
        A: [["bob", "AKIABOB", "DELETE"]]
    }


@pytest.mark.parametrize(
    ("event", "decision", "described"),
    [
        (
            {"chosen_options": ["Approve"], "responded_by_user": {"id": "7", "name": "alice"}},
            "approved",
            "approved by alice",
        ),
        (
            {"chosen_options": ["Reject"], "responded_by_user": {"id": "8", "name": "bob"}},
            "rejected",
            "rejected by bob",
        ),
        (
            {"chosen_options": ["Reject"], "responded_by_user": None, "timedout": True},
            "timed out",
            "not answered in time",
        ),
    ],
)
def test_each_answer_becomes_a_decision_on_the_plan_that_was_shown(
    monkeypatch, event, decision, described
) -> None:
    settings(monkeypatch, dry_run=False, approval="destructive")
    operator = approve(plan_output(("bob", "AKIABOB", "DELETE")))
    run = context()
    run["ti"].xcom_push(
        "approval_request",
        {
            "needs_approval": ["DEACTIVATE", "DELETE", "ROTATE_AND_DELETE"],
            "approved": {A: [["bob", "AKIABOB", "DELETE"]]},
        },
    )
    result = operator.execute_complete(run, {"params_input": {}, "responded_at": WHEN, **event})
    assert result["decision"] == decision
    assert described in result["summary"]
    assert result["approved"] == {A: [["bob", "AKIABOB", "DELETE"]]}


def test_an_answer_that_is_not_an_option_fails_the_task(monkeypatch) -> None:
    settings(monkeypatch, dry_run=False, approval="destructive")
    operator = approve(plan_output(("bob", "AKIABOB", "DELETE")))
    with pytest.raises(ValueError, match="not in"):
        operator.execute_complete(
            context(),
            {
                "chosen_options": ["Maybe"],
                "params_input": {},
                "responded_at": WHEN,
                "responded_by_user": None,
            },
        )
