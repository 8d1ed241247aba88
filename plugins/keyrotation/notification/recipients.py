"""Who receives what: the order of accounts, the owners who can be emailed, the admins."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TypeVar

from keyrotation.results import Account, ActionRecord
from keyrotation.settings import NotificationSettings

__all__ = ["account_order", "admin_address", "by_owner", "is_email_address"]

# Deliberately simple: an owner tag value either looks like one address or is not used.
_EMAIL_ADDRESS = re.compile(r"^[^@\s<>,;\"']+@[^@\s<>,;\"']+\.[^@\s<>,;\"']+$")

T = TypeVar("T")


def is_email_address(value: str | None) -> bool:
    return bool(value) and bool(_EMAIL_ADDRESS.match(value or ""))


def account_order(
    accounts: Sequence[Account], records: Sequence[ActionRecord], failures: Mapping[str, str]
) -> list[str]:
    """Accounts as the inventory listed them, then any others that records or failures name."""
    order = list(dict.fromkeys(account.id for account in accounts))
    known = set(order)
    extra = {record.account_id for record in records} | set(failures)
    return order + sorted(extra - known)


def by_owner(
    order: Sequence[str], items_by_account: Mapping[str, Sequence[tuple[ActionRecord, T]]]
) -> dict[str, dict[str, list[tuple[ActionRecord, T]]]]:
    """Each owner's records, grouped by account, owners keyed by their first spelling.

    A tag value that is not an address (a team name, say) cannot be emailed: its records
    go to no owner.
    """
    spelling: dict[str, str] = {}
    grouped: dict[str, dict[str, list[tuple[ActionRecord, T]]]] = {}
    for account_id in order:
        for record, item in items_by_account.get(account_id, []):
            owner = (record.owner or "").strip()
            if not is_email_address(owner):
                continue
            owner = spelling.setdefault(owner.lower(), owner)
            grouped.setdefault(owner, {}).setdefault(account_id, []).append((record, item))
    return grouped


def admin_address(settings: NotificationSettings, sender: str) -> str:
    """The admins: ``admin_email``, else the sender."""
    return settings.admin_email or sender
