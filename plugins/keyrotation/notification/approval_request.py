"""The email that tells the admins a plan waits for their approval, with the link to it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from keyrotation.notification.context import SUBJECT_PREFIX, common_context, subject
from keyrotation.notification.delivery import NotificationReport, deliver
from keyrotation.notification.recipients import admin_address
from keyrotation.notification.templates import TemplateSource
from keyrotation.notification.transport import EmailTransport, RenderedEmail
from keyrotation.settings import RotationSettings

__all__ = ["APPROVAL_TEMPLATE", "send_approval_request"]

APPROVAL_TEMPLATE = "approval_request"


def send_approval_request(
    *,
    headline: str,
    totals: Mapping[str, int],
    changes: Sequence[Any],
    unplanned: Mapping[str, str],
    account_names: Mapping[str, str],
    link: str,
    deadline: datetime,
    settings: RotationSettings,
    now: datetime,
    partition: str,
    transport: EmailTransport,
    template_source: TemplateSource,
) -> NotificationReport:
    """Email the admins (``admin_email``, else the sender) that a plan waits for them.

    ``changes`` are the changes to approve (each with ``account_id``, ``user_name``,
    ``access_key_id`` and ``action``); ``totals`` counts the plan's records by action;
    ``unplanned`` maps accounts that could not be planned to why.
    """
    to = admin_address(settings, transport.sender)
    context = {
        **common_context(settings, dry_run=False, now=now, partition=partition, sender=to),
        "recipient_kind": "admin",
        "recipient": to,
        "link": link,
        "deadline": deadline.strftime("%Y-%m-%d %H:%M UTC"),
        "approval": settings.approval,
        "planned": ", ".join(f"{n} {action}" for action, n in totals.items()) or "none",
        "changes": changes,
        "unplanned": sorted(unplanned.items()),
        "account_names": account_names,
    }
    email = RenderedEmail(
        kind="approval",
        to=to,
        subject=subject(f"{SUBJECT_PREFIX} {headline}: waiting for your decision"),
        html=template_source.render(f"{APPROVAL_TEMPLATE}.html.j2", context),
        text=template_source.render(f"{APPROVAL_TEMPLATE}.txt.j2", context),
    )
    return deliver([email], transport)
