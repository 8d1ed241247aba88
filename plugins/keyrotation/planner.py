"""Plan an account: the key policy applied to every scanned user. No I/O."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from keyrotation.aws.scan import ScannedUser
from keyrotation.policy import Action, PolicySettings, evaluate_keys

__all__ = ["UserPlan", "forced_users", "plan_users"]

_QUALIFIED = re.compile(r"^(?P<account>\d{12}):(?P<user>[^:]+)$")


@dataclass(frozen=True)
class UserPlan:
    """What the policy decided for one user, in execution order."""

    user: ScannedUser
    actions: tuple[Action, ...]
    forced: bool = False

    @property
    def changes_iam(self) -> bool:
        return any(action.action.changes_iam for action in self.actions)


def forced_users(force_rotate: Iterable[str], account_id: str) -> frozenset[str]:
    """The users of ``account_id`` whose rotation is forced.

    An entry ``alice`` forces alice in every account; ``123456789012:alice`` only in that
    account.
    """
    users = set()
    for entry in force_rotate:
        entry = entry.strip()
        if not entry:
            continue
        if ":" not in entry:
            users.add(entry)
            continue
        qualified = _QUALIFIED.match(entry)
        if qualified is None:
            raise ValueError(
                f"force rotation entry {entry!r} is neither a user name nor "
                f"<12-digit account id>:<user name>"
            )
        if qualified["account"] == account_id:
            users.add(qualified["user"])
    return frozenset(users)


def plan_users(
    users: Iterable[ScannedUser],
    *,
    now: datetime,
    settings: PolicySettings,
    forced: Collection[str] = frozenset(),
    exempt_until: Mapping[str, datetime] | None = None,
) -> list[UserPlan]:
    """One plan per user, in the order given, including users with nothing to do.

    ``exempt_until`` maps the names of exempt users to the end of their exemption.
    """
    ends = exempt_until or {}
    plans = []
    for user in users:
        force = user.name in forced
        actions = evaluate_keys(
            user.key_metadata(),
            now=now,
            settings=settings,
            force_rotate=force,
            exempt_until=ends.get(user.name),
        )
        plans.append(UserPlan(user=user, actions=tuple(actions), forced=force))
    return plans
