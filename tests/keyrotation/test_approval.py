"""What a person approves and what the answer allows: the plan, the decision, the gate."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from keyrotation.account_results import AccountResult
from keyrotation.approval import (
    ApprovalDecision,
    ApprovalRequest,
    Decision,
    needing_approval,
)
from keyrotation.policy import ActionType
from keyrotation.results import ActionRecord, Notice, Outcome

A, B = "111111111111", "222222222222"


def record(account: str, user: str, key: str, action: str, reason: str = "r") -> ActionRecord:
    return ActionRecord(
        account_id=account,
        user_name=user,
        access_key_id=key,
        action=action,
        reason=reason,
        due=None,
        outcome=Outcome.DRY_RUN,
    )


PLANS = [
    AccountResult(
        account_id=A,
        records=(
            record(A, "alice", "AKIAALICE", "ROTATE"),
            record(A, "bob", "AKIABOB1", "DEACTIVATE"),
            record(A, "bob", "AKIABOB2", "DELETE"),
            record(A, "carol", "AKIACAROL", "WARN"),
            record(A, "dora", "", Notice.EXEMPT),
        ),
    ),
    AccountResult(account_id=B, records=(record(B, "erin|x", "AKIAERIN", "ROTATE_AND_DELETE"),)),
    AccountResult(account_id="333333333333", error="AccessDenied on AssumeRole"),
]


def test_each_setting_names_the_changes_that_wait_for_a_person() -> None:
    assert needing_approval("none") == frozenset()
    assert needing_approval("destructive") == {
        ActionType.DEACTIVATE,
        ActionType.DELETE,
        ActionType.ROTATE_AND_DELETE,
    }
    assert needing_approval("all") == {
        ActionType.ROTATE,
        ActionType.DEACTIVATE,
        ActionType.DELETE,
        ActionType.ROTATE_AND_DELETE,
    }


def test_the_request_lists_every_destructive_change_and_counts_the_whole_plan() -> None:
    request = ApprovalRequest.from_plans(
        PLANS, approval="destructive", account_names={A: "payments"}
    )
    assert request.waits
    assert [(c.account_id, c.user_name, c.access_key_id, c.action) for c in request.changes] == [
        (A, "bob", "AKIABOB1", "DEACTIVATE"),
        (A, "bob", "AKIABOB2", "DELETE"),
        (B, "erin|x", "AKIAERIN", "ROTATE_AND_DELETE"),
    ]
    assert request.counts[A] == {
        "DEACTIVATE": 1,
        "DELETE": 1,
        "EXEMPT": 1,
        "ROTATE": 1,
        "WARN": 1,
    }
    assert request.unplanned == {"333333333333": "AccessDenied on AssumeRole"}
    assert request.approved() == {
        A: [["bob", "AKIABOB1", "DEACTIVATE"], ["bob", "AKIABOB2", "DELETE"]],
        B: [["erin|x", "AKIAERIN", "ROTATE_AND_DELETE"]],
    }
    text = request.markdown()
    assert f"| {A} (payments) | bob | AKIABOB2 | DELETE | r |" in text
    # A pipe from AWS data cannot open a new table cell.
    assert "erin\\|x" in text
    assert "333333333333: AccessDenied on AssumeRole" in text
    assert request.subject() == "Approve 3 IAM access key change(s) in 2 account(s)"


def test_a_plan_of_rotations_alone_needs_no_approval_under_destructive_but_does_under_all() -> None:
    rotations = [AccountResult(account_id=A, records=(record(A, "alice", "AKIAA", "ROTATE"),))]
    assert not ApprovalRequest.from_plans(rotations, approval="destructive").waits
    assert ApprovalRequest.from_plans(rotations, approval="all").waits


def decision(kind: Decision, **kwargs) -> ApprovalDecision:
    request = ApprovalRequest.from_plans(PLANS, approval="destructive")
    return ApprovalDecision.from_dict(
        {
            "decision": kind.value,
            "needs_approval": sorted(a.name for a in request.needs_approval),
            "approved": request.approved(),
            **kwargs,
        }
    )


def test_an_approval_lets_exactly_the_approved_changes_and_the_unguarded_ones_through() -> None:
    approved = decision(
        Decision.APPROVED, decided_by="alice", decided_at="2026-11-25T10:00:00+00:00"
    )
    gate = approved.gate(A)
    assert gate.allows("bob", "AKIABOB1", ActionType.DEACTIVATE)
    assert gate.allows("bob", "AKIABOB2", ActionType.DELETE)
    # The same key with another action, or another key, was not approved.
    assert not gate.allows("bob", "AKIABOB1", ActionType.DELETE)
    assert not gate.allows("bob", "AKIAOTHER", ActionType.DEACTIVATE)
    # Rotations and warnings need no approval under "destructive".
    assert gate.allows("zed", "AKIAZED", ActionType.ROTATE)
    assert gate.allows("zed", "AKIAZED", ActionType.WARN)
    # Another account's approvals do not carry over.
    assert not approved.gate(B).allows("bob", "AKIABOB1", ActionType.DEACTIVATE)
    assert approved.describe() == "approved by alice at 2026-11-25T10:00+00:00"


@pytest.mark.parametrize(
    ("kind", "by", "words"),
    [
        (Decision.REJECTED, "bob", "rejected by bob"),
        (Decision.TIMED_OUT, None, "not answered in time"),
    ],
)
def test_a_rejection_or_no_answer_allows_no_change_at_all(kind, by, words) -> None:
    refused = decision(kind, decided_by=by)
    assert not refused.allows_changes
    assert words in refused.describe() and "nothing was changed" in refused.describe()
    gate = refused.gate(A)
    assert gate.rejected
    assert not gate.allows("bob", "AKIABOB1", ActionType.DEACTIVATE)
    assert not gate.allows("alice", "AKIAALICE", ActionType.ROTATE)
    assert gate.allows("carol", "AKIACAROL", ActionType.WARN)


def test_a_run_that_did_not_wait_still_guards_what_appeared_after_the_plan() -> None:
    not_needed = ApprovalDecision(
        decision=Decision.NOT_NEEDED, needs_approval=needing_approval("destructive")
    )
    gate = not_needed.gate(A)
    assert gate.allows("alice", "AKIAALICE", ActionType.ROTATE)
    assert not gate.allows("bob", "AKIABOB1", ActionType.DELETE)


def test_no_decision_where_one_is_required_changes_nothing() -> None:
    missing = ApprovalDecision.missing("all")
    assert not missing.allows_changes
    assert not missing.gate(A).allows("alice", "AKIAALICE", ActionType.ROTATE)
    assert "no approval decision" in missing.describe()


def test_the_decision_survives_xcom() -> None:
    original = decision(
        Decision.APPROVED,
        decided_by="alice",
        decided_at=datetime(2026, 11, 25, tzinfo=UTC).isoformat(),
    )
    assert ApprovalDecision.from_dict(original.to_dict()) == original
