"""The contract between the tasks of a run: one versioned result per account.

A task that works on accounts (planning or rotating) returns one ``TaskOutput`` on every
path, failed included: a result per account it was given, each with the account's action
records, its key rows for the evidence report, and, when the account failed, why. The
tasks downstream match results to accounts by account id, never by map index, and refuse
an output of a version they do not know rather than misread it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from keyrotation.report.model import KeyRow
from keyrotation.results import ActionRecord

__all__ = [
    "RESULT_VERSION",
    "AccountResult",
    "ResultContractError",
    "TaskOutput",
    "results_by_account",
]

#: Bumped when a field changes meaning; readers refuse versions they do not know.
RESULT_VERSION = 1


class ResultContractError(ValueError):
    """An upstream task's output is not a result this version of the pipeline can read."""


@dataclass(frozen=True)
class AccountResult:
    """What became of one account in one task: every record, every key row, or the error
    that stopped the account."""

    account_id: str
    records: tuple[ActionRecord, ...] = ()
    rows: tuple[KeyRow, ...] = ()
    error: str | None = None

    @property
    def failed(self) -> bool:
        """The account failed as a whole, or one of its actions failed."""
        return self.error is not None or any(record.failed for record in self.records)

    @property
    def failure(self) -> str | None:
        """Why the account failed, in one line; None when it did not."""
        if self.error is not None:
            return self.error
        failed = [record for record in self.records if record.failed]
        if not failed:
            return None
        return f"{len(failed)} of {len(self.records)} action(s) failed: " + "; ".join(
            f"{r.user_name} {r.action} {r.access_key_id}: {r.error}" for r in failed
        )

    @property
    def counts(self) -> dict[str, int]:
        """How many records had each outcome."""
        return dict(sorted(Counter(record.outcome for record in self.records).items()))

    def to_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "error": self.error,
            "counts": self.counts,
            "records": [record.to_dict() for record in self.records],
            "rows": [row.to_dict(now) for row in self.rows],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AccountResult:
        try:
            return cls(
                account_id=str(data["account_id"]),
                records=tuple(ActionRecord.from_dict(r) for r in data.get("records") or ()),
                rows=tuple(KeyRow.from_dict(r) for r in data.get("rows") or ()),
                error=data.get("error"),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ResultContractError(f"an account result is malformed: {error}") from None


@dataclass(frozen=True)
class TaskOutput:
    """The return value of one planning or rotation task instance."""

    accounts: tuple[AccountResult, ...]
    version: int = RESULT_VERSION

    def to_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "version": self.version,
            "accounts": [result.to_dict(now) for result in self.accounts],
        }

    @classmethod
    def from_value(cls, value: Any) -> TaskOutput:
        """Read one task instance's XCom value; a foreign shape or version is an error."""
        if not isinstance(value, Mapping) or "version" not in value:
            raise ResultContractError(
                f"expected a task result with a version, got {type(value).__name__}"
            )
        if value["version"] != RESULT_VERSION:
            raise ResultContractError(
                f"task result version {value['version']!r} is not the version this pipeline "
                f"reads ({RESULT_VERSION}): the tasks of one run come from different releases; "
                "clear the whole run to run it again with one release"
            )
        return cls(
            accounts=tuple(AccountResult.from_dict(item) for item in value.get("accounts") or ())
        )


def results_by_account(values: Iterable[Any] | None) -> dict[str, AccountResult]:
    """The account results in the outputs of a mapped task's instances, by account id.

    A missing output (an instance that died before reporting) simply has no results: the
    reader decides what an account without a result means.
    """
    found: dict[str, AccountResult] = {}
    for value in values or ():
        if value is None:
            continue
        for result in TaskOutput.from_value(value).accounts:
            found[result.account_id] = result
    return found


def records_of(results: Sequence[AccountResult]) -> list[ActionRecord]:
    return [record for result in results for record in result.records]
