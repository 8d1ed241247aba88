"""Sending a run's rendered emails, and the report of what was sent.

One email failing does not stop the others: each recipient gets what can be sent, and
the failures are raised together at the end. Only an error that no email can get past
(an unverified SES sender, an unreachable SMTP server) stops at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from keyrotation.notification.errors import NotificationError, TransportUnavailableError
from keyrotation.notification.transport import EmailTransport, RenderedEmail

__all__ = ["DeliveryError", "FailedEmail", "NotificationReport", "SentEmail", "deliver"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SentEmail:
    kind: str
    to: str
    subject: str
    message_id: str


@dataclass(frozen=True)
class FailedEmail:
    kind: str
    to: str
    subject: str
    error: str


@dataclass
class NotificationReport:
    """What the notification step sent: recipients, subjects and message ids, never bodies.

    ``to_dict()`` is JSON-safe: ``{"transport", "emails": [sent...], "failed": [...]}``.
    """

    transport: str
    sent: list[SentEmail] = field(default_factory=list)
    failed: list[FailedEmail] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "transport": self.transport,
            "emails": [asdict(email) for email in self.sent],
            "failed": [asdict(email) for email in self.failed],
        }


class DeliveryError(NotificationError):
    """Some emails could not be sent; ``report`` tells which were and which were not."""

    def __init__(self, report: NotificationReport) -> None:
        self.report = report
        failures = "; ".join(
            f"{email.kind} email to {email.to or '(no address)'} ({email.subject!r}): {email.error}"
            for email in report.failed
        )
        super().__init__(
            f"{len(report.failed)} of {len(report.sent) + len(report.failed)} notification "
            f"emails were not sent: {failures}"
        )


def deliver(emails: Sequence[RenderedEmail], transport: EmailTransport) -> NotificationReport:
    """Send every email; raise DeliveryError at the end if any failed.

    A ``TransportUnavailableError`` (nothing can be sent) is raised as it comes.
    """
    report = NotificationReport(transport=transport.name)
    for email in emails:
        if not email.to:
            report.failed.append(_failed(email, "no recipient address is known"))
            continue
        try:
            message_id = transport.send(email)
        except TransportUnavailableError:
            raise
        except NotificationError as error:
            report.failed.append(_failed(email, str(error)))
            continue
        except Exception as error:  # an unforeseen error must not cost the other recipients
            report.failed.append(_failed(email, f"{type(error).__name__}: {error}"))
            continue
        log.info(
            "Sent the %s email %r to %s (message id %s)",
            email.kind,
            email.subject,
            email.to,
            message_id,
        )
        report.sent.append(
            SentEmail(kind=email.kind, to=email.to, subject=email.subject, message_id=message_id)
        )
    if report.failed:
        raise DeliveryError(report)
    return report


def _failed(email: RenderedEmail, error: str) -> FailedEmail:
    log.error(
        "Could not send the %s email %r to %s: %s", email.kind, email.subject, email.to, error
    )
    return FailedEmail(kind=email.kind, to=email.to, subject=email.subject, error=error)
