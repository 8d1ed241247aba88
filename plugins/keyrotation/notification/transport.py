"""Delivery of one rendered email: Amazon SES (the default) or SMTP.

SES sends a ``multipart/alternative`` MIME message built here, with a plain-text part and
an HTML part, through ``SesHook.conn`` (a boto3 SES client configured from the Airflow AWS
connection). SMTP goes through ``SmtpHook.send_email_smtp``, the hook's public API from
smtp provider 1.8 to 3.x, which sends the HTML part.

Errors are sorted by what they mean for the rest of the run: ``TransportUnavailableError``
(nothing can be sent: stop) or ``NotificationError`` (this email failed: go on).
"""

from __future__ import annotations

import contextlib
import re
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from keyrotation.notification.errors import (
    NotificationError,
    TransportUnavailableError,
    UnverifiedSenderError,
)
from keyrotation.settings import RotationSettings

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.ses import SesHook
    from airflow.providers.smtp.hooks.smtp import SmtpHook
    from botocore.exceptions import ClientError

__all__ = [
    "EmailTransport",
    "RenderedEmail",
    "SesTransport",
    "SmtpTransport",
    "build_mime_message",
    "build_transport",
]

# SES answers these when the caller may not send at all; every further email would fail too.
_SES_FATAL_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AccountSendingPausedException",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
    }
)
# Headers folded only past SMTP's hard limit of 998 characters: Python folds a subject
# longer than 78 characters in front of its first word, which parsers (Python's own among
# them) read back with a leading space.
_UNFOLDED_HEADERS = SMTP.clone(max_line_length=998)
_ADDRESS = re.compile(r"[^\s,:;<>()\"']+@[^\s,:;<>()\"']+")


@dataclass(frozen=True)
class RenderedEmail:
    """An email ready to send. It holds no secret: the records it was made from hold none."""

    kind: str
    to: str
    subject: str
    html: str
    text: str


class EmailTransport(Protocol):
    """Sends one email and returns its message id."""

    @property
    def name(self) -> str: ...

    @property
    def sender(self) -> str: ...

    def send(self, email: RenderedEmail) -> str: ...


def build_transport(
    settings: RotationSettings, *, ses_hook: SesHook | None = None
) -> EmailTransport:
    """The transport the settings choose: SES through ``ses_hook`` (or one on ``aws_conn_id``),
    or SMTP through the Airflow connection ``smtp_conn_id``."""
    if settings.email_transport == "smtp":
        return SmtpTransport(settings.smtp_conn_id, sender_email=settings.sender_email)
    if ses_hook is None:
        from airflow.providers.amazon.aws.hooks.ses import SesHook

        ses_hook = SesHook(aws_conn_id=settings.aws_conn_id)
    return SesTransport(ses_hook, sender_email=settings.sender_email)


def build_mime_message(
    email: RenderedEmail, *, sender: str, message_id: str | None = None
) -> EmailMessage:
    """``multipart/alternative``: plain text first, HTML last (clients show the last they can)."""
    message = EmailMessage(policy=SMTP)
    message["Subject"] = email.subject
    message["From"] = sender
    message["To"] = email.to
    message["Date"] = formatdate(usegmt=True)
    if message_id:
        message["Message-ID"] = message_id
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    # Bodies are encoded above with 76-character lines; headers are written unfolded.
    message.policy = _UNFOLDED_HEADERS
    return message


