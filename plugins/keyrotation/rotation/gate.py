"""The approval gate: which planned key actions a run may carry out.

A run that waits for a person to approve its plan gets the answer as an ``ActionGate``.
Warnings change nothing and always pass; a rejected (or timed-out) plan lets nothing
change; otherwise only the action types that need approval must be in the approved set.
"""

from __future__ import annotations

from dataclasses import dataclass

from keyrotation.policy import ActionType

__all__ = ["ActionGate"]


@dataclass(frozen=True)
class ActionGate:
    """Which planned key actions may run.

    ``needs_approval``: the action types that run only when approved one by one.
    ``approved``: the approved actions, as (user name, access key id, action type name).
    ``rejected``: the whole plan was rejected or the approval timed out: nothing that
    changes IAM or Secrets Manager may run.
    ``reason``: what the records of the actions held back say, such as "rejected by
    alice", "approval timed out" or "not in the approved plan: left for the next run".
    """

    needs_approval: frozenset[ActionType] = frozenset()
    approved: frozenset[tuple[str, str, str]] = frozenset()
    rejected: bool = False
    reason: str = "not in the approved plan: left for the next run"

    def allows(self, user_name: str, access_key_id: str, action: ActionType) -> bool:
        """Whether ``action`` on the key ``access_key_id`` of ``user_name`` may run."""
        if not action.changes_iam:
            return True
        if self.rejected:
            return False
        if action in self.needs_approval:
            return (user_name, access_key_id, action.name) in self.approved
        return True
