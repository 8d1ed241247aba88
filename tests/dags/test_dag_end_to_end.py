"""The real DAG, run with Airflow's ``dag.test`` against the demo organisation on moto."""

from __future__ import annotations

import copy
import email
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from deploy.demo.organization import MANAGEMENT_ACCOUNT_ID, MEMBER_ROLE_NAME, SENDER_EMAIL
from keyrotation.account_results import TaskOutput
from keyrotation.compat import ParamValidationError
from tests.airflow_support import (
    run_dag_test,
    run_xcoms,
    task_states,
    without_test_supervisor_debug,
)

DAG_SETTINGS = {
    "dry_run": False,
    "sender_email": SENDER_EMAIL,
    "member_role_name": MEMBER_ROLE_NAME,
    "owner_tag": "owner",
}


@dataclass
class RunResult:
    state: str
    task_states: dict[str, str]
    xcoms: dict[tuple[str, int, str], object]
    emails: list[email.message.Message] = field(default_factory=list)

    def records(self) -> list[dict]:
        return [
            record.to_dict()
            for (task, _, key), value in sorted(self.xcoms.items())
            if task == "rotate_account_keys" and key == "return_value" and value
            for result in TaskOutput.from_value(value).accounts
            for record in result.records
        ]

    def record(self, user: str) -> list[dict]:
        return [r for r in self.records() if r["user_name"] == user]


@pytest.fixture
def run_dag(dag, monkeypatch):
    """Run the DAG once with settings and conf; return states, XComs and new emails."""
    # No retries in a test run; monkeypatch restores them, and the params that Airflow 2's
    # dag.test overwrites with the run's conf, for the DAG integrity tests.
    monkeypatch.setattr(dag, "params", copy.deepcopy(dag.params))
    for task in dag.tasks:
        if hasattr(task, "partial_kwargs"):
            monkeypatch.setitem(task.partial_kwargs, "retries", 0)
        else:
            monkeypatch.setattr(task, "retries", 0)
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps({"conn_type": "aws"}))
    sent_before: list[int] = [0]

    def run(conf=None, settings=None, *, logical_date: datetime | None = None) -> RunResult:
        monkeypatch.setenv(
            "AIRFLOW_VAR_IAM_ACCESS_KEY_ROTATION", json.dumps({**DAG_SETTINGS, **(settings or {})})
        )
        dag_run = run_dag_test(dag, conf=conf, when=logical_date or datetime.now(UTC))
        states = task_states(dag_run)
        xcoms = run_xcoms(dag.dag_id, dag_run.run_id)
        emails = _sent_emails()
        new = emails[sent_before[0] :]
        sent_before[0] = len(emails)
        return RunResult(str(dag_run.state), states, xcoms, new)

    return run


def _sent_emails() -> list[email.message.Message]:
    from moto.ses.models import ses_backends

    messages = ses_backends[MANAGEMENT_ACCOUNT_ID]["us-east-1"].sent_messages
    return [email.message_from_string(m.raw_data) for m in messages]


def _body(message: email.message.Message) -> str:
    parts = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            parts.append(
                part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
            )
    return "\n".join(parts)