class SesTransport:
    """Amazon SES ``SendRawEmail`` through the amazon provider's SesHook."""

    name = "ses"

    def __init__(self, hook: SesHook, *, sender_email: str) -> None:
        self._hook = hook
        self._sender = sender_email

    @property
    def sender(self) -> str:
        return self._sender

    def send(self, email: RenderedEmail) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        if not self._sender:
            raise TransportUnavailableError(
                "sender_email is not set: Amazon SES sends only from a verified sender "
                "address; set sender_email in the settings"
            )
        raw = build_mime_message(email, sender=self._sender).as_bytes()
        try:
            client = self._hook.conn
            response = client.send_raw_email(
                Source=self._sender, Destinations=[email.to], RawMessage={"Data": raw}
            )
        except ClientError as error:
            raise self._explain(error, email) from error
        except BotoCoreError as error:  # no credentials, no endpoint: nothing will go out
            raise TransportUnavailableError(f"Amazon SES is not reachable: {error}") from error
        return str(response["MessageId"])

    @property
    def _region(self) -> str:
        try:
            return str(self._hook.conn.meta.region_name)
        except Exception:  # only used to word an error; never hide the original one
            return "(unknown region)"

    def _explain(self, error: ClientError, email: RenderedEmail) -> NotificationError:
        details = error.response.get("Error", {})
        code = str(details.get("Code", ""))
        text = str(details.get("Message", ""))
        region = self._region
        lowered = text.lower()
        if code == "MessageRejected" and (
            "not verified" in lowered or "did not have authority" in lowered
        ):
            named = [address.lower() for address in _ADDRESS.findall(text)]
            if not named or self._sender.lower() in named:
                return UnverifiedSenderError(self._sender, region, f"{code}: {text}")
            # In the SES sandbox recipients must be verified too: only this email fails.
            return NotificationError(
                f"Amazon SES in region {region} refused recipient {email.to}: not a verified "
                f"address ({code}: {text}). The SES account is in the sandbox, which sends "
                "only to verified addresses: request production access "
                "(https://docs.aws.amazon.com/ses/latest/dg/request-production-access.html) "
                "or verify the recipient"
            )
        if code in _SES_FATAL_CODES:
            return TransportUnavailableError(
                f"Amazon SES in region {region} refused to send from {self._sender}: {code}: {text}"
            )
        return NotificationError(
            f"Amazon SES in region {region} did not send to {email.to}: {error}"
        )


class SmtpTransport:
    """SMTP through the Airflow SMTP connection ``conn_id`` (the smtp provider's SmtpHook)."""

    name = "smtp"

    def __init__(
        self,
        conn_id: str,
        *,
        sender_email: str = "",
        hook_factory: Callable[[str], SmtpHook] | None = None,
    ) -> None:
        self._conn_id = conn_id
        self._sender_email = sender_email
        self._hook_factory = hook_factory or _smtp_hook

    @cached_property
    def sender(self) -> str:
        """``sender_email``, else the ``from_email`` extra of the SMTP connection."""
        if self._sender_email:
            return self._sender_email
        try:
            connection = self._hook_factory(self._conn_id).get_connection(self._conn_id)
        except Exception:  # a missing connection is reported, clearly, by send()
            return ""
        return str(connection.extra_dejson.get("from_email") or "")

    def send(self, email: RenderedEmail) -> str:
        sender = self.sender
        if not sender:
            raise TransportUnavailableError(
                f"no sender address: set sender_email in the settings or the from_email "
                f"extra of the Airflow SMTP connection {self._conn_id!r}"
            )
        domain = sender.rpartition("@")[2] or None
        message_id = make_msgid(domain=domain)
        hook = self._hook_factory(self._conn_id)
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(hook)  # reads the connection, connects, STARTTLS, logs in
            except Exception as error:
                raise TransportUnavailableError(
                    f"could not connect to the SMTP server of the Airflow connection "
                    f"{self._conn_id!r}: {error}"
                ) from error
            try:
                # The hook's public API sends the HTML part only (smtp provider 1.8 to 3.x).
                hook.send_email_smtp(
                    to=email.to,
                    from_email=sender,
                    subject=email.subject,
                    html_content=email.html,
                    custom_headers={"Message-ID": message_id},
                )
            except smtplib.SMTPSenderRefused as error:
                raise TransportUnavailableError(
                    f"the SMTP server of connection {self._conn_id!r} refused the sender "
                    f"{sender}: {error.smtp_code} {_decode(error.smtp_error)}"
                ) from error
            except smtplib.SMTPRecipientsRefused as error:
                refused = "; ".join(
                    f"{address}: {code} {_decode(reply)}"
                    for address, (code, reply) in error.recipients.items()
                )
                raise NotificationError(f"the SMTP server refused {refused}") from error
            except (smtplib.SMTPException, OSError) as error:
                raise NotificationError(
                    f"the SMTP server of connection {self._conn_id!r} did not take the email "
                    f"to {email.to}: {error}"
                ) from error
        return message_id


def _smtp_hook(conn_id: str) -> SmtpHook:
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    return SmtpHook(smtp_conn_id=conn_id)


def _decode(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
