"""The notification step: templated emails to account owners, key owners and the admins.

``send_notifications`` plans every email of a run from the rotation tasks' records
(``messages``, in words from ``wording``, to ``recipients``, with template values from
``context``), renders them all (``templates``), and only then sends them
(``delivery`` through a ``transport``), so a missing or broken template stops the step
before any email goes out. Re-running it sends the same run's emails again and changes
nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from keyrotation.notification.context import (
    ADMIN_TEMPLATE,
    AUDIT_TEMPLATE,
    ENFORCE_TEMPLATE,
    PlannedEmail,
)
from keyrotation.notification.delivery import (
    DeliveryError,
    FailedEmail,
    NotificationReport,
    SentEmail,
    deliver,
)
from keyrotation.notification.errors import (
    NotificationError,
    TemplateError,
    TransportUnavailableError,
    UnverifiedSenderError,
)
from keyrotation.notification.messages import plan_emails
from keyrotation.notification.templates import TemplateSource, load_template_source
from keyrotation.notification.transport import EmailTransport, RenderedEmail, build_transport
from keyrotation.results import Account, ActionRecord
from keyrotation.settings import RotationSettings

__all__ = [
    "TEMPLATE_NAMES",
    "DeliveryError",
    "EmailTransport",
    "FailedEmail",
    "NotificationError",
    "NotificationReport",
    "RenderedEmail",
    "SentEmail",
    "TemplateError",
    "TemplateSource",
    "TransportUnavailableError",
    "UnverifiedSenderError",
    "build_transport",
    "load_template_source",
    "render_emails",
    "send_notifications",
]

# Every template a run may need. All are checked on every run, so that a broken admin
# template shows up on a quiet day rather than on the day something fails.
TEMPLATE_NAMES = tuple(
    f"{base}.{kind}.j2"
    for base in (ENFORCE_TEMPLATE, AUDIT_TEMPLATE, ADMIN_TEMPLATE)
    for kind in ("html", "txt")
)


def send_notifications(
    *,
    accounts: Sequence[Account],
    records: Sequence[ActionRecord],
    failures: Mapping[str, str],
    settings: RotationSettings,
    dry_run: bool,
    now: datetime,
    partition: str,
    transport: EmailTransport,
    template_source: TemplateSource,
    evidence: Mapping[str, Any] | None = None,
    approval: str | None = None,
) -> NotificationReport:
    """Email each account with something to report, each owner, and the admins.

    ``evidence``: where the run's evidence report went and its headline; with it, the
    admins get the run's summary every run, else only when something needs attention.
    ``approval``: the approval decision in words, when the run asked for one.

    ``failures`` maps the id of each account whose rotation failed to its error; ``now``
    is the run's evaluation time. Raises ``TemplateError`` before anything is sent,
    ``TransportUnavailableError`` (e.g. ``UnverifiedSenderError``) when nothing can be
    sent, and ``DeliveryError`` after sending all it could when some emails failed.
    Account failures alone do not raise: the caller fails the run after this returns.
    """
    template_source.check(TEMPLATE_NAMES)
    planned = plan_emails(
        accounts=accounts,
        records=records,
        failures=failures,
        settings=settings,
        dry_run=dry_run,
        now=now,
        partition=partition,
        sender=transport.sender,
        evidence=evidence,
        approval=approval,
    )
    return deliver(render_emails(planned, template_source), transport)


def render_emails(
    planned: Sequence[PlannedEmail], template_source: TemplateSource
) -> list[RenderedEmail]:
    """Render the HTML and the plain-text body of every planned email."""
    return [
        RenderedEmail(
            kind=email.kind,
            to=email.to,
            subject=email.subject,
            html=template_source.render(f"{email.template}.html.j2", email.context),
            text=template_source.render(f"{email.template}.txt.j2", email.context),
        )
        for email in planned
    ]
