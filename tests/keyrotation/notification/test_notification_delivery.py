"""Sending a run's emails: each recipient gets what can be sent, failures are raised last."""

from __future__ import annotations

import pytest

from keyrotation.notification.delivery import DeliveryError, deliver
from keyrotation.notification.errors import NotificationError, TransportUnavailableError
from keyrotation.notification.transport import RenderedEmail


def email(to: str, kind: str = "account") -> RenderedEmail:
    return RenderedEmail(kind=kind, to=to, subject=f"about {to}", html="<p>h</p>", text="t")


class ScriptedTransport:
    """Fails the recipients it is told to, with the error it is told to."""

    name = "scripted"
    sender = "sender@example.com"

    def __init__(self, errors: dict[str, Exception]) -> None:
        self.errors = errors
        self.attempts: list[str] = []

    def send(self, message: RenderedEmail) -> str:
        self.attempts.append(message.to)
        if message.to in self.errors:
            raise self.errors[message.to]
        return f"id-{message.to}"


def test_every_email_is_tried_and_the_failures_are_raised_at_the_end() -> None:
    transport = ScriptedTransport(
        {"b@example.com": NotificationError("mailbox full"), "c@example.com": RuntimeError("bug")}
    )
    emails = [
        email("a@example.com"),
        email("b@example.com"),
        email("c@example.com"),
        email("d@example.com", kind="admin"),
    ]

    with pytest.raises(DeliveryError) as raised:
        deliver(emails, transport)

    assert transport.attempts == [e.to for e in emails]
    report = raised.value.report.to_dict()
    assert [sent["to"] for sent in report["emails"]] == ["a@example.com", "d@example.com"]
    assert [sent["message_id"] for sent in report["emails"]] == [
        "id-a@example.com",
        "id-d@example.com",
    ]
    assert [(f["to"], f["error"]) for f in report["failed"]] == [
        ("b@example.com", "mailbox full"),
        ("c@example.com", "RuntimeError: bug"),
    ]
    assert str(raised.value).startswith("2 of 4 notification emails were not sent: ")
    assert "account email to b@example.com ('about b@example.com'): mailbox full" in str(
        raised.value
    )


def test_an_error_nothing_can_get_past_stops_at_once() -> None:
    transport = ScriptedTransport({"a@example.com": TransportUnavailableError("no server")})

    with pytest.raises(TransportUnavailableError, match="no server"):
        deliver([email("a@example.com"), email("b@example.com")], transport)

    assert transport.attempts == ["a@example.com"]


def test_an_email_without_recipient_is_reported_not_sent() -> None:
    transport = ScriptedTransport({})

    with pytest.raises(DeliveryError, match=r"\(no address\).*no recipient address is known"):
        deliver([email(""), email("a@example.com")], transport)

    assert transport.attempts == ["a@example.com"]


def test_all_sent_returns_the_report() -> None:
    report = deliver([email("a@example.com")], ScriptedTransport({}))

    assert report.to_dict() == {
        "transport": "scripted",
        "emails": [
            {
                "kind": "account",
                "to": "a@example.com",
                "subject": "about a@example.com",
                "message_id": "id-a@example.com",
            }
        ],
        "failed": [],
    }
