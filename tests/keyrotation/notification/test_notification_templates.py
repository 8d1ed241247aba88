"""The packaged templates, operators' own templates (folder and S3), and template errors."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from notification_helpers import (
    CHANGES,
    DEV,
    PACKAGED,
    PROD,
    SECRET_LIKE,
    SENDER,
    SPEC_WORDS,
    WARNINGS,
    enforce_records,
    plan,
    record,
)

from keyrotation.notification import TEMPLATE_NAMES, render_emails
from keyrotation.notification.errors import TemplateError
from keyrotation.notification.templates import (
    TEMPLATES_DIR_ENV,
    default_templates_dir,
    load_template_source,
)
from keyrotation.results import Account, ActionRecord
from keyrotation.settings import RotationSettings


def render(records, *, settings, dry_run=False, failures=None, accounts=(PROD, DEV), source=None):
    planned = plan(
        records, settings=settings, dry_run=dry_run, failures=failures, accounts=accounts
    )
    return render_emails(planned, source or load_template_source(str(PACKAGED)))


def every_kind(*, dry_run: bool) -> list[ActionRecord]:
    outcome = "skipped (dry run)" if dry_run else "done"
    records = [
        record(PROD, f"user{i}", f"AKIACHANGE{i:010d}", action, reason, outcome=outcome)
        for i, (action, reason) in enumerate(CHANGES)
    ]
    records += [
        record(
            PROD,
            f"warned{i}",
            f"AKIAWARNED{i:010d}",
            "WARN",
            reason,
            outcome="warned",
            due_in=timedelta(days=i + 1),
        )
        for i, reason in enumerate(sorted(WARNINGS))
    ]
    return records


@pytest.mark.parametrize("dry_run", [False, True], ids=["enforce", "audit"])
def test_every_action_and_warning_kind_renders_in_text_and_html(
    settings: RotationSettings, dry_run: bool
) -> None:
    (email,) = render(every_kind(dry_run=dry_run), settings=settings, dry_run=dry_run)

    text_lines = email.text.splitlines()
    for i, (action, reason) in enumerate(CHANGES):
        prefix = f"DRYRUN: would {action}" if dry_run else f"ACTION: {action}"
        expected = f"- {prefix} key AKIACHANGE{i:010d} of user{i}: {SPEC_WORDS[reason]}"
        assert expected in text_lines
        assert f"{action} key AKIACHANGE{i:010d} of user{i}: {SPEC_WORDS[reason]}" in email.html
    for i, reason in enumerate(sorted(WARNINGS)):
        level, what_to_do = WARNINGS[reason]
        (line,) = [line for line in text_lines if f"AKIAWARNED{i:010d}" in line]
        assert line.startswith(f"- {level}: key AKIAWARNED{i:010d} of warned{i}: ")
        days = "1 day" if i == 0 else f"{i + 1} days"
        assert f"{days} remaining" in line
        assert what_to_do in line
    assert ("no key was changed" in email.text) is dry_run
    for html_level in ("DRYRUN" if dry_run else "ACTION", "WARNING", "CRITICAL"):
        assert f">{html_level}</strong>" in email.html


def test_the_account_email_carries_what_the_runbook_email_carries(
    settings: RotationSettings,
) -> None:
    email = render(enforce_records(), settings=settings)[0]

    for body in (email.text, email.html):
        assert "AWS Standard (aws)" in body  # partition
        assert "111111111111" in body
        assert "prod" in body
        assert "2024-05-01 12:00 UTC" in body  # time of detection
        assert "rotated 90 days after" in body  # rotation period
        assert "active for 10 days" in body  # installation grace
        assert "permanently deleted 10 days later" in body  # recovery grace
        assert "iam-key-rotation/alice" in body
        assert "us-east-1" in body
        assert SENDER in body  # whom to ask
    assert (
        "- FAILED: could not DEACTIVATE key AKIAPRODCAROL0000001 of carol: Installation grace "
        "period has ended. Error: AccessDenied: not allowed to UpdateAccessKey"
    ) in email.text.splitlines()


def test_hostile_names_and_tag_values_are_escaped_in_html(settings: RotationSettings) -> None:
    hostile = Account(
        id="666666666666", name="<b onmouseover=alert(1)>x</b>", email="h@example.com"
    )
    records = [
        record(
            hostile,
            "<script>alert(1)</script>",
            "AKIAHOSTILE000000001",
            "WARN",
            "KEY_PENDING_ROTATION",
            outcome="warned",
            due_in=timedelta(days=2),
            owner="<img src=x onerror=alert(2)>",
        ),
        record(
            hostile,
            "eve",
            "AKIAHOSTILE000000002",
            "DELETE",
            "UNUSED_EXPIRED_KEY",
            outcome="failed",
            error="<iframe src=evil>",
        ),
    ]

    emails = render(records, settings=settings, accounts=[hostile])

    assert [email.kind for email in emails] == ["account", "admin"]
    for email in emails:
        for raw in ("<script", "<img", "<iframe", "<b onmouseover"):
            assert raw not in email.html
    account_html = emails[0].html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in account_html
    assert "&lt;img src=x onerror=alert(2)&gt;" in account_html
    assert "&lt;b onmouseover=alert(1)&gt;x&lt;/b&gt;" in account_html
    assert "&lt;iframe src=evil&gt;" in emails[1].html
    # Plain text is not HTML: it shows the values as they are.
    assert "<script>alert(1)</script>" in emails[0].text


@pytest.mark.parametrize("dry_run", [False, True], ids=["enforce", "audit"])
def test_no_rendered_email_contains_anything_like_a_secret_access_key(
    settings: RotationSettings, dry_run: bool
) -> None:
    records = every_kind(dry_run=dry_run) + enforce_records()

    emails = render(records, settings=settings, dry_run=dry_run, failures={DEV.id: "boom"})

    assert {email.kind for email in emails} == {"account", "owner", "admin"}
    for email in emails:
        for body in (email.subject, email.text, email.html):
            assert SECRET_LIKE.findall(body) == []


def test_the_detector_would_see_a_secret_if_one_got_in() -> None:
    # The check above is only worth something if it catches a real key's shape.
    # Assembled at run time, so that no key-shaped string is committed.
    example = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
    assert SECRET_LIKE.findall(f"key: {example}.") == [example]


@pytest.fixture
def own_templates(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    shutil.copytree(PACKAGED, folder)
    return folder


def test_an_operators_folder_is_used(settings: RotationSettings, own_templates: Path) -> None:
    (own_templates / "enforce.txt.j2").write_text(
        "Hello {{ recipient }}\n{% for s in sections %}{% for l in s.lines %}{{ l.text }}\n"
        "{% endfor %}{% endfor %}"
    )

    (email, *_) = render(
        enforce_records(), settings=settings, source=load_template_source(str(own_templates))
    )

    assert email.text.startswith("Hello prod-root@example.com\nACTION: ROTATE key AKIAPROD")


@pytest.mark.parametrize(
    ("template", "content", "expected"),
    [
        ("enforce.html.j2", "{% if %}", r"'enforce\.html\.j2' .* syntax error on line 1"),
        ("_macros.txt.j2", "{% macro x( %}", r"'_macros\.txt\.j2' .* syntax error on line 1"),
        ("enforce.txt.j2", None, r"'enforce\.txt\.j2' was not found in folder "),
        ("base.html.j2", None, r"'base\.html\.j2' was not found in folder "),
        ("admin_summary.txt.j2", None, r"'admin_summary\.txt\.j2' was not found in folder "),
        ("enforce.txt.j2", "{{ no_such_value }}", r"'enforce\.txt\.j2' .* undefined value"),
        (
            "enforce.txt.j2",
            "{% extends 'base.txt.j2' %}{% set title = 'T' %}"
            "{% block content %}{{ sections[0].nope }}{% endblock %}",
            r"'enforce\.txt\.j2' .* undefined value: .*nope",
        ),
        ("enforce.txt.j2", "{{ ''.__class__.__mro__ }}", r"'enforce\.txt\.j2' .* failed to render"),
    ],
    ids=[
        "syntax",
        "syntax-in-macros",
        "missing",
        "missing-base",
        "missing-admin",
        "undefined",
        "undefined-attribute",
        "sandboxed",
    ],
)
def test_a_broken_template_is_a_clear_error_naming_template_and_source(
    settings: RotationSettings,
    own_templates: Path,
    template: str,
    content: str | None,
    expected: str,
) -> None:
    if content is None:
        (own_templates / template).unlink()
    else:
        (own_templates / template).write_text(content)
    source = load_template_source(str(own_templates))

    def check_then_render() -> None:  # what the notification step does before sending
        source.check(TEMPLATE_NAMES)
        render(enforce_records(), settings=settings, failures={DEV.id: "x"}, source=source)

    with pytest.raises(TemplateError, match=expected) as raised:
        check_then_render()

    assert f"folder {own_templates}" in str(raised.value)


def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=f"folder {tmp_path / 'nope'} does not exist"):
        load_template_source(str(tmp_path / "nope"))


def test_the_packaged_templates_are_complete_and_compile() -> None:
    load_template_source("").check(TEMPLATE_NAMES)


def test_default_folder_is_the_env_var_then_airflow_home_then_the_repository(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(TEMPLATES_DIR_ENV, raising=False)
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    assert default_templates_dir() == PACKAGED

    in_home = tmp_path / "airflow" / "include" / "email_templates"
    in_home.mkdir(parents=True)
    assert default_templates_dir() == in_home

    monkeypatch.setenv(TEMPLATES_DIR_ENV, str(tmp_path / "explicit"))
    assert default_templates_dir() == tmp_path / "explicit"


def test_html_is_autoescaped_and_text_is_not(own_templates: Path) -> None:
    (own_templates / "probe.html.j2").write_text("{{ value }}")
    (own_templates / "probe.txt.j2").write_text("{{ value }}")
    source = load_template_source(str(own_templates))

    assert source.render("probe.html.j2", {"value": "<a&b>"}) == "&lt;a&amp;b&gt;"
    assert source.render("probe.txt.j2", {"value": "<a&b>"}) == "<a&b>"


BUCKET = "operator-templates"


def upload_templates(prefix: str, *, skip: str = "", replace: dict[str, str] | None = None):
    """The packaged templates copied to a moto bucket under ``prefix``, as an operator would."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id=None)
    if not hook.check_for_bucket(BUCKET):
        hook.create_bucket(bucket_name=BUCKET)
    for path in PACKAGED.iterdir():
        if path.name == skip:
            continue
        text = (replace or {}).get(path.name, path.read_text())
        hook.load_string(text, key=f"{prefix}{path.name}", bucket_name=BUCKET, replace=True)
    return hook


