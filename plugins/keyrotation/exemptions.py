"""Exemptions with an end date, read from a user's or an account's tags. No I/O.

A tag (setting ``exempt_tag``) holding a date ``YYYY-MM-DD`` exempts its user, or every
user of its account, through the end of that day (UTC). A value that is not such a date,
or a date more than ``max_exemption_days`` ahead, exempts nothing: it is an
``ExemptionProblem`` that the run reports, and the policy applies as usual.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

__all__ = [
    "REASON_TAG",
    "AccountExemptions",
    "Exemption",
    "ExemptionProblem",
    "exemption_from_tags",
    "group_exemption",
    "parse_exemption",
    "resolve_exemptions",
    "tag_value",
]

#: The optional tag beside the date tag that says why the exemption was granted.
REASON_TAG = "iam-key-rotation:exempt-reason"

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Exemption:
    """Why and until when a user or an account is left alone.

    ``until`` is the last exempt day (UTC); None means no end (the exemption group).
    ``source`` says what made it: the group or the tag, and where.
    """

    reason: str
    until: date | None
    source: str

    @property
    def ends(self) -> datetime | None:
        """The first moment that is no longer exempt: midnight UTC after ``until``."""
        if self.until is None:
            return None
        return datetime.combine(self.until + timedelta(days=1), time(0), tzinfo=UTC)

    def active_at(self, now: datetime) -> bool:
        return self.ends is None or now < self.ends


@dataclass(frozen=True)
class ExemptionProblem:
    """An exemption tag whose value exempts nothing, and why; ``subject`` names whom."""

    subject: str
    tag: str
    value: str
    problem: str
    #: The user whose tag it is; empty for the account's tag.
    user_name: str = ""

    @property
    def message(self) -> str:
        return (
            f"{self.subject}: tag {self.tag} = {self.value!r} {self.problem}; "
            f"the exemption does not apply and the key policy is applied as usual."
        )


def tag_value(tags: Mapping[str, str] | None, key: str) -> str | None:
    """A tag's value by key, compared case-insensitively as IAM does; None if absent."""
    wanted = key.lower()
    for name, value in (tags or {}).items():
        if name.lower() == wanted:
            return value
    return None


def parse_exemption(
    value: str,
    *,
    subject: str,
    tag: str,
    reason: str | None,
    source: str,
    now: datetime,
    max_days: int,
) -> Exemption | ExemptionProblem | None:
    """Read one exemption date tag at ``now``.

    Returns the exemption while it lasts, None once it has ended, or the problem that
    makes the value exempt nothing.
    """
    text = value.strip()
    if not text:
        return ExemptionProblem(subject, tag, value, "is empty, not a date YYYY-MM-DD")
    until = _parse_date(text)
    if until is None:
        return ExemptionProblem(subject, tag, value, "is not a date YYYY-MM-DD")
    today = now.astimezone(UTC).date()
    if (until - today).days > max_days:
        return ExemptionProblem(
            subject,
            tag,
            value,
            f"lies more than {max_days} days (setting max_exemption_days) after "
            f"{today.isoformat()}",
        )
    exemption = Exemption(reason=(reason or "").strip(), until=until, source=source)
    return exemption if exemption.active_at(now) else None


def exemption_from_tags(
    tags: Mapping[str, str] | None,
    *,
    subject: str,
    exempt_tag: str,
    source: str,
    now: datetime,
    max_days: int,
) -> Exemption | ExemptionProblem | None:
    """The exemption that ``tags`` grant at ``now``, if any (see ``parse_exemption``)."""
    if not exempt_tag:
        return None
    value = tag_value(tags, exempt_tag)
    if value is None:
        return None
    return parse_exemption(
        value,
        subject=subject,
        tag=exempt_tag,
        reason=tag_value(tags, REASON_TAG),
        source=source,
        now=now,
        max_days=max_days,
    )


def group_exemption(group: str) -> Exemption:
    """The exemption of a member of the exemption group: no reason recorded, no end."""
    return Exemption(reason="", until=None, source=f"member of the IAM group {group}")


def _parse_date(text: str) -> date | None:
    if not _DATE.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class AccountExemptions:
    """Who is exempt in one account at one time, and which tags exempt nothing.

    ``account`` exempts every user; ``users`` holds the users exempt by their own tag.
    A user exempt both ways stays exempt until the later of the two ends.
    """

    account: Exemption | None
    users: Mapping[str, Exemption]
    problems: tuple[ExemptionProblem, ...]

    def ends(self, user_names: Iterable[str]) -> dict[str, datetime]:
        """The end of each exempt user's exemption, for the policy."""
        ends = {}
        for name in user_names:
            moments = [
                exemption.ends
                for exemption in (self.account, self.users.get(name))
                if exemption is not None and exemption.ends is not None
            ]
            if moments:
                ends[name] = max(moments)
        return ends


def resolve_exemptions(
    *,
    account_id: str,
    account_tags: Mapping[str, str] | None,
    user_tags: Mapping[str, Mapping[str, str] | None],
    exempt_tag: str,
    now: datetime,
    max_days: int,
) -> AccountExemptions:
    """Read the exemption tags of an account and of its users at ``now``."""
    problems: list[ExemptionProblem] = []
    account = exemption_from_tags(
        account_tags,
        subject=f"account {account_id}",
        exempt_tag=exempt_tag,
        source=f"account tag {exempt_tag} (AWS Organizations)",
        now=now,
        max_days=max_days,
    )
    if isinstance(account, ExemptionProblem):
        problems.append(account)
        account = None
    users: dict[str, Exemption] = {}
    for name in sorted(user_tags):
        found = exemption_from_tags(
            user_tags[name],
            subject=f"user {name}",
            exempt_tag=exempt_tag,
            source=f"user tag {exempt_tag}",
            now=now,
            max_days=max_days,
        )
        if isinstance(found, ExemptionProblem):
            problems.append(replace(found, user_name=name))
        elif found is not None:
            users[name] = found
    return AccountExemptions(account=account, users=users, problems=tuple(problems))
