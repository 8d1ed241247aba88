"""What the safeguard, the exemptions, orphaned secrets and replica repairs say in emails."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from notification_helpers import DEV, NOW, PACKAGED, PROD, REGION, plan, record

from keyrotation.notification import render_emails
from keyrotation.notification.messages import describe_record
from keyrotation.notification.templates import load_template_source
from keyrotation.results import ActionRecord
from keyrotation.settings import RotationSettings

SECRET = f"Account_{PROD.id}_User_legacy_AccessKey"


def exempt(account, user: str, *, until: str | None, reason: str | None, source: str):
    return ActionRecord(
        account_id=account.id,
        user_name=user,
        access_key_id="",
        action="EXEMPT",
        reason="EXEMPT",
        due=None,
        outcome="exempt",
        exemption_source=source,
        exemption_reason=reason,
        exempt_until=until,
    )


def problem(account, user: str, message: str) -> ActionRecord:
    return ActionRecord(
        account_id=account.id,
        user_name=user,
        access_key_id="",
        action="EXEMPTION_PROBLEM",
        reason="EXEMPTION_PROBLEM",
        due=None,
        outcome="reported",
        error=message,
    )


def with_secret(found: ActionRecord) -> ActionRecord:
    return replace(found, secret_name=SECRET, secret_region=REGION)


def test_new_key_not_in_use_tells_where_the_new_key_is_and_until_when() -> None:
    warned = with_secret(
        record(
            PROD,
            "legacy",
            "AKIAOLDKEY0000000001",
            "WARN",
            "NEW_KEY_NOT_IN_USE",
            outcome="warned",
            due_in=timedelta(days=20),
        )
    )

    line = describe_record(warned, now=NOW)

    assert line.level == "WARNING"
    assert line.days_remaining == 20
    assert (
        f"Install the new key from secret {SECRET} ({REGION}); the old key stays active "
        "until the new one is used, at the latest until 2024-05-21 12:00 UTC." in line.text
    )
    assert "The new key has not been used yet" in line.text


def test_new_key_use_deadline_says_the_old_key_is_off_and_what_to_do() -> None:
    done = with_secret(
        record(PROD, "legacy", "AKIAOLDKEY0000000001", "DEACTIVATE", "NEW_KEY_USE_DEADLINE")
    )

    line = describe_record(done, now=NOW)

    assert line.level == "ACTION"
    assert line.text.startswith(
        "ACTION: DEACTIVATE key AKIAOLDKEY0000000001 of legacy: The new key was not used "
        "before the deadline: the old key is deactivated."
    )
    assert f"install the new key from secret {SECRET}" in line.text
    # Not a new key location: nothing was stored by this action.
    emails = plan([done], settings=RotationSettings())
    assert emails[0].context["sections"][0].new_keys == ()


def test_exemption_ending_says_the_policy_applies_again() -> None:
    warned = record(
        PROD,
        "legacy",
        "AKIAOLDKEY0000000001",
        "WARN",
        "EXEMPTION_ENDING",
        outcome="warned",
        due_in=timedelta(days=3),
    )

    line = describe_record(warned, now=NOW)

    assert "The exemption ends soon" in line.text
    assert "3 days remaining" in line.text
    assert "after the due date this key is rotated" in line.text


def test_exempt_users_and_accounts_are_listed_with_reason_and_end_date() -> None:
    records = [
        exempt(PROD, "", until="2024-06-30", reason="audit freeze", source="account tag"),
        exempt(PROD, "legacy", until="2024-05-31", reason=None, source="user tag"),
        exempt(PROD, "break-glass", until=None, reason=None, source="member of the IAM group G"),
    ]

    (email,) = plan(records, settings=RotationSettings())
    section = email.context["sections"][0]

    assert section.lines == ()
    assert [e.text for e in section.exemptions] == [
        "the whole account: exempt through 2024-06-30 (UTC); reason: audit freeze (account tag)",
        "user legacy: exempt through 2024-05-31 (UTC); no reason given (user tag)",
        "user break-glass: exempt, no end date; no reason given (member of the IAM group G)",
    ]
    assert email.subject.endswith(f"Account {PROD.id} (prod): 3 exempt")
    (rendered,) = render_emails([email], load_template_source(str(PACKAGED)))
    for body in (rendered.text, rendered.html):
        assert "Exempt from key rotation" in body
        assert "exempt through 2024-06-30 (UTC); reason: audit freeze" in body
        assert "user break-glass: exempt, no end date" in body


def test_an_exemption_problem_reaches_the_account_email_and_the_admin_summary() -> None:
    message = (
        "user legacy: tag iam-key-rotation:exempt-until = 'forever' is not a date YYYY-MM-DD; "
        "the exemption does not apply and the key policy is applied as usual"
    )
    records = [problem(DEV, "legacy", message)]

    account, admin = plan(records, settings=RotationSettings())

    assert account.to == DEV.email
    (line,) = account.context["sections"][0].lines
    assert line.level == "PROBLEM"
    assert message in line.text
    assert admin.kind == "admin"
    assert "1 exemption problem" in admin.subject
    assert admin.context["run_failed"] is False
    (rendered_account, rendered_admin) = render_emails(
        [account, admin], load_template_source(str(PACKAGED))
    )
    for body in (rendered_admin.text, rendered_admin.html):
        assert "Exemption tags that exempt nothing" in body
        assert "&#39;forever&#39;" in body or "'forever'" in body
        assert "The run is marked as failed" not in body
    assert "'forever'" in rendered_account.text


def test_the_policy_paragraph_explains_the_safeguard_when_it_is_on() -> None:
    warned = record(
        PROD, "a", "AKIAOLDKEY0000000001", "WARN", "KEY_PENDING_ROTATION", outcome="warned"
    )
    source = load_template_source(str(PACKAGED))
    (on,) = render_emails(plan([warned], settings=RotationSettings()), source)
    (off,) = render_emails(
        plan([warned], settings=RotationSettings(require_new_key_use=False)), source
    )
    assert "still unused 30 days after the rotation" in on.text
    assert "only deactivated once its new key has been used" not in off.text


def orphan(outcome: str, *, error: str | None = None, due_in: timedelta | None = None):
    return ActionRecord(
        account_id=PROD.id,
        user_name="bob",
        access_key_id="",
        action="DELETE_ORPHANED_SECRET",
        reason="DELETE_ORPHANED_SECRET",
        due=(NOW + due_in).isoformat() if due_in else None,
        outcome=outcome,
        error=error,
        secret_name=f"Account_{PROD.id}_User_bob_AccessKey",
        secret_region=REGION,
    )


def test_an_orphaned_secret_line_says_which_secret_why_and_how_to_undo() -> None:
    done = describe_record(orphan("done", due_in=timedelta(days=30)), now=NOW)
    assert done.level == "ACTION"
    assert done.text == (
        f"ACTION: scheduled the deletion of secret Account_{PROD.id}_User_bob_AccessKey "
        f"({REGION}) on 2024-05-31 12:00 UTC: IAM user bob no longer exists, so the key it "
        "holds is dead. Until then the secret can be restored (RestoreSecret)."
    )
    assert describe_record(orphan("skipped (dry run)"), now=NOW).text.startswith(
        "DRYRUN: would schedule the deletion of secret"
    )
    assert "delete_orphaned_secrets" in describe_record(orphan("reported"), now=NOW).text
    failed = describe_record(orphan("failed", error="AccessDenied"), now=NOW)
    assert failed.level == "FAILED" and "Error: AccessDenied" in failed.text
    # A deleted secret is no place to find a new key.
    (email,) = plan([orphan("done")], settings=RotationSettings())
    assert email.context["sections"][0].new_keys == ()


def replica(outcome: str, error: str | None = None) -> ActionRecord:
    return ActionRecord(
        account_id=PROD.id,
        user_name="alice",
        access_key_id="",
        action="REPAIR_REPLICA",
        reason="REPAIR_REPLICA",
        due=None,
        outcome=outcome,
        error=error,
        secret_name=f"Account_{PROD.id}_User_alice_AccessKey",
        secret_region="eu-west-1",
    )


def test_a_region_that_keeps_failing_reaches_the_account_email_and_the_admin_summary() -> None:
    failing = replica("failed", error="replication failed again: name exists")

    account, admin = plan([failing], settings=RotationSettings())

    (line,) = account.context["sections"][0].lines
    assert line.text == (
        f"FAILED: the replica of secret Account_{PROD.id}_User_alice_AccessKey in region "
        "eu-west-1 keeps failing, so applications in that region may read an old key. "
        "Error: replication failed again: name exists"
    )
    assert admin.context["failed_lines"] == [line]
    repaired = describe_record(replica("done"), now=NOW)
    assert repaired.text.startswith("ACTION: repaired the replica of secret")
