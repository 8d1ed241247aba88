"""What a run does with each planned change: make it (``AwsExecutor``) or only record
what it would do (``DryRunExecutor``).

The dry run lives here and nowhere else: the code that walks a user's plan, cleans up
interrupted rotations and looks after the secrets asks the executor, never a flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from keyrotation.aws.errors import describe_error
from keyrotation.aws.key_actions import KeyActions
from keyrotation.aws.scan import ScannedUser
from keyrotation.aws.secret_store import SecretStore
from keyrotation.policy import Action, ActionType
from keyrotation.results import Outcome
from keyrotation.rotation.gate import ActionGate

__all__ = ["ActionResult", "AwsExecutor", "DryRunExecutor", "Executor", "Hold", "executor_for"]

ROTATIONS = (ActionType.ROTATE, ActionType.ROTATE_AND_DELETE)


@dataclass(frozen=True)
class ActionResult:
    """What became of one key action: the parts of its record the execution decides."""

    outcome: Outcome
    error: str | None = None
    secret_name: str | None = None
    secret_region: str | None = None
    new_access_key_id: str | None = None


@dataclass(frozen=True)
class Hold:
    """Why the run makes no change at all: its changes are recorded with ``outcome``."""

    outcome: Outcome
    #: The records' error: why the change was not made (None in a dry run).
    error: str | None
    #: For log lines: "dry run", "not approved: rejected by alice".
    why: str


class Executor(Protocol):
    """Carries out (or only records) the key actions of a run."""

    @property
    def hold(self) -> Hold | None:
        """Set when no change may be made at all; None when changes are made."""
        ...

    def refusal(self, user_name: str, action: Action) -> str | None:
        """Why ``action`` must not run although nothing before it failed; None: it may."""
        ...

    def apply(self, user: ScannedUser, action: Action) -> ActionResult:
        """DEACTIVATE, DELETE, ROTATE or ROTATE_AND_DELETE ``action`` of ``user``."""
        ...

    def withhold(self, user: ScannedUser, action: Action, why: str) -> ActionResult:
        """``action`` of a user whose earlier step failed or whose state is untrusted."""
        ...


class AwsExecutor:
    """Applies key actions through KeyActions, within what the approval gate allows."""

    def __init__(self, actions: KeyActions, *, gate: ActionGate | None = None) -> None:
        self._actions = actions
        self._gate = gate
        self.hold = (
            Hold(Outcome.NOT_APPROVED, gate.reason, f"not approved: {gate.reason}")
            if gate is not None and gate.rejected
            else None
        )

    def refusal(self, user_name: str, action: Action) -> str | None:
        if self._gate is None or self._gate.allows(user_name, action.access_key_id, action.action):
            return None
        return self._gate.reason

    def apply(self, user: ScannedUser, action: Action) -> ActionResult:
        try:
            if action.action is ActionType.DEACTIVATE:
                self._actions.deactivate(user.name, action.access_key_id)
            elif action.action is ActionType.DELETE:
                self._actions.delete(user.name, action.access_key_id)
            else:
                return self._rotate(user, action)
        except Exception as error:
            return ActionResult(Outcome.FAILED, error=describe_error(error))
        return ActionResult(Outcome.DONE)

    def withhold(self, user: ScannedUser, action: Action, why: str) -> ActionResult:
        return ActionResult(Outcome.FAILED, error=why)

    def _rotate(self, user: ScannedUser, action: Action) -> ActionResult:
        result = self._actions.rotate(user, replaces=action.access_key_id)
        delivered = ActionResult(
            Outcome.DONE,
            new_access_key_id=result.new_access_key_id,
            secret_name=result.secret.name,
            secret_region=result.secret.region,
        )
        if action.action is ActionType.ROTATE_AND_DELETE:
            # The policy plans this only for a user's only key, so creating the new key
            # first never needs a third key, and a failed rotation keeps the old one.
            try:
                self._actions.delete(user.name, action.access_key_id)
            except Exception as error:
                return ActionResult(
                    Outcome.FAILED,
                    error=f"new key stored, but deleting the old key failed: "
                    f"{describe_error(error)}",
                    new_access_key_id=delivered.new_access_key_id,
                    secret_name=delivered.secret_name,
                    secret_region=delivered.secret_region,
                )
        return delivered


class DryRunExecutor:
    """Records what would be done; only List/Get/Describe calls reach AWS."""

    hold = Hold(Outcome.DRY_RUN, None, "dry run")

    def __init__(self, store: SecretStore) -> None:
        self._store = store

    def refusal(self, user_name: str, action: Action) -> str | None:
        return None  # nothing runs, so nothing needs approving

    def apply(self, user: ScannedUser, action: Action) -> ActionResult:
        if action.action not in ROTATIONS:
            return ActionResult(Outcome.DRY_RUN)
        # Where the new key would be stored, for the owner's audit email.
        return ActionResult(
            Outcome.DRY_RUN,
            secret_name=self._store.secret_name(user.name),
            secret_region=self._store.region,
        )

    def withhold(self, user: ScannedUser, action: Action, why: str) -> ActionResult:
        # A dry run reports the plan as it stands, whatever would stop it.
        return self.apply(user, action)


def executor_for(
    *, dry_run: bool, actions: KeyActions, store: SecretStore, gate: ActionGate | None
) -> Executor:
    """The run's one executor. In a dry run the gate does not matter: nothing runs."""
    if dry_run:
        return DryRunExecutor(store)
    return AwsExecutor(actions, gate=gate)
