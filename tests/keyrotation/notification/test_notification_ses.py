"""The notification step end to end over Amazon SES (moto), emails read back from SES."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from botocore.stub import Stubber
from notification_helpers import (
    DEV,
    NOW,
    PACKAGED,
    PROD,
    QUIET,
    REGION,
    SECRET_LIKE,
    SENDER,
    enforce_records,
    record,
    ses_sent_emails,
    verified_ses_hook,
)

from keyrotation.notification import (
    DeliveryError,
    NotificationError,
    NotificationReport,
    TemplateError,
    UnverifiedSenderError,
    build_transport,
    load_template_source,
    send_notifications,
)
from keyrotation.notification.transport import RenderedEmail, SesTransport, SmtpTransport
from keyrotation.results import Account, ActionRecord
from keyrotation.settings import RotationSettings

pytestmark = pytest.mark.usefixtures("aws")


class CountingTransport:
    """Passes every email on to a real transport and counts the attempts."""

    def __init__(self, inner: SesTransport) -> None:
        self.inner = inner
        self.attempts: list[str] = []
        self.name = inner.name
        self.sender = inner.sender

    def send(self, email: RenderedEmail) -> str:
        self.attempts.append(email.to)
        return self.inner.send(email)


def run(
    records: list[ActionRecord],
    settings: RotationSettings,
    *,
    transport=None,
    failures=None,
    dry_run=False,
    accounts=(PROD, DEV, QUIET),
    templates: str = "",
) -> NotificationReport:
    return send_notifications(
        accounts=list(accounts),
        records=records,
        failures=failures or {},
        settings=settings,
        dry_run=dry_run,
        now=NOW,
        partition="aws",
        transport=transport or build_transport(settings, ses_hook=verified_ses_hook()),
        template_source=load_template_source(templates),
    )


def test_account_owner_and_admin_emails_are_sent_through_ses(settings: RotationSettings) -> None:
    report = run(enforce_records(), settings, failures={"444444444444": "AssumeRole: denied"})

    received = ses_sent_emails()
    tag = "[IAM key rotation]"
    assert sorted((email.to, email.subject) for email in received) == sorted(
        [
            (PROD.email, f"{tag} Account 111111111111 (prod): 2 actions, 1 warning, 1 failed"),
            (DEV.email, f"{tag} Account 222222222222 (dev): 1 warning"),
            ("team-a@example.com", f"{tag} Access keys of your IAM users: 2 actions, 1 warning"),
            ("team-b@example.com", f"{tag} Access keys of your IAM users: 1 warning"),
            (SENDER, f"{tag} Run needs attention: 1 failed account, 1 failed action"),
        ]
    )
    assert {email.sender for email in received} == {SENDER}
    for email in received:
        assert email.message.get_content_type() == "multipart/alternative"

    prod = next(email for email in received if email.to == PROD.email)
    assert (
        "- ACTION: ROTATE key AKIAPRODALICE0000001 of alice: Active key has expired. The new key "
        "AKIAPRODALICE0000NEW is stored in secret iam-key-rotation/alice (us-east-1). "
        "(owner: team-a@example.com)"
    ) in prod.text.splitlines()
    assert (
        "- CRITICAL: key AKIAPRODBOB000000001 of bob: Key will be permanently deleted soon, "
        "due to conflict. 3 days remaining (due 2024-05-04 12:00 UTC)." in prod.text
    )
    admin = next(email for email in received if email.to == SENDER)
    assert "- 444444444444: AssumeRole: denied" in admin.text.splitlines()
    assert "could not DEACTIVATE key AKIAPRODCAROL0000001 of carol" in admin.text

    assert report.transport == "ses"
    as_dict = json.loads(json.dumps(report.to_dict()))
    assert as_dict["failed"] == []
    assert sorted(email["to"] for email in as_dict["emails"]) == sorted(e.to for e in received)
    assert set(as_dict["emails"][0]) == {"kind", "to", "subject", "message_id"}


def test_an_owner_email_read_back_holds_only_that_owners_users(settings: RotationSettings) -> None:
    run(enforce_records(), settings)

    team_a = next(email for email in ses_sent_emails() if email.to == "team-a@example.com")
    for body in (team_a.text, team_a.html):
        assert "alice" in body
        assert "dave" in body
        assert "bob" not in body
        assert "carol" not in body
    assert team_a.text.index("Account 111111111111 (prod)") < team_a.text.index(
        "Account 222222222222 (dev)"
    )


def test_audit_mode_emails_say_dryrun(settings: RotationSettings) -> None:
    records = [
        record(
            PROD,
            "alice",
            "AKIAPRODALICE0000001",
            "ROTATE",
            "EXPIRED_ACTIVE_KEY",
            outcome="skipped (dry run)",
        ),
    ]

    run(records, settings, dry_run=True)

    (email,) = ses_sent_emails()
    assert email.subject == "[IAM key rotation AUDIT] Account 111111111111 (prod): 1 action"
    assert (
        "- DRYRUN: would ROTATE key AKIAPRODALICE0000001 of alice: Active key has expired."
        in email.text.splitlines()
    )
    assert "no key was changed" in email.html


def test_nothing_to_report_sends_nothing(settings: RotationSettings) -> None:
    report = run([], settings)

    assert report.to_dict() == {"transport": "ses", "emails": [], "failed": []}
    assert ses_sent_emails() == []


def test_a_rerun_sends_the_same_emails_again(settings: RotationSettings) -> None:
    run(enforce_records(), settings)
    first = sorted((email.to, email.subject, email.text) for email in ses_sent_emails())

    run(enforce_records(), settings)

    everything = sorted((email.to, email.subject, email.text) for email in ses_sent_emails())
    assert everything == sorted(first + first)


def test_no_received_email_contains_anything_like_a_secret_access_key(
    settings: RotationSettings,
) -> None:
    run(enforce_records(), settings, failures={DEV.id: "boom"})

    received = ses_sent_emails()
    assert len(received) == 5
    for email in received:
        for body in (email.subject, email.text, email.html):
            assert SECRET_LIKE.findall(body) == []


def test_an_unverified_sender_stops_at_the_first_email_with_the_runbook_fix(
    settings: RotationSettings,
) -> None:
    transport = CountingTransport(
        SesTransport(verified_ses_hook(sender=""), sender_email=SENDER)  # nothing verified
    )

    with pytest.raises(UnverifiedSenderError) as raised:
        run(enforce_records(), settings, transport=transport)

    message = str(raised.value)
    assert SENDER in message
    assert f"region {REGION}" in message
    assert "verify" in message
    assert "production access" in message
    assert "creating-identities" in message
    assert len(transport.attempts) == 1  # nothing can be sent: no point trying the others
    assert ses_sent_emails() == []


def ses_error(message: str) -> dict:
    return {
        "service_error_code": "MessageRejected",
        "service_message": message,
        "http_status_code": 400,
    }


def test_real_ses_wording_of_an_unverified_sender_is_recognised() -> None:
    hook = verified_ses_hook()
    transport = SesTransport(hook, sender_email=SENDER)
    email = RenderedEmail(kind="account", to=PROD.email, subject="s", html="<p>h</p>", text="t")

    with Stubber(hook.conn) as stub:
        stub.add_client_error(
            "send_raw_email",
            **ses_error(
                "Email address is not verified. The following identities failed the check "
                f"in region US-EAST-1: {SENDER}"
            ),
        )
        with pytest.raises(UnverifiedSenderError, match=SENDER):
            transport.send(email)


def test_an_unverified_recipient_in_the_sandbox_fails_only_that_email() -> None:
    hook = verified_ses_hook()
    transport = SesTransport(hook, sender_email=SENDER)
    email = RenderedEmail(kind="account", to=PROD.email, subject="s", html="<p>h</p>", text="t")

    with Stubber(hook.conn) as stub:
        stub.add_client_error(
            "send_raw_email",
            **ses_error(
                "Email address is not verified. The following identities failed the check "
                f"in region US-EAST-1: {PROD.email}"
            ),
        )
        with pytest.raises(NotificationError, match="sandbox") as raised:
            transport.send(email)

    assert not isinstance(raised.value, UnverifiedSenderError)
    assert PROD.email in str(raised.value)


def test_one_failing_recipient_does_not_stop_the_others_and_fails_at_the_end(
    settings: RotationSettings,
) -> None:
    broken = Account(id=PROD.id, name=PROD.name, email="not-an-address")
    stray = Account(id="999999999999", name="", email="")
    records = [
        *enforce_records(),
        record(stray, "zed", "AKIASTRAY00000000001", "DELETE", "UNUSED_EXPIRED_KEY"),
    ]

    with pytest.raises(DeliveryError) as raised:
        run(records, settings, accounts=(broken, DEV, QUIET))

    report = raised.value.report
    assert sorted(failed.to for failed in report.failed) == ["", "not-an-address"]
    message = str(raised.value)
    assert "account email to not-an-address" in message
    assert "account email to (no address)" in message
    sent_to = sorted(email.to for email in ses_sent_emails())
    assert sent_to == sorted([DEV.email, "team-a@example.com", "team-b@example.com", SENDER])
    assert sorted(sent.to for sent in report.sent) == sent_to


def test_a_broken_template_sends_nothing(settings: RotationSettings, tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    shutil.copytree(PACKAGED, folder)
    # The admin summary renders last: an error there must still stop every email.
    admin = folder / "admin_summary.txt.j2"
    admin.write_text(admin.read_text().replace("{{ accounts_evaluated }}", "{{ no_such_value }}"))

    with pytest.raises(TemplateError, match=r"'admin_summary\.txt\.j2' from folder .* undefined"):
        run(enforce_records(), settings, templates=str(folder))

    assert ses_sent_emails() == []


def test_build_transport_picks_ses_or_smtp(settings: RotationSettings) -> None:
    hook = verified_ses_hook()

    ses = build_transport(settings, ses_hook=hook)
    smtp = build_transport(
        RotationSettings(sender_email=SENDER, email_transport="smtp", smtp_conn_id="mail"),
        ses_hook=hook,
    )

    assert isinstance(ses, SesTransport)
    assert ses.sender == SENDER
    assert isinstance(smtp, SmtpTransport)
    assert smtp.sender == SENDER


def test_a_missing_sender_is_a_clear_error() -> None:
    settings = RotationSettings(sender_email="")

    with pytest.raises(NotificationError, match="sender_email is not set"):
        run(
            enforce_records(),
            settings,
            transport=build_transport(settings, ses_hook=verified_ses_hook()),
        )
