"""The run's evidence: one row per access key of the run's accounts, and the figures an
auditor reads first (CIS 1.14 / Security Hub IAM.3: Active keys rotated every 90 days or
less). Pure: no I/O, no Airflow, no boto3.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from keyrotation.results import Outcome

__all__ = [
    "AGE_BANDS",
    "AccountFigures",
    "KeyRow",
    "ReportSummary",
    "RunIdentity",
    "summarize",
]

#: Key age bands of the chart, in days: (label, lowest age, highest age or None).
AGE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("0-30 days", 0, 30),
    ("31-60 days", 31, 60),
    ("61-90 days", 61, 90),
    ("91-180 days", 91, 180),
    ("181-365 days", 181, 365),
    ("over 365 days", 366, None),
)


@dataclass(frozen=True)
class KeyRow:
    """One access key (or one user without keys) as the run saw it, and what became of it.

    ``access_key_id`` is None where the scan did not read the key itself (the credential
    report names no key id). Times are timezone-aware UTC. No field ever holds a secret.
    """

    account_id: str
    account_name: str
    user_name: str
    access_key_id: str | None
    status: str | None
    created: datetime | None
    last_used: datetime | None
    owner: str | None = None
    exemption_reason: str | None = None
    exemption_until: str | None = None
    action: str | None = None
    reason: str | None = None
    outcome: str | None = None
    next_action: str | None = None
    next_action_date: datetime | None = None

    def age_days(self, now: datetime) -> int | None:
        return None if self.created is None else max(0, (now - self.created).days)

    @property
    def active(self) -> bool:
        return self.status == "Active"

    def to_dict(self, now: datetime) -> dict[str, Any]:
        """JSON-safe, with the key's age at ``now``; column order of the CSV."""
        values = asdict(self)
        out: dict[str, Any] = {}
        for name in COLUMNS:
            if name == "age_days":
                out[name] = self.age_days(now)
                continue
            value = values[name]
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KeyRow:
        names = {f.name for f in fields(cls)}
        values: dict[str, Any] = {k: v for k, v in data.items() if k in names}
        for name in ("created", "last_used", "next_action_date"):
            if values.get(name):
                values[name] = datetime.fromisoformat(values[name])
        return cls(**values)


#: The columns of the CSV and the keys of each JSON line, in order.
COLUMNS: tuple[str, ...] = (
    "account_id",
    "account_name",
    "user_name",
    "access_key_id",
    "status",
    "created",
    "age_days",
    "last_used",
    "owner",
    "exemption_reason",
    "exemption_until",
    "action",
    "reason",
    "outcome",
    "next_action",
    "next_action_date",
)


@dataclass(frozen=True)
class RunIdentity:
    """Which run the report is evidence of."""

    dag_id: str
    run_id: str
    evaluated_at: datetime
    dry_run: bool
    approved_by: str | None = None  # None: no approval was asked for

    @property
    def mode(self) -> str:
        return "dry run (audit: nothing changed)" if self.dry_run else "enforced"


@dataclass(frozen=True)
class AccountFigures:
    account_id: str
    account_name: str
    active_keys: int
    active_within_period: int
    overdue: int
    failed: bool

    @property
    def compliant_share(self) -> float | None:
        """Share of Active keys younger than the rotation period; None without Active keys."""
        if not self.active_keys:
            return None
        return self.active_within_period / self.active_keys


@dataclass(frozen=True)
class ReportSummary:
    """The headline figures of the report, for the organisation and per account."""

    rotation_period_days: int
    accounts: tuple[AccountFigures, ...]
    age_bands: tuple[tuple[str, int], ...]
    overdue: tuple[KeyRow, ...]
    exemptions: tuple[KeyRow, ...]
    failed_rows: tuple[KeyRow, ...]
    account_failures: Mapping[str, str] = field(default_factory=dict)

    @property
    def active_keys(self) -> int:
        return sum(a.active_keys for a in self.accounts)

    @property
    def active_within_period(self) -> int:
        return sum(a.active_within_period for a in self.accounts)

    @property
    def compliant_share(self) -> float | None:
        return self.active_within_period / self.active_keys if self.active_keys else None

    def headline(self) -> str:
        """One line for the admin email and the log."""
        share = self.compliant_share
        shown = "no Active keys" if share is None else f"{share:.1%}"
        return (
            f"{self.active_within_period} of {self.active_keys} Active keys younger than "
            f"{self.rotation_period_days} days ({shown}); {len(self.overdue)} overdue, "
            f"{len(self.exemptions)} exempt, "
            f"{len(self.failed_rows) + len(self.account_failures)} failure(s)"
        )


def summarize(
    rows: Iterable[KeyRow],
    *,
    now: datetime,
    rotation_period_days: int,
    account_failures: Mapping[str, str] | None = None,
    account_names: Mapping[str, str] | None = None,
) -> ReportSummary:
    """The report's figures from its rows, at the run's evaluation time ``now``."""
    rows = list(rows)
    failures = dict(account_failures or {})
    names = dict(account_names or {})
    for row in rows:
        names.setdefault(row.account_id, row.account_name)
    bands: Counter[str] = Counter()
    per_account: dict[str, list[KeyRow]] = {account: [] for account in names}
    for row in rows:
        per_account.setdefault(row.account_id, []).append(row)
        age = row.age_days(now)
        if row.active and age is not None:
            bands[_band(age)] += 1

    def overdue(row: KeyRow) -> bool:
        age = row.age_days(now)
        # An exempt user's key is overdue all the same: the exemption is listed beside it.
        return row.active and age is not None and age >= rotation_period_days

    figures = tuple(
        AccountFigures(
            account_id=account,
            account_name=names.get(account, ""),
            active_keys=sum(1 for r in account_rows if r.active),
            active_within_period=sum(
                1 for r in account_rows if r.active and not overdue(r) and r.created is not None
            ),
            overdue=sum(1 for r in account_rows if overdue(r)),
            failed=account in failures or any(r.outcome == Outcome.FAILED for r in account_rows),
        )
        for account, account_rows in sorted(per_account.items())
    )
    return ReportSummary(
        rotation_period_days=rotation_period_days,
        accounts=figures,
        age_bands=tuple((label, bands[label]) for label, _, _ in AGE_BANDS),
        overdue=tuple(r for r in rows if overdue(r)),
        exemptions=tuple(r for r in rows if r.exemption_reason or r.exemption_until),
        failed_rows=tuple(r for r in rows if r.outcome == Outcome.FAILED),
        account_failures=failures,
    )


def _band(age: int) -> str:
    for label, low, high in AGE_BANDS:
        if age >= low and (high is None or age <= high):
            return label
    return AGE_BANDS[-1][0]
