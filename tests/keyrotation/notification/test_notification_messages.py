"""Who gets which email and what each line says (pure: no templates, no AWS)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from notification_helpers import (
    CHANGES,
    DEV,
    NOW,
    PROD,
    QUIET,
    SENDER,
    SPEC_WORDS,
    WARNINGS,
    enforce_records,
    plan,
    record,
)

from keyrotation.notification.context import AccountSection
from keyrotation.notification.messages import plan_emails
from keyrotation.notification.wording import days_remaining, describe_record
from keyrotation.results import Account, ActionRecord
from keyrotation.settings import RotationSettings


@pytest.mark.parametrize(("action", "reason"), CHANGES)
def test_a_change_made_is_an_action_line_with_the_spec_words(action: str, reason: str) -> None:
    line = describe_record(record(PROD, "alice", "AKIAEXAMPLE000000001", action, reason), now=NOW)

    assert line.level == "ACTION"
    assert line.text == f"ACTION: {action} key AKIAEXAMPLE000000001 of alice: {SPEC_WORDS[reason]}"


@pytest.mark.parametrize(("action", "reason"), CHANGES)
def test_a_change_in_audit_mode_is_a_dryrun_line(action: str, reason: str) -> None:
    line = describe_record(
        record(PROD, "alice", "AKIAEXAMPLE000000001", action, reason, outcome="skipped (dry run)"),
        now=NOW,
    )

    assert line.text == (
        f"DRYRUN: would {action} key AKIAEXAMPLE000000001 of alice: {SPEC_WORDS[reason]}"
    )


@pytest.mark.parametrize("reason", sorted(WARNINGS))
def test_a_warning_says_its_level_days_remaining_and_what_to_do(reason: str) -> None:
    level, what_to_do = WARNINGS[reason]
    warned = record(
        PROD,
        "bob",
        "AKIAEXAMPLE000000002",
        "WARN",
        reason,
        outcome="warned",
        due_in=timedelta(days=5),
    )

    line = describe_record(warned, now=NOW)

    assert line.level == level
    assert line.days_remaining == 5
    assert line.text.startswith(
        f"{level}: key AKIAEXAMPLE000000002 of bob: {SPEC_WORDS[reason]} "
        "5 days remaining (due 2024-05-06 12:00 UTC). "
    )
    assert what_to_do in line.text


def test_a_failed_change_is_a_failed_line_with_its_error() -> None:
    failed = record(
        PROD,
        "carol",
        "AKIAEXAMPLE000000003",
        "DEACTIVATE",
        "INSTALL_GRACE_PERIOD_END",
        outcome="failed",
        error="AccessDenied: no",
    )

    assert describe_record(failed, now=NOW).text == (
        "FAILED: could not DEACTIVATE key AKIAEXAMPLE000000003 of carol: "
        "Installation grace period has ended. Error: AccessDenied: no"
    )


def test_a_rotation_says_where_the_new_key_is_and_never_more() -> None:
    rotated = record(
        PROD,
        "alice",
        "AKIAEXAMPLE000000001",
        "ROTATE",
        "EXPIRED_ACTIVE_KEY",
        secret=True,
        new_key="AKIAEXAMPLE00000NEW1",
    )

    assert describe_record(rotated, now=NOW).text == (
        "ACTION: ROTATE key AKIAEXAMPLE000000001 of alice: Active key has expired. "
        "The new key AKIAEXAMPLE00000NEW1 is stored in secret iam-key-rotation/alice (us-east-1)."
    )


@pytest.mark.parametrize(
    ("remaining", "days"),
    [
        (timedelta(days=3, hours=13), 4),
        (timedelta(days=3, hours=11), 3),
        (timedelta(hours=6), 0),
        (timedelta(days=7), 7),
    ],
)
def test_days_remaining_are_rounded_whole_days(remaining: timedelta, days: int) -> None:
    assert days_remaining(NOW + remaining, NOW) == days


def test_one_email_per_account_with_something_to_report_and_none_for_a_quiet_one(
    settings: RotationSettings,
) -> None:
    emails = plan(enforce_records(), settings=settings)

    account_emails = [email for email in emails if email.kind == "account"]
    assert [email.to for email in account_emails] == [PROD.email, DEV.email]
    assert QUIET.email not in {email.to for email in emails}
    assert account_emails[0].subject == (
        "[IAM key rotation] Account 111111111111 (prod): 2 actions, 1 warning, 1 failed"
    )
    assert account_emails[1].subject == "[IAM key rotation] Account 222222222222 (dev): 1 warning"


def test_a_run_with_nothing_to_report_plans_no_email(settings: RotationSettings) -> None:
    assert plan([], settings=settings) == []


def test_audit_mode_uses_the_audit_template_and_says_so_in_the_subject(
    settings: RotationSettings,
) -> None:
    records = [
        record(
            PROD,
            "alice",
            "AKIAEXAMPLE000000001",
            "ROTATE",
            "EXPIRED_ACTIVE_KEY",
            outcome="skipped (dry run)",
        ),
    ]

    (email,) = plan(records, settings=settings, dry_run=True)

    assert email.template == "audit"
    assert email.subject == "[IAM key rotation AUDIT] Account 111111111111 (prod): 1 action"


def test_an_owner_email_lists_only_that_owners_users_grouped_by_account(
    settings: RotationSettings,
) -> None:
    emails = plan(enforce_records(), settings=settings)

    owners = {email.to: email for email in emails if email.kind == "owner"}
    # Owner addresses are grouped case-insensitively, under their first spelling.
    assert set(owners) == {"team-a@example.com", "team-b@example.com"}

    team_a: list[AccountSection] = owners["team-a@example.com"].context["sections"]
    assert [section.account_id for section in team_a] == [PROD.id, DEV.id]
    assert {line.user_name for line in team_a[0].lines} == {"alice"}
    assert {line.user_name for line in team_a[1].lines} == {"dave"}
    team_b: list[AccountSection] = owners["team-b@example.com"].context["sections"]
    assert [(s.account_id, [line.user_name for line in s.lines]) for s in team_b] == [
        (PROD.id, ["bob"])
    ]
    assert owners["team-a@example.com"].subject == (
        "[IAM key rotation] Access keys of your IAM users: 2 actions, 1 warning"
    )


def test_an_owner_tag_that_is_not_an_address_gets_no_email(settings: RotationSettings) -> None:
    records = [
        record(
            PROD,
            "alice",
            "AKIAEXAMPLE000000001",
            "ROTATE",
            "EXPIRED_ACTIVE_KEY",
            owner="platform team",
        ),
    ]

    assert [email.kind for email in plan(records, settings=settings)] == ["account"]


def test_the_admin_summary_lists_failed_accounts_and_failed_actions(
    settings: RotationSettings,
) -> None:
    emails = plan(
        enforce_records(), settings=settings, failures={"444444444444": "AssumeRole: denied"}
    )

    (admin,) = [email for email in emails if email.kind == "admin"]
    assert admin.to == SENDER  # no admin_email: the sender gets it
    assert admin.template == "admin_summary"
    assert admin.subject == (
        "[IAM key rotation] Run needs attention: 1 failed account, 1 failed action"
    )
    assert [(a.account_id, a.error) for a in admin.context["failed_accounts"]] == [
        ("444444444444", "AssumeRole: denied")
    ]
    assert [line.user_name for line in admin.context["failed_lines"]] == ["carol"]


def test_the_admin_summary_goes_to_admin_email_when_set() -> None:
    settings = RotationSettings(sender_email=SENDER, admin_email="admins@example.com")

    emails = plan([], settings=settings, failures={PROD.id: "boom"})

    assert [(email.kind, email.to) for email in emails] == [("admin", "admins@example.com")]
    assert emails[0].context["failed_accounts"][0].account_name == "prod"


def test_no_admin_summary_when_nothing_failed(settings: RotationSettings) -> None:
    records = [r for r in enforce_records() if not r.failed]

    assert "admin" not in {email.kind for email in plan(records, settings=settings)}


def test_records_of_an_account_missing_from_the_inventory_are_planned_without_address(
    settings: RotationSettings,
) -> None:
    stray = Account(id="999999999999", name="", email="")
    records = [record(stray, "zed", "AKIAEXAMPLE000000009", "DELETE", "UNUSED_EXPIRED_KEY")]

    (email,) = plan(records, settings=settings, accounts=[PROD])

    assert email.to == ""  # delivery reports it instead of dropping it
    assert email.subject == "[IAM key rotation] Account 999999999999: 1 action"


def test_the_context_carries_partition_time_and_the_policy_periods() -> None:
    settings = RotationSettings(
        sender_email=SENDER,
        rotation_period_days=60,
        installation_grace_days=5,
        recovery_grace_days=3,
        warning_days=4,
    )
    records: list[ActionRecord] = [
        record(PROD, "alice", "AKIAEXAMPLE000000001", "ROTATE", "FORCED_ROTATION")
    ]

    (email,) = plan_emails(
        accounts=[PROD],
        records=records,
        failures={},
        settings=settings,
        dry_run=False,
        now=NOW,
        partition="aws-us-gov",
        sender=SENDER,
    )

    context = email.context
    assert context["partition_name"] == "AWS GovCloud (US)"
    assert context["detected_at"] == "2024-05-01 12:00 UTC"
    assert (
        context["rotation_period_days"],
        context["installation_grace_days"],
        context["recovery_grace_days"],
    ) == (60, 5, 3)
    assert context["sender_email"] == SENDER


def test_subjects_carry_no_line_breaks(settings: RotationSettings) -> None:
    odd = Account(id="555555555555", name="evil\r\nBcc: victim@example.com", email="o@example.com")
    records = [record(odd, "alice", "AKIAEXAMPLE000000001", "DELETE", "UNUSED_EXPIRED_KEY")]

    (email,) = plan(records, settings=settings, accounts=[odd])

    assert "\n" not in email.subject
    assert "\r" not in email.subject
