"""What a scan of an account yields: its users and their keys, as the key policy reads them."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["AccountScan", "ScanError", "ScanMode", "ScannedKey", "ScannedUser"]


class ScanMode(enum.StrEnum):
    AUTO = "auto"
    CREDENTIAL_REPORT = "credential_report"
    PER_USER = "per_user"


class ScanError(RuntimeError):
    """The account's users or keys cannot be read; nothing may be decided on a guess."""


@dataclass(frozen=True)
class ScannedKey:
    """One access key: IAM metadata plus LastUsedDate (None: never used)."""

    access_key_id: str
    status: str
    created: datetime
    last_used: datetime | None

    @property
    def active(self) -> bool:
        return self.status == "Active"


@dataclass(frozen=True)
class ScannedUser:
    name: str
    arn: str
    keys: tuple[ScannedKey, ...] = ()
    #: The user's tags when the scan read them (keys as IAM spells them); None: not read.
    tags: Mapping[str, str] | None = None

    def tag(self, key: str) -> str | None:
        """A tag's value by key, compared case-insensitively as IAM does; None if absent."""
        wanted = key.lower()
        for name, value in (self.tags or {}).items():
            if name.lower() == wanted:
                return value
        return None

    def key_metadata(self) -> list[dict[str, Any]]:
        """The keys in the shape ``policy.evaluate_keys`` reads."""
        return [
            {
                "UserName": self.name,
                "AccessKeyId": key.access_key_id,
                "Status": key.status,
                "CreateDate": key.created,
                "LastUsedDate": key.last_used,
            }
            for key in self.keys
        ]

    def without_keys(self, access_key_ids: set[str]) -> ScannedUser:
        kept = tuple(k for k in self.keys if k.access_key_id not in access_key_ids)
        return ScannedUser(self.name, self.arn, kept, self.tags)


@dataclass(frozen=True)
class AccountScan:
    account_id: str
    users: tuple[ScannedUser, ...]  # not exempt, by name
    exempt: tuple[str, ...]  # members of the exemption group, by name
    #: Users the credential report showed nothing due for, not read live.
    not_due: int = 0
    #: Those users with their keys as the report shows them (``access_key_id`` empty: the
    #: report names no key), for the run's evidence; never planned.
    unread: tuple[ScannedUser, ...] = ()
    mode: ScanMode = ScanMode.PER_USER