@pytest.mark.usefixtures("aws")
def test_templates_are_read_from_s3(settings: RotationSettings) -> None:
    original = (PACKAGED / "enforce.txt.j2").read_text()
    hook = upload_templates(
        "custom/mail/",
        replace={"enforce.txt.j2": original.replace("{% block intro %}", "{% block intro %}S3!\n")},
    )

    source = load_template_source(f"s3://{BUCKET}/custom/mail", s3_hook_factory=lambda: hook)
    source.check(TEMPLATE_NAMES)
    (email, *_) = render(enforce_records(), settings=settings, source=source)

    assert source.description == f"s3://{BUCKET}/custom/mail/"
    assert "\nS3!\n" in email.text
    assert "ACTION: ROTATE key AKIAPRODALICE0000001 of alice" in email.text


@pytest.mark.usefixtures("aws")
def test_a_template_missing_from_s3_is_a_clear_error() -> None:
    hook = upload_templates("mail/", skip="audit.html.j2")

    source = load_template_source(f"s3://{BUCKET}/mail/", s3_hook_factory=lambda: hook)

    with pytest.raises(
        TemplateError, match=rf"'audit\.html\.j2' was not found in s3://{BUCKET}/mail/"
    ):
        source.check(TEMPLATE_NAMES)


@pytest.mark.usefixtures("aws")
def test_an_unreadable_s3_source_is_a_clear_error() -> None:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    source = load_template_source("s3://no-such-bucket/mail/", s3_hook_factory=lambda: S3Hook())

    with pytest.raises(TemplateError, match=r"s3://no-such-bucket/mail/enforce\.html\.j2"):
        source.check(TEMPLATE_NAMES)


