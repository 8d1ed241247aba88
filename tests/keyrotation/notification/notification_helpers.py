"""Helpers of the notification tests: a run's accounts and records, parsing received emails."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from keyrotation.notification.messages import PlannedEmail, plan_emails
from keyrotation.results import Account, ActionRecord
from keyrotation.settings import RotationSettings

PACKAGED = Path(__file__).resolve().parents[3] / "include" / "email_templates"

# A secret access key is 40 characters of base64; nothing else in an email looks like one.
SECRET_LIKE = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])")

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SENDER = "key-rotation@example.com"
REGION = "us-east-1"

PROD = Account(id="111111111111", name="prod", email="prod-root@example.com")
DEV = Account(id="222222222222", name="dev", email="dev-root@example.com")
QUIET = Account(id="333333333333", name="quiet", email="quiet-root@example.com")


# The spec's "Reasons and their words", copied here so that a drift in the code shows.
SPEC_WORDS = {
    "UNUSED_EXPIRED_KEY": "Expired key has never been used.",
    "EXPIRED_ACTIVE_KEY": "Active key has expired.",
    "FORCED_ROTATION": "Forced active key rotation.",
    "EXPIRED_ACTIVE_KEY_CONFLICT_LRU": "Expired active key with conflict, least recently used.",
    "EXPIRED_INACTIVE_KEY_CONFLICT": "Expired key with conflict, already inactive.",
    "FORCED_ROTATION_CONFLICT_LRU": (
        "Forced active key rotation with conflict, least recently used."
    ),
    "FORCED_INACTIVE_KEY_CONFLICT": "Forced rotation with conflict, already inactive.",
    "INSTALL_GRACE_PERIOD_END": "Installation grace period has ended.",
    "RECOVER_GRACE_PERIOD_END": "Recovery grace period has ended.",
    "KEY_PENDING_ROTATION": "Key will be rotated soon.",
    "KEY_PENDING_DEACTIVATION": "Key will be deactivated soon, please install new key.",
    "KEY_PENDING_DELETION": "Key will be permanently deleted soon, please validate new key.",
    "KEY_PENDING_EXPIRATION_CONFLICT": (
        "Key will expire soon, cannot be rotated due to presence of other key."
    ),
    "KEY_PENDING_DELETION_CONFLICT": "Key will be permanently deleted soon, due to conflict.",
    "UNUSED_KEY_PENDING_DELETION": (
        "Key will be permanently deleted soon, key is about to expire and has never been used."
    ),
}

# Every (action, reason) pair the policy engine plans.
CHANGES = [
    ("ROTATE", "EXPIRED_ACTIVE_KEY"),
    ("ROTATE", "FORCED_ROTATION"),
    ("ROTATE_AND_DELETE", "UNUSED_EXPIRED_KEY"),
    ("DELETE", "UNUSED_EXPIRED_KEY"),
    ("DELETE", "EXPIRED_ACTIVE_KEY_CONFLICT_LRU"),
    ("DELETE", "EXPIRED_INACTIVE_KEY_CONFLICT"),
    ("DELETE", "FORCED_ROTATION_CONFLICT_LRU"),
    ("DELETE", "FORCED_INACTIVE_KEY_CONFLICT"),
    ("DELETE", "RECOVER_GRACE_PERIOD_END"),
    ("DEACTIVATE", "INSTALL_GRACE_PERIOD_END"),
]
# Warning reason -> (level, the words of what the owner must do).
WARNINGS = {
    "KEY_PENDING_ROTATION": ("WARNING", "Be ready to install the new key"),
    "KEY_PENDING_DEACTIVATION": ("WARNING", "Verify that the new key is installed"),
    "KEY_PENDING_DELETION": ("WARNING", "Verify that the new key works"),
    "KEY_PENDING_EXPIRATION_CONFLICT": ("CRITICAL", "Make sure this key is not in use"),
    "KEY_PENDING_DELETION_CONFLICT": ("CRITICAL", "Make sure this key is not in use"),
    "UNUSED_KEY_PENDING_DELETION": ("WARNING", "has never been used: it will be permanently"),
}


def plan(
    records: list[ActionRecord],
    *,
    settings: RotationSettings,
    dry_run: bool = False,
    failures: dict[str, str] | None = None,
    accounts: tuple[Account, ...] | None = None,
) -> list[PlannedEmail]:
    """The emails of a run at NOW from SENDER."""
    return plan_emails(
        accounts=list(accounts if accounts is not None else (PROD, DEV, QUIET)),
        records=records,
        failures=failures or {},
        settings=settings,
        dry_run=dry_run,
        now=NOW,
        partition="aws",
        sender=SENDER,
    )


def record(
    account: Account,
    user: str,
    key: str,
    action: str,
    reason: str,
    *,
    outcome: str = "done",
    due_in: timedelta | None = None,
    owner: str | None = None,
    error: str | None = None,
    secret: bool = False,
    new_key: str | None = None,
) -> ActionRecord:
    """One ActionRecord as a rotation task returns it."""
    return ActionRecord(
        account_id=account.id,
        user_name=user,
        access_key_id=key,
        action=action,
        reason=reason,
        due=(NOW + due_in).isoformat() if due_in is not None else None,
        outcome=outcome,
        error=error,
        secret_name=f"iam-key-rotation/{user}" if secret else None,
        secret_region=REGION if secret else None,
        new_access_key_id=new_key,
        owner=owner,
    )


def enforce_records() -> list[ActionRecord]:
    """A realistic enforce run: prod has changes, warnings and a failure; dev a warning."""
    return [
        record(
            PROD,
            "alice",
            "AKIAPRODALICE0000001",
            "ROTATE",
            "EXPIRED_ACTIVE_KEY",
            owner="team-a@example.com",
            secret=True,
            new_key="AKIAPRODALICE0000NEW",
        ),
        record(
            PROD,
            "alice",
            "AKIAPRODALICE0000002",
            "DELETE",
            "EXPIRED_INACTIVE_KEY_CONFLICT",
            owner="team-a@example.com",
        ),
        record(
            PROD,
            "bob",
            "AKIAPRODBOB000000001",
            "WARN",
            "KEY_PENDING_DELETION_CONFLICT",
            outcome="warned",
            due_in=timedelta(days=3),
            owner="team-b@example.com",
        ),
        record(
            PROD,
            "carol",
            "AKIAPRODCAROL0000001",
            "DEACTIVATE",
            "INSTALL_GRACE_PERIOD_END",
            outcome="failed",
            error="AccessDenied: not allowed to UpdateAccessKey",
        ),
        record(
            DEV,
            "dave",
            "AKIADEVDAVE000000001",
            "WARN",
            "KEY_PENDING_ROTATION",
            outcome="warned",
            due_in=timedelta(days=5),
            owner="Team-A@example.com",
        ),
    ]


@dataclass(frozen=True)
class ReceivedEmail:
    """An email as the recipient sees it, parsed from the raw MIME message."""

    sender: str
    to: str
    subject: str
    text: str
    html: str
    message: EmailMessage


def parse_raw(raw: str | bytes, *, with_text: bool = True) -> ReceivedEmail:
    """An email as received; ``with_text=False`` for SMTP, which sends the HTML part only."""
    if isinstance(raw, bytes):
        message = email.message_from_bytes(raw, policy=email.policy.default)
    else:
        message = email.message_from_string(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    if with_text:
        assert text is not None, "an email must carry a plain-text part"
    else:
        assert text is None or text.get_content_type() == "text/html", "no plain-text part"
    assert html is not None, "an email must carry an HTML part"
    return ReceivedEmail(
        sender=str(message["From"]),
        to=str(message["To"]),
        subject=str(message["Subject"]),
        text=text.get_content() if with_text and text is not None else "",
        html=html.get_content(),
        message=message,
    )


def ses_sent_emails(region: str = REGION) -> list[ReceivedEmail]:
    """The emails moto's SES accepted, parsed; each raw message has one recipient here."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    messages = ses_backends[DEFAULT_ACCOUNT_ID][region].sent_messages
    return [parse_raw(message.raw_data) for message in messages]


def verified_ses_hook(sender: str = SENDER, region: str = REGION):  # -> SesHook
    """A SesHook on moto with ``sender`` verified, as an operator sets SES up."""
    from airflow.providers.amazon.aws.hooks.ses import SesHook

    hook = SesHook(aws_conn_id=None, region_name=region)
    if sender:
        hook.conn.verify_email_identity(EmailAddress=sender)
    return hook
