"""The errors of the notification step, so that callers can tell them apart."""

from __future__ import annotations

__all__ = [
    "NotificationError",
    "TemplateError",
    "TransportUnavailableError",
    "UnverifiedSenderError",
]


class NotificationError(Exception):
    """The notification step could not do its job; the message says why and what to do."""


class TemplateError(NotificationError):
    """An email template is missing, unreadable or broken. Raised before any email is sent."""


class TransportUnavailableError(NotificationError):
    """No email can be sent at all (no sender, no server, no permission): stop at once."""


class UnverifiedSenderError(TransportUnavailableError):
    """Amazon SES refused the sender address because it is not a verified identity."""

    def __init__(self, sender: str, region: str, detail: str) -> None:
        self.sender = sender
        self.region = region
        super().__init__(
            f"Amazon SES in region {region} refused to send from {sender}: the address is not "
            f"verified ({detail}). SES sends only from verified identities, and while the "
            f"account is in the SES sandbox only to verified recipients. Fix: verify {sender} "
            f"(or its domain) as an identity in Amazon SES in {region} "
            "(https://docs.aws.amazon.com/ses/latest/dg/creating-identities.html), or request "
            "production access to leave the sandbox "
            "(https://docs.aws.amazon.com/ses/latest/dg/request-production-access.html); "
            "then clear the notification task to send this run's emails again."
        )
