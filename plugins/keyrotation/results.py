"""What a rotation task reports: JSON-safe records of every planned action.

These records are the XCom contract between the rotation tasks and the notification
task. They never hold a secret access key.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from keyrotation.policy import ActionType

__all__ = [
    "Account",
    "ActionRecord",
    "Notice",
    "Outcome",
    "accounts_of",
    "action_named",
    "failed_records",
    "format_summary_table",
    "mapped_items",
]


class Outcome(enum.StrEnum):
    DONE = "done"
    DRY_RUN = "skipped (dry run)"
    FAILED = "failed"
    WARNED = "warned"
    EXEMPT = "exempt"
    REPORTED = "reported"
    #: A change the run's approval gate held back (``error`` says why).
    NOT_APPROVED = "not approved"


class Notice(enum.StrEnum):
    """Records that are no key action of the policy; their ``action`` field names them.

    EXEMPT lists an exempt user or account; EXEMPTION_PROBLEM an exemption tag that
    exempts nothing (``error`` says why); DELETE_ORPHANED_SECRET the scheduled deletion
    of a secret whose user no longer exists; REPAIR_REPLICA the re-replication of a
    secret to a region whose replica failed.
    """

    EXEMPT = "EXEMPT"
    EXEMPTION_PROBLEM = "EXEMPTION_PROBLEM"
    DELETE_ORPHANED_SECRET = "DELETE_ORPHANED_SECRET"
    REPAIR_REPLICA = "REPAIR_REPLICA"


@dataclass(frozen=True)
class Account:
    """An account of the organisation as the inventory lists it."""

    id: str
    name: str
    email: str
    #: The account's tags in AWS Organizations, read once per run by the inventory.
    tags: Mapping[str, str] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "email": self.email, "tags": dict(self.tags)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Account:
        tags = data.get("tags") or {}
        return cls(
            id=str(data["id"]),
            name=str(data.get("name", "")),
            email=str(data.get("email", "")),
            tags={str(key): str(value) for key, value in dict(tags).items()},
        )


@dataclass(frozen=True)
class ActionRecord:
    """One planned action and what became of it.

    ``action`` is a key action of the policy or a ``Notice``; ``reason`` the name of a
    ``Reason`` member (the notice's name for notices); ``due`` an ISO 8601 time for
    warnings. Text read back from XCom becomes the enums again, and an action or outcome
    this version does not know is a ValueError naming it.
    """

    account_id: str
    user_name: str
    access_key_id: str
    action: ActionType | Notice
    reason: str
    due: str | None
    outcome: Outcome
    error: str | None = None
    secret_name: str | None = None
    secret_region: str | None = None
    new_access_key_id: str | None = None
    owner: str | None = None
    #: EXEMPT records: what made the user (or, with no user, the account) exempt, why,
    #: and the last exempt day (ISO date; None: no end).
    exemption_source: str | None = None
    exemption_reason: str | None = None
    exempt_until: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "action", action_named(str(self.action)))
        object.__setattr__(self, "outcome", Outcome(self.outcome))

    @classmethod
    def notice(
        cls,
        notice: Notice,
        *,
        account_id: str,
        user_name: str,
        outcome: Outcome,
        due: str | None = None,
        **details: str | None,
    ) -> ActionRecord:
        """A record of something that is no key action: it names no key."""
        return cls(
            account_id=account_id,
            user_name=user_name,
            access_key_id="",
            action=notice,
            reason=notice.value,
            due=due,
            outcome=outcome,
            **details,  # type: ignore[arg-type]
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            name: value.value if isinstance(value, enum.Enum) else value
            for name, value in asdict(self).items()
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ActionRecord:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @property
    def due_at(self) -> datetime | None:
        return datetime.fromisoformat(self.due) if self.due else None

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.FAILED


def action_named(name: str) -> ActionType | Notice:
    """The key action or notice called ``name``; a ValueError for a name neither knows."""
    found = ActionType.__members__.get(name) or Notice.__members__.get(name)
    if found is None:
        raise ValueError(f"unknown action {name!r}")
    return found


def failed_records(records: Iterable[ActionRecord]) -> list[ActionRecord]:
    return [r for r in records if r.failed]


def format_summary_table(records: Iterable[ActionRecord]) -> str:
    """A fixed-width table of the records, for task logs."""
    # The words of a record live with the rotation's other log words; imported here, not
    # at the top, because the rotation package imports this module.
    from keyrotation.rotation.describe import summary_table

    return summary_table(records)


def mapped_items(accounts: list[Account], limit: int, per_task: int = 1) -> list[dict[str, Any]]:
    """What ``list_accounts`` returns to map over: one item per account while they are at
    most ``limit`` (Airflow's ``core.max_map_length``) and ``per_task`` is 1, else batches
    of consecutive accounts, each named by its range: ``per_task`` accounts each, more
    where needed to stay within ``limit`` batches."""
    size = max(per_task, -(-len(accounts) // limit))  # ceiling
    if size <= 1:
        return [account.to_dict() for account in accounts]
    batches = []
    for start in range(0, len(accounts), size):
        chunk = accounts[start : start + size]
        batches.append(
            {
                "label": f"{chunk[0].id}..{chunk[-1].id} ({len(chunk)} account"
                + ("s)" if len(chunk) > 1 else ")"),
                "accounts": [account.to_dict() for account in chunk],
            }
        )
    return batches


def accounts_of(item: Mapping[str, Any]) -> list[Account]:
    """The accounts of one mapped item, whichever shape ``mapped_items`` gave it."""
    if "accounts" in item:
        return [Account.from_dict(account) for account in item["accounts"]]
    return [Account.from_dict(item)]
