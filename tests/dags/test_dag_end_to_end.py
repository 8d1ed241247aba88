"""The real DAG, run with Airflow's ``dag.test`` against the demo organisation on moto."""

from __future__ import annotations

import email
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from deploy.demo.organization import MANAGEMENT_ACCOUNT_ID, MEMBER_ROLE_NAME, SENDER_EMAIL

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
            record
            for (task, _, key), value in sorted(self.xcoms.items())
            if task == "rotate_account_keys" and key == "return_value"
            for record in value or []
        ]

    def record(self, user: str) -> list[dict]:
        return [r for r in self.records() if r["user_name"] == user]


@pytest.fixture
def run_dag(dag, monkeypatch):
    """Run the DAG once with settings and conf; return states, XComs and new emails."""
    for task in dag.tasks:
        task.retries = 0
    if hasattr(dag.get_task("rotate_account_keys"), "partial_kwargs"):
        dag.get_task("rotate_account_keys").partial_kwargs["retries"] = 0
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps({"conn_type": "aws"}))
    sent_before: list[int] = [0]

    def run(conf=None, settings=None, *, logical_date: datetime | None = None) -> RunResult:
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        monkeypatch.setenv(
            "AIRFLOW_VAR_IAM_ACCESS_KEY_ROTATION", json.dumps({**DAG_SETTINGS, **(settings or {})})
        )
        when = logical_date or datetime.now(UTC)
        dag_run = dag.test(run_conf=conf, logical_date=when, run_after=when)
        with create_session() as session:
            tis = dag_run.get_task_instances(session=session)
            task_states = {
                ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else ""): str(ti.state)
                for ti in tis
            }
            rows = session.scalars(
                XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag.dag_id)
            ).all()
            xcoms = {
                (row.task_id, row.map_index, row.key): XComModel.deserialize_value(row)
                for row in rows
            }
        emails = _sent_emails()
        new = emails[sent_before[0] :]
        sent_before[0] = len(emails)
        return RunResult(str(dag_run.state), task_states, xcoms, new)

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
    assert not result.record("break-glass")  # exempt
    assert [r["action"] for r in result.record("carol")] == ["DEACTIVATE"]
    assert _keys(data, "carol")[org.keys[(data, "carol")][0]] == "Inactive"

    recipients = {str(m["To"]) for m in result.emails}
    assert "payments-prod@example.com" in recipients
    assert "alice@example.com" in recipients
    # Nothing to report for the management account: no email to it.
    assert not any(MANAGEMENT_ACCOUNT_ID in str(m["Subject"]) for m in result.emails)


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
    from airflow.sdk.exceptions import ParamValidationError

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
    assert not [r for r in second.records() if r["action"] != "WARN"]


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
        "captured output": captured.out + captured.err + caplog.text,
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
    assert len(listed) == 2  # four active accounts, two batches of two
    assert all(item["label"].endswith("(2 accounts)") for item in listed)
    assert {a["id"] for item in listed for a in item["accounts"]} >= {data, payments}
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