def _iam(account_id: str):
    sts = boto3.client("sts")
    creds = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/{MEMBER_ROLE_NAME}", RoleSessionName="check"
    )["Credentials"]
    return boto3.client(
        "iam",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def _keys(account_id: str, user: str) -> dict[str, str]:
    listed = _iam(account_id).list_access_keys(UserName=user)["AccessKeyMetadata"]
    return {k["AccessKeyId"]: k["Status"] for k in listed}


def _all_secret_access_keys() -> set[str]:
    from moto.iam.models import iam_backends

    secrets = set()
    for account_id in list(iam_backends.keys()):
        for user in iam_backends[account_id]["global"].users.values():
            secrets.update(key.secret_access_key for key in user.access_keys)
    return secrets


def test_enforce_run_applies_the_policy_and_notifies(moto_organization, run_dag):
    org = moto_organization
    payments, data = org.accounts["payments-prod"], org.accounts["data-prod"]
    alice_old = org.keys[(payments, "alice")][0]

    result = run_dag()

    assert result.state == "success", result.task_states
    assert result.task_states["send_notifications"] == "success"
    # Suspended accounts are not listed, so no mapped task exists for them.
    listed = {a["id"] for a in result.xcoms[("list_accounts", -1, "return_value")]}
    assert org.accounts["sandbox"] not in listed
    assert {payments, data, org.accounts["analytics-dev"]} <= listed

    (alice,) = result.record("alice")
    assert (alice["action"], alice["reason"], alice["outcome"]) == (
        "ROTATE",
        "EXPIRED_ACTIVE_KEY",
        "done",
    )
    keys = _keys(payments, "alice")
    assert keys[alice_old] == "Active"  # the old key stays for the installation grace
    assert alice["new_access_key_id"] in keys and len(keys) == 2
    assert alice["secret_name"] == f"Account_{payments}_User_alice_AccessKey"
    # Exempt: listed with what made it exempt, never touched.
    assert [r["action"] for r in result.record("break-glass")] == ["EXEMPT"]
    assert len(_keys(payments, "break-glass")) == 1
    assert [r["action"] for r in result.record("carol")] == ["DEACTIVATE"]
    assert _keys(data, "carol")[org.keys[(data, "carol")][0]] == "Inactive"

    recipients = {str(m["To"]) for m in result.emails}
    assert "payments-prod@example.com" in recipients
    assert "alice@example.com" in recipients
    # Nothing to report for the management account: no email to it.
    assert not any(MANAGEMENT_ACCOUNT_ID in str(m["Subject"]) for m in result.emails)


def test_safeguard_exemptions_and_orphaned_secrets_end_to_end(moto_organization, run_dag):
    org = moto_organization
    data, analytics = org.accounts["data-prod"], org.accounts["analytics-dev"]
    research, payments = org.accounts["research"], org.accounts["payments-prod"]

    result = run_dag()

    assert result.state == "success", result.task_states
    # kim's new key was never used: the old key stays active, kim is told what to do.
    (kim,) = result.record("kim")
    old_kim, new_kim = org.keys[(data, "kim")]
    assert (kim["action"], kim["reason"], kim["access_key_id"]) == (
        "WARN",
        "NEW_KEY_NOT_IN_USE",
        old_kim,
    )
    assert _keys(data, "kim") == {old_kim: "Active", new_kim: "Active"}
    # legacy-batch is exempt by its tag for 4 more days: untouched, its end announced.
    legacy = {r["action"]: r for r in result.record("legacy-batch")}
    assert legacy["EXEMPT"]["exemption_reason"] == "vendor certifies the new client first"
    assert legacy["WARN"]["reason"] == "EXEMPTION_ENDING"
    assert len(_keys(analytics, "legacy-batch")) == 1
    # olaf's tag says "forever": no exemption, rotated, the problem reported.
    olaf = {r["action"]: r for r in result.record("olaf")}
    assert olaf["ROTATE"]["outcome"] == "done"
    assert "'forever'" in olaf["EXEMPTION_PROBLEM"]["error"]
    # The research account is exempt by its Organizations tag: nobody in it is touched.
    research_records = [r for r in result.records() if r["account_id"] == research]
    assert [(r["user_name"], r["action"]) for r in research_records] == [("", "EXEMPT")]
    assert len(_keys(research, "peggy")) == 1
    # The secret of a deleted user is scheduled for deletion, with the recovery window.
    (orphan,) = result.record("former-contractor")
    assert (orphan["action"], orphan["outcome"]) == ("DELETE_ORPHANED_SECRET", "done")
    assert orphan["secret_name"] == org.orphaned_secrets[payments]

    bodies = {str(m["To"]): _body(m) for m in result.emails}
    assert "Install the new key from secret" in bodies["kim@example.com"]
    assert "cluster migration" in bodies["research@example.com"]
    assert "exempt through" in bodies["analytics-dev@example.com"]
    assert "forever" in bodies[SENDER_EMAIL]  # the admin summary names the bad tag


def test_dry_run_changes_nothing(moto_organization, run_dag):
    org = moto_organization
    payments = org.accounts["payments-prod"]
    before = {
        (account, user): _keys(account, user)
        for (account, user) in org.keys
        if account not in org.suspended
    }

    result = run_dag({"dry_run": True})

    assert result.state == "success", result.task_states
    after = {key: _keys(*key) for key in before}
    assert after == before
    (alice,) = result.record("alice")
    assert alice["outcome"] == "skipped (dry run)"
    assert any("AUDIT" in str(m["Subject"]).upper() for m in result.emails)
    assert payments


def test_setting_dry_run_wins_over_an_enforcing_param(moto_organization, run_dag):
    org = moto_organization
    payments = org.accounts["payments-prod"]
    before = _keys(payments, "alice")
    result = run_dag({"dry_run": False}, {"dry_run": True})
    assert result.state == "success"
    assert _keys(payments, "alice") == before


def test_force_rotation_of_one_user_in_one_account(moto_organization, run_dag):
    org = moto_organization
    analytics = org.accounts["analytics-dev"]
    result = run_dag({"force_rotate": [f"{analytics}:ci-bot"]})
    assert result.state == "success"
    (ci_bot,) = result.record("ci-bot")
    assert (ci_bot["action"], ci_bot["reason"], ci_bot["outcome"]) == (
        "ROTATE",
        "FORCED_ROTATION",
        "done",
    )
    assert len(_keys(analytics, "ci-bot")) == 2


def test_accounts_param_limits_the_run(moto_organization, run_dag):
    org = moto_organization
    data = org.accounts["data-prod"]
    payments = org.accounts["payments-prod"]
    before = _keys(payments, "alice")
    result = run_dag({"accounts": [data]})
    assert result.state == "success"
    assert [a["id"] for a in result.xcoms[("list_accounts", -1, "return_value")]] == [data]
    assert {r["account_id"] for r in result.records()} == {data}
    assert _keys(payments, "alice") == before


def test_denied_account_fails_the_run_after_the_others_complete(moto_organization, run_dag):
    from moto.iam.models import iam_backends

    org = moto_organization
    data = org.accounts["data-prod"]
    payments = org.accounts["payments-prod"]
    backend = iam_backends[data]["global"]
    backend.delete_role(MEMBER_ROLE_NAME)  # the StackSet never reached this account

    result = run_dag()

    assert result.state == "failed"
    failed = [task for task, state in result.task_states.items() if state == "failed"]
    assert any(task.startswith("rotate_account_keys") for task in failed)
    assert "send_notifications" in failed  # sends, then fails so the UI shows it
    (alice,) = result.record("alice")
    assert alice["outcome"] == "done"
    assert len(_keys(payments, "alice")) == 2
    admin = [m for m in result.emails if str(m["To"]) == SENDER_EMAIL]
    assert admin, "the admin summary goes to sender_email"
    body = _body(admin[0])
    assert data in body
    assert "AssumeRole" in body or "member-role" in body
    assert "payments-prod@example.com" in {str(m["To"]) for m in result.emails}


def test_unknown_conf_is_rejected_before_any_aws_call(moto_organization, run_dag):
    org = moto_organization
    payments = org.accounts["payments-prod"]
    before = _keys(payments, "alice")
    result = run_dag({"force_rotation": ["alice"]})  # a typo of force_rotate
    assert result.state == "failed"
    assert result.task_states["list_accounts"] == "failed"
    assert not any(k.startswith("rotate_account_keys[") for k in result.task_states)
    assert _keys(payments, "alice") == before


@pytest.mark.parametrize(
    "conf", [{"force_rotate": "alice"}, {"accounts": ["12"]}, {"dry_run": "yes"}]
)
def test_ill_typed_conf_is_rejected_when_the_run_is_created(moto_organization, run_dag, conf):
    org = moto_organization
    before = _keys(org.accounts["payments-prod"], "alice")
    with pytest.raises(ParamValidationError, match="Invalid input for param"):
        run_dag(conf)
    assert _keys(org.accounts["payments-prod"], "alice") == before


def test_bad_setting_fails_with_the_setting_named(moto_organization, run_dag, caplog):
    result = run_dag(settings={"rotation_period_days": 0})
    assert result.state == "failed"
    assert result.task_states["list_accounts"] == "failed"


def test_rerun_of_the_same_run_does_nothing_new(moto_organization, run_dag):
    org = moto_organization
    payments = org.accounts["payments-prod"]
    when = datetime.now(UTC)
    first = run_dag(logical_date=when)
    assert first.state == "success"
    keys_after_first = _keys(payments, "alice")

    second = run_dag(logical_date=when)

    assert second.state == "success"
    assert _keys(payments, "alice") == keys_after_first
    # Only what is reported on every run: warnings, exemptions and the bad exemption tag.
    assert not [
        r for r in second.records() if r["action"] not in ("WARN", "EXEMPT", "EXEMPTION_PROBLEM")
    ]


def test_no_secret_in_logs_xcoms_or_emails(moto_organization, run_dag, capfd, caplog):
    result = run_dag()
    assert result.state == "success"
    secrets = _all_secret_access_keys()
    assert secrets
    logs_dir = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    log_text = "".join(
        path.read_text(errors="replace") for path in logs_dir.rglob("*") if path.is_file()
    )
    captured = capfd.readouterr()
    haystacks = {
        "task log files": log_text,
        "captured output": without_test_supervisor_debug(captured.out + captured.err) + caplog.text,
        "xcom": json.dumps({str(k): v for k, v in result.xcoms.items()}, default=str),
        "emails": "\n".join(_body(m) for m in result.emails),
    }
    for secret in secrets:
        for where, text in haystacks.items():
            assert secret not in text, f"a secret access key leaked into {where}"


def test_accounts_beyond_max_map_length_run_in_batches(moto_organization, run_dag, monkeypatch):
    from moto.iam.models import iam_backends

    org = moto_organization
    data, payments = org.accounts["data-prod"], org.accounts["payments-prod"]
    iam_backends[data]["global"].delete_role(MEMBER_ROLE_NAME)
    monkeypatch.setenv("AIRFLOW__CORE__MAX_MAP_LENGTH", "2")

    result = run_dag()

    listed = result.xcoms[("list_accounts", -1, "return_value")]
    sizes = [len(item["accounts"]) for item in listed]
    ids = [a["id"] for item in listed for a in item["accounts"]]
    assert len(ids) == len(set(ids)) == sum(sizes) == 5  # the management account and 4 members
    assert sizes == [3, 2]
    assert [item["label"].split(" (")[1] for item in listed] == ["3 accounts)", "2 accounts)"]
    assert {data, payments} <= set(ids)
    assert org.accounts["sandbox"] not in ids  # suspended
    assert [t for t in result.task_states if t.startswith("rotate_account_keys")] == [
        "rotate_account_keys[0]",
        "rotate_account_keys[1]",
    ]
    # The denied account fails its batch, after the rest of the batch was done.
    assert result.state == "failed"
    (alice,) = result.record("alice")
    assert alice["outcome"] == "done"
    assert [r["action"] for r in result.record("erin")] == ["ROTATE_AND_DELETE"]
    admin = [m for m in result.emails if str(m["To"]) == SENDER_EMAIL]
    assert data in _body(admin[0])
    assert payments not in _body(admin[0])
    assert "payments-prod@example.com" in {str(m["To"]) for m in result.emails}


def test_every_run_leaves_an_evidence_report_of_every_key(moto_organization, run_dag, tmp_path):
    org = moto_organization
    payments = org.accounts["payments-prod"]
    before = {
        (account, user): set(_keys(account, user))
        for (account, user) in org.keys
        if account not in org.suspended
    }

    result = run_dag(settings={"report_uri": str(tmp_path / "evidence")})

    assert result.state == "success", result.task_states
    (page,) = (tmp_path / "evidence").rglob("report.html")
    folder = page.parent
    assert sorted(p.name for p in folder.iterdir()) == ["report.csv", "report.html", "report.jsonl"]
    rows = [json.loads(line) for line in (folder / "report.jsonl").read_text().splitlines()]
    reported = {(r["account_id"], r["user_name"], r["access_key_id"]) for r in rows}
    # Every key the run read live is in the report, and every key in it exists in IAM.
    after = {key: set(_keys(*key)) for key in before}
    for (account, user), keys in before.items():
        for key_id in keys & after[(account, user)]:
            if (account, user, key_id) not in reported:
                # A user the credential report showed nothing due for: listed without ids.
                assert (account, user, None) in reported, (account, user, key_id)
    (alice_old,) = [
        r
        for r in rows
        if r["user_name"] == "alice" and r["account_id"] == payments and r["action"] == "ROTATE"
    ]
    assert alice_old["outcome"] == "done"
    assert alice_old["age_days"] >= 90
    summary = result.xcoms[("send_notifications", -1, "return_value")]["report"]
    assert summary["location"] == str(folder)
    assert "Active keys younger than 90 days" in summary["headline"]
    html = page.read_text()
    for secret in _all_secret_access_keys():
        assert secret not in html and secret not in (folder / "report.csv").read_text()