def test_a_template_name_cannot_leave_the_s3_prefix() -> None:
    source = load_template_source("s3://bucket/mail/", s3_hook_factory=lambda: None)  # type: ignore[arg-type,return-value]

    with pytest.raises(TemplateError, match=r"'\.\./secret\.txt\.j2' was not found"):
        source.render("../secret.txt.j2", {})


def test_an_action_held_back_by_the_approval_gate_renders_as_not_approved(
    settings: RotationSettings,
) -> None:
    held = [
        record(
            PROD,
            "alice",
            "AKIAHELDBACK00000001",
            "DELETE",
            "UNUSED_EXPIRED_KEY",
            outcome="not approved",
            error="not in the approved plan: left for the next run",
        ),
        ActionRecord(
            account_id=PROD.id,
            user_name="gone",
            access_key_id="",
            action="DELETE_ORPHANED_SECRET",
            reason="DELETE_ORPHANED_SECRET",
            due=None,
            outcome="not approved",
            error="rejected by alice",
            secret_name="Account_111111111111_User_gone_AccessKey",
            secret_region="us-east-1",
        ),
    ]

    (email,) = render(held, settings=settings, accounts=(PROD,))

    assert (
        "- NOT APPROVED: would DELETE key AKIAHELDBACK00000001 of alice: "
        f"{SPEC_WORDS['UNUSED_EXPIRED_KEY']} This change was not approved (not in the approved "
        "plan: left for the next run)."
    ) in email.text.splitlines()
    (orphan,) = [line for line in email.text.splitlines() if "User_gone" in line]
    assert orphan.startswith("- NOT APPROVED: would schedule the deletion of secret")
    assert orphan.endswith("This change was not approved (rejected by alice).")
    assert ">NOT APPROVED</strong>" in email.html
    assert "not approved" in email.html
    assert "2 not approved" in email.subject
