"""What a person approves, and what their answer allows. Pure: no Airflow, no AWS.

With ``approval`` set, a run plans every account first (read only), shows the plan as one
``ApprovalRequest`` and waits for an answer. The answer becomes an ``ApprovalDecision``,
which the rotation tasks turn into an ``ActionGate`` per account: a change runs only when
the approved plan holds the same user, key and action. Whatever changed since the plan is
left for the next run, and a rejection (or no answer in time) changes nothing.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from keyrotation.account_results import AccountResult
from keyrotation.policy import ActionType
from keyrotation.rotation import ActionGate

__all__ = [
    "ApprovalDecision",
    "ApprovalRequest",
    "Decision",
    "PlannedChange",
    "needing_approval",
]

#: The changes that need approval under each ``approval`` setting.
_NEEDING_APPROVAL: Mapping[str, frozenset[ActionType]] = {
    "none": frozenset(),
    "destructive": frozenset(
        {ActionType.DEACTIVATE, ActionType.DELETE, ActionType.ROTATE_AND_DELETE}
    ),
    "all": frozenset(action for action in ActionType if action.changes_iam),
}


def needing_approval(approval: str) -> frozenset[ActionType]:
    """The action types that wait for a person under the ``approval`` setting."""
    return _NEEDING_APPROVAL[approval]


@dataclass(frozen=True, order=True)
class PlannedChange:
    """One change of the plan that needs approval."""

    account_id: str
    user_name: str
    access_key_id: str
    action: str
    reason: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.user_name, self.access_key_id, self.action)


@dataclass(frozen=True)
class ApprovalRequest:
    """The organisation's plan as the approver sees it."""

    needs_approval: frozenset[ActionType]
    #: Planned records by outcome-free action name, per account: what the run would do.
    counts: Mapping[str, Mapping[str, int]]
    changes: tuple[PlannedChange, ...]
    #: Accounts whose plan could not be made, and why: their tasks try again when acting,
    #: and only changes that need no approval can run there.
    unplanned: Mapping[str, str] = field(default_factory=dict)
    account_names: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_plans(
        cls,
        plans: Iterable[AccountResult],
        *,
        approval: str,
        account_names: Mapping[str, str] | None = None,
    ) -> ApprovalRequest:
        needs = needing_approval(approval)
        counts: dict[str, dict[str, int]] = {}
        changes: list[PlannedChange] = []
        unplanned: dict[str, str] = {}
        for plan in plans:
            if plan.error is not None:
                unplanned[plan.account_id] = plan.error
            tally = Counter(record.action for record in plan.records)
            if tally:
                counts[plan.account_id] = dict(sorted(tally.items()))
            changes += [
                PlannedChange(
                    account_id=plan.account_id,
                    user_name=record.user_name,
                    access_key_id=record.access_key_id,
                    action=record.action,
                    reason=record.reason,
                )
                for record in plan.records
                if record.action in needs
            ]
        return cls(
            needs_approval=needs,
            counts=counts,
            changes=tuple(sorted(changes)),
            unplanned=unplanned,
            account_names=dict(account_names or {}),
        )

    @property
    def waits(self) -> bool:
        """Whether anything needs a person's answer."""
        return bool(self.changes)

    def totals(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for tally in self.counts.values():
            total.update(tally)
        return dict(sorted(total.items()))

    def subject(self) -> str:
        accounts = len({change.account_id for change in self.changes})
        return f"Approve {len(self.changes)} IAM access key change(s) in {accounts} account(s)"

    def markdown(self) -> str:
        """The plan as the Airflow UI shows it: counts, then every change to approve."""
        lines = ["**Planned, by action:** " + _tally(self.totals()), ""]
        lines += ["| account | planned |", "|---|---|"]
        for account_id, tally in sorted(self.counts.items()):
            lines.append(f"| {self._account(account_id)} | {_tally(tally)} |")
        lines += [
            "",
            f"**Needs approval** ({', '.join(sorted(a.name for a in self.needs_approval))}):",
            "",
            "| account | user | access key | action | reason |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {self._account(c.account_id)} | {_cell(c.user_name)} | {c.access_key_id} | "
            f"{c.action} | {_cell(c.reason)} |"
            for c in self.changes
        ]
        if self.unplanned:
            lines += [
                "",
                "**Accounts that could not be planned** (nothing there needs approval "
                "is run without it; their changes wait for the next run):",
                "",
            ]
            lines += [
                f"- {self._account(account_id)}: {_cell(error)}"
                for account_id, error in sorted(self.unplanned.items())
            ]
        lines += [
            "",
            "Approve: exactly these changes run; anything that changed since this plan is "
            "left for the next run. Reject, or no answer in time: nothing changes.",
        ]
        return "\n".join(lines)

    def approved(self) -> dict[str, list[list[str]]]:
        """The approved changes per account, as the decision stores them."""
        approved: dict[str, list[list[str]]] = {}
        for change in self.changes:
            approved.setdefault(change.account_id, []).append(list(change.key))
        return approved

    def _account(self, account_id: str) -> str:
        name = self.account_names.get(account_id)
        return f"{account_id} ({_cell(name)})" if name else account_id


class Decision(enum.StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    TIMED_OUT = "timed out"
    #: Nothing in the plan needed approval, so the run did not wait.
    NOT_NEEDED = "not needed"
    #: The settings require a decision, but none reached the task.
    MISSING = "missing"


@dataclass(frozen=True)
class ApprovalDecision:
    """The answer to an ``ApprovalRequest``: what the rotation tasks may change."""

    decision: Decision
    needs_approval: frozenset[ActionType]
    approved: Mapping[str, frozenset[tuple[str, str, str]]] = field(default_factory=dict)
    decided_by: str | None = None
    decided_at: datetime | None = None

    @property
    def allows_changes(self) -> bool:
        return self.decision in (Decision.APPROVED, Decision.NOT_NEEDED)

    def describe(self) -> str:
        """In words, for emails, logs and the report: e.g. ``approved by alice``."""
        if self.decision is Decision.NOT_NEEDED:
            return "no change needed approval"
        if self.decision is Decision.MISSING:
            return "no approval decision reached this task: nothing was changed"
        if self.decision is Decision.TIMED_OUT:
            return "not answered in time: nothing was changed"
        by = f" by {self.decided_by}" if self.decided_by else ""
        when = f" at {self.decided_at.isoformat(timespec='minutes')}" if self.decided_at else ""
        if self.decision is Decision.REJECTED:
            return f"rejected{by}{when}: nothing was changed"
        return f"approved{by}{when}"

    def gate(self, account_id: str) -> ActionGate:
        """What the account's rotation task may change."""
        if not self.allows_changes:
            return ActionGate(
                needs_approval=self.needs_approval,
                approved=frozenset(),
                rejected=True,
                reason=f"the plan was {self.describe()}",
            )
        return ActionGate(
            needs_approval=self.needs_approval,
            approved=self.approved.get(account_id, frozenset()),
            rejected=False,
            reason="not in the approved plan: left for the next run",
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision.value,
            "needs_approval": sorted(action.name for action in self.needs_approval),
            "approved": {
                account_id: sorted(list(change) for change in changes)
                for account_id, changes in sorted(self.approved.items())
            },
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "summary": self.describe(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ApprovalDecision:
        decided_at = data.get("decided_at")
        return cls(
            decision=Decision(data["decision"]),
            needs_approval=frozenset(ActionType[name] for name in data["needs_approval"]),
            approved={
                str(account_id): frozenset(
                    (str(user), str(key), str(action)) for user, key, action in changes
                )
                for account_id, changes in (data.get("approved") or {}).items()
            },
            decided_by=data.get("decided_by"),
            decided_at=datetime.fromisoformat(decided_at) if decided_at else None,
        )

    @classmethod
    def missing(cls, approval: str) -> ApprovalDecision:
        """No decision reached the task although the settings require one: change nothing."""
        return cls(decision=Decision.MISSING, needs_approval=needing_approval(approval))


def _tally(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {action}" for action, n in counts.items()) or "nothing"


def _cell(text: str) -> str:
    """Markdown table cells: a pipe or a line break from AWS data must not break the table."""
    return text.replace("|", "\\|").replace("\n", " ")
