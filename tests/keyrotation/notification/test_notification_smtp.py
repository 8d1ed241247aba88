"""The SMTP transport against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller
from notification_helpers import (
    DEV,
    NOW,
    PROD,
    SECRET_LIKE,
    SENDER,
    enforce_records,
    parse_raw,
)

from keyrotation.notification import (
    DeliveryError,
    NotificationReport,
    TransportUnavailableError,
    build_transport,
    load_template_source,
    send_notifications,
)
from keyrotation.notification.transport import SmtpTransport
from keyrotation.settings import RotationSettings

CONNECTION_FROM = "from-connection@example.com"


@dataclass
class Mailbox:
    """An aiosmtpd handler that keeps every message and refuses chosen recipients."""

    refuse: set[str] = field(default_factory=set)
    envelopes: list = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def connect(monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    """The Airflow connection ``smtp_test`` pointing at 127.0.0.1:port, without TLS."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_TEST",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": port,
                "extra": {
                    "disable_ssl": True,
                    "disable_tls": True,
                    "from_email": CONNECTION_FROM,
                    "timeout": 5,
                    "retry_limit": 1,
                },
            }
        ),
    )


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    handler = Mailbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    connect(monkeypatch, port)
    try:
        yield handler
    finally:
        controller.stop()


def smtp_settings(sender: str = SENDER) -> RotationSettings:
    return RotationSettings(sender_email=sender, email_transport="smtp", smtp_conn_id="smtp_test")


def run(settings: RotationSettings, records=None, failures=None) -> NotificationReport:
    return send_notifications(
        accounts=[PROD, DEV],
        records=enforce_records() if records is None else records,
        failures=failures or {},
        settings=settings,
        dry_run=False,
        now=NOW,
        partition="aws",
        transport=build_transport(settings, ses_hook=None),
        template_source=load_template_source(""),
    )


def test_emails_are_delivered_over_smtp_as_html(mailbox: Mailbox) -> None:
    report = run(smtp_settings(), failures={"444444444444": "AssumeRole: denied"})

    assert report.transport == "smtp"
    received = [parse_raw(envelope.content, with_text=False) for envelope in mailbox.envelopes]
    assert sorted(email.to for email in received) == sorted(
        [PROD.email, DEV.email, "team-a@example.com", "team-b@example.com", SENDER]
    )
    assert {envelope.mail_from for envelope in mailbox.envelopes} == {SENDER}
    assert [envelope.rcpt_tos for envelope in mailbox.envelopes] == [
        [email.to] for email in received
    ]
    prod = next(email for email in received if email.to == PROD.email)
    assert prod.subject == (
        "[IAM key rotation] Account 111111111111 (prod): 2 actions, 1 warning, 1 failed"
    )
    assert prod.message.get_content_type() == "multipart/mixed"
    assert "AKIAPRODALICE0000001" in prod.html
    assert "<strong" in prod.html
    # The report's message ids are the ones the recipients see.
    assert sorted(sent.message_id for sent in report.sent) == sorted(
        str(email.message["Message-ID"]) for email in received
    )
    for email in received:
        assert SECRET_LIKE.findall(email.text + email.html) == []


def test_the_connections_from_email_is_the_sender_when_sender_email_is_unset(
    mailbox: Mailbox,
) -> None:
    transport = build_transport(smtp_settings(sender=""), ses_hook=None)
    assert transport.sender == CONNECTION_FROM

    run(smtp_settings(sender=""))

    assert {envelope.mail_from for envelope in mailbox.envelopes} == {CONNECTION_FROM}
    (admin,) = [
        parse_raw(e.content, with_text=False)
        for e in mailbox.envelopes
        if CONNECTION_FROM in e.rcpt_tos
    ]
    assert f'href="mailto:{CONNECTION_FROM}"' in admin.html


def test_a_refused_recipient_does_not_stop_the_others(mailbox: Mailbox) -> None:
    mailbox.refuse.add("team-b@example.com")

    with pytest.raises(DeliveryError, match=r"owner email to team-b@example\.com .* 550") as raised:
        run(smtp_settings())

    delivered = sorted(rcpt for envelope in mailbox.envelopes for rcpt in envelope.rcpt_tos)
    assert delivered == sorted([PROD.email, DEV.email, "team-a@example.com", SENDER])
    assert [failed.to for failed in raised.value.report.failed] == ["team-b@example.com"]


def test_an_unreachable_server_stops_at_once_naming_the_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connect(monkeypatch, free_port())  # nothing listens there

    with pytest.raises(TransportUnavailableError, match="Airflow connection 'smtp_test'"):
        run(smtp_settings())


def test_a_missing_connection_is_a_clear_error() -> None:
    transport = SmtpTransport("smtp_no_such_connection", sender_email=SENDER)
    settings = smtp_settings()

    with pytest.raises(TransportUnavailableError, match="'smtp_no_such_connection'"):
        send_notifications(
            accounts=[PROD],
            records=enforce_records()[:1],
            failures={},
            settings=settings,
            dry_run=False,
            now=NOW,
            partition="aws",
            transport=transport,
            template_source=load_template_source(""),
        )
