"""The demo organisation on a moto server in this process, seen as the tests need it.

The server runs in the test process, so key ages can be set and IAM, Secrets Manager
and the sent emails read straight from moto's backends, while Airflow reaches it over
HTTP like it reaches AWS.
"""

from __future__ import annotations

import email
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from typing import Any

import httpx
from moto.server import ThreadedMotoServer

from deploy.demo.moto_access import assume_role_requires_role
from deploy.demo.organization import (
    EXEMPTION_GROUP,
    MANAGEMENT_ACCOUNT_ID,
    MEMBER_ROLE_NAME,
    REGION,
    SENDER_EMAIL,
    SeededOrganization,
    _deploy_member_role,
    age_key_in_moto,
    assume_into,
    boto3_clients,
    seed_organization,
    verify_sender,
)
from tests.system.stack import free_port

ADMIN_EMAIL = "security-admins@example.com"

#: Keys: (account id, user name) -> ((access key id, status), ...), sorted.
KeyState = dict[tuple[str, str], tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class SentEmail:
    to: str
    subject: str
    text: str


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 that denies AssumeRole into a missing role, as AWS."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per moto request
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        with assume_role_requires_role():
            yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


class Organization:
    """A freshly seeded demo organisation on the moto server at ``endpoint``."""

    def __init__(self, endpoint: str, *, now: datetime | None = None) -> None:
        """Reset moto and seed; key ages count back from ``now`` (default: the clock)."""
        self.endpoint = endpoint
        httpx.post(f"{endpoint}/moto-api/reset", timeout=30).raise_for_status()
        self.seeded_at = now or datetime.now(UTC)
        self.seeded: SeededOrganization = seed_organization(
            boto3_clients(endpoint),
            assume_into(endpoint),
            age_keys=age_key_in_moto(self.seeded_at),
        )
        verify_sender(boto3_clients(endpoint))

    def settings(self, **overrides: object) -> dict[str, object]:
        """The Variable for this organisation: enforcing unless a run says dry."""
        return {
            "dry_run": False,
            "member_role_name": MEMBER_ROLE_NAME,
            "exemption_group": EXEMPTION_GROUP,
            "owner_tag": "owner",
            "sender_email": SENDER_EMAIL,
            "admin_email": ADMIN_EMAIL,
            **overrides,
        }

    def account_id(self, name: str) -> str:
        return self.seeded.accounts[name]

    @property
    def active_accounts(self) -> dict[str, str]:
        """Account id -> name of the accounts a run processes (management included)."""
        org = boto3_clients(self.endpoint)("organizations")
        return {
            account["Id"]: account["Name"]
            for account in org.list_accounts()["Accounts"]
            if account["Status"] == "ACTIVE"
        }

    def keys(self) -> KeyState:
        from moto.iam.models import iam_backends

        state: KeyState = {}
        for account_id in self.seeded.accounts.values():
            for user in iam_backends[account_id]["global"].users.values():
                state[(account_id, user.name)] = tuple(
                    sorted((key.access_key_id, key.status) for key in user.access_keys)
                )
        return state

    def stored_key_ids(self) -> dict[str, list[str]]:
        """Secret name -> the access key id held by each of its versions (oldest first)."""
        from moto.secretsmanager.models import secretsmanager_backends

        stored: dict[str, list[str]] = {}
        for account_id in self.seeded.accounts.values():
            backend = secretsmanager_backends[account_id][REGION]
            for secret in backend.secrets.values():
                versions = sorted(
                    (v for v in getattr(secret, "versions", {}).values() if v.get("secret_string")),
                    key=lambda v: v.get("createdate", 0),
                )
                stored[secret.name] = [
                    json.loads(v["secret_string"]).get("AccessKeyId", "") for v in versions
                ]
        return stored

    def emails(self) -> list[SentEmail]:
        from moto.ses.models import ses_backends

        sent = []
        for message in ses_backends[MANAGEMENT_ACCOUNT_ID][REGION].sent_messages:
            parsed = email.message_from_string(message.raw_data)
            sent.append(SentEmail(str(parsed["To"]), str(parsed["Subject"]), _text(parsed)))
        return sent

    def member_iam(self, account_id: str):
        return assume_into(self.endpoint)(account_id)("iam")

    def deny_member_role(self, account_id: str) -> None:
        """What an account without the member-role stack looks like: AssumeRole denied."""
        self.member_iam(account_id).delete_role(RoleName=MEMBER_ROLE_NAME)

    def restore_member_role(self, account_id: str) -> None:
        _deploy_member_role(self.member_iam(account_id))


@dataclass
class PausedCall:
    """A moto call held after it took effect: ``reached`` is set when it is held, and
    setting ``release`` lets moto answer (to nobody, if the caller was killed)."""

    reached: threading.Event
    release: threading.Event


@contextmanager
def pause_after_key_creation(account_id: str, user_name: str) -> Iterator[PausedCall]:
    """Hold IAM CreateAccessKey for one user after the key exists and before the caller
    hears of it: the moment a crash leaves a key nobody received."""
    from moto.iam.models import IAMBackend

    paused = PausedCall(threading.Event(), threading.Event())
    original = IAMBackend.create_access_key

    def create_access_key(self: IAMBackend, *args: Any, **kwargs: Any) -> Any:
        key = original(self, *args, **kwargs)
        user = kwargs.get("user_name") or args[0]
        if self.account_id == account_id and user == user_name and not paused.reached.is_set():
            paused.reached.set()
            paused.release.wait(timeout=600)
        return key

    IAMBackend.create_access_key = create_access_key  # type: ignore[method-assign]
    try:
        yield paused
    finally:
        IAMBackend.create_access_key = original  # type: ignore[method-assign]
        paused.release.set()


def _text(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            return payload.decode(part.get_content_charset() or "utf-8")
    return ""
