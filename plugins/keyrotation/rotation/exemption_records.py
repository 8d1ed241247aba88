"""The records that list an account's exemptions and the exemption tags that are wrong."""

from __future__ import annotations

from keyrotation.aws.scan import AccountScan
from keyrotation.exemptions import AccountExemptions, Exemption, group_exemption
from keyrotation.results import Account, ActionRecord, Notice, Outcome
from keyrotation.settings import RotationSettings

__all__ = ["exemption_records"]


def exemption_records(
    account: Account, scan: AccountScan, exemptions: AccountExemptions, settings: RotationSettings
) -> list[ActionRecord]:
    """The account's exempt users and accounts, and the exemption tags that exempt nothing."""
    listed: list[tuple[str, Exemption]] = []
    if exemptions.account is not None:
        listed.append(("", exemptions.account))
    group = group_exemption(settings.exemption_group)
    listed += [(name, group) for name in scan.exempt]
    listed += sorted(exemptions.users.items())
    records = [
        ActionRecord.notice(
            Notice.EXEMPT,
            account_id=account.id,
            user_name=name,
            due=exemption.ends.isoformat() if exemption.ends else None,
            outcome=Outcome.EXEMPT,
            exemption_source=exemption.source,
            exemption_reason=exemption.reason or None,
            exempt_until=exemption.until.isoformat() if exemption.until else None,
        )
        for name, exemption in listed
    ]
    records += [
        ActionRecord.notice(
            Notice.EXEMPTION_PROBLEM,
            account_id=account.id,
            user_name=problem.user_name,
            outcome=Outcome.REPORTED,
            error=problem.message,
        )
        for problem in exemptions.problems
    ]
    return records
