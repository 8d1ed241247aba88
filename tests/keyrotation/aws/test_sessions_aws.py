from __future__ import annotations

import json

import pytest
from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

from keyrotation.aws.sessions import AccountAccessError, AccountSessions


def connection_hook(monkeypatch, **extra) -> AwsBaseHook:
    connection = {"conn_type": "aws", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_UNDER_TEST", json.dumps(connection))
    return AwsBaseHook(aws_conn_id="aws_under_test", client_type="sts")


def test_every_client_gets_the_connections_endpoint_region_and_tls_settings(monkeypatch):
    hook = connection_hook(
        monkeypatch,
        endpoint_url="http://127.0.0.1:4566",
        region_name="eu-west-3",
        verify=False,
        config_kwargs={"connect_timeout": 7},
    )
    sessions = AccountSessions(hook)

    for service in ("sts", "iam", "organizations", "secretsmanager"):
        client = sessions.client(service)
        assert client.meta.endpoint_url == "http://127.0.0.1:4566"
        assert client.meta.region_name == "eu-west-3"
        assert client.meta.config.connect_timeout == 7
        assert client._endpoint.http_session._verify is False
    assert sessions.region_name == "eu-west-3"


def test_a_service_specific_endpoint_of_the_connection_wins(monkeypatch):
    hook = connection_hook(
        monkeypatch,
        endpoint_url="http://127.0.0.1:4566",
        service_config={"iam": {"endpoint_url": "http://127.0.0.1:9999"}},
    )
    sessions = AccountSessions(hook)

    assert sessions.client("iam").meta.endpoint_url == "http://127.0.0.1:9999"
    assert sessions.client("sts").meta.endpoint_url == "http://127.0.0.1:4566"


def test_retries_are_adaptive_by_default(monkeypatch):
    sessions = AccountSessions(connection_hook(monkeypatch, region_name="us-east-1"))

    retries = sessions.client("iam").meta.config.retries
    assert retries["mode"] == "adaptive"
    assert retries["total_max_attempts"] == 11  # the first call and 10 retries


def test_a_retry_policy_of_the_connection_is_respected(monkeypatch):
    hook = connection_hook(
        monkeypatch, config_kwargs={"retries": {"mode": "standard", "max_attempts": 3}}
    )

    retries = AccountSessions(hook).client("iam").meta.config.retries

    assert retries == {"mode": "standard", "total_max_attempts": 4}


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("us-east-1", "aws"),
        ("eu-central-1", "aws"),
        ("us-gov-west-1", "aws-us-gov"),
        ("cn-north-1", "aws-cn"),
    ],
)
def test_partition_and_role_arns_follow_the_region(monkeypatch, region, partition):
    sessions = AccountSessions(connection_hook(monkeypatch, region_name=region))

    assert sessions.partition == partition
    assert sessions.role_arn("111111111111", "member") == (
        f"arn:{partition}:iam::111111111111:role/member"
    )


def test_region_falls_back_to_the_base_session_then_us_east_1(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-2")
    assert AccountSessions(connection_hook(monkeypatch)).region_name == "ap-southeast-2"
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert AccountSessions(connection_hook(monkeypatch)).region_name == "us-east-1"


def test_assumed_role_acts_in_the_account_with_a_recognisable_session_name(sessions, member):
    account = member()

    session = sessions.assume_role(account.id, "iam-key-rotation-member-role", purpose="rotation")

    identity = sessions.client("sts", session).get_caller_identity()
    assert identity["Account"] == account.id
    assert identity["Arn"] == (
        f"arn:aws:sts::{account.id}:assumed-role/iam-key-rotation-member-role/"
        f"iam-key-rotation-rotation"
    )
    # moto keeps IAM per account: the session sees the member account's IAM.
    sessions.client("iam", session).create_user(UserName="only-here")
    assert "only-here" in {u["UserName"] for u in account.iam().list_users()["Users"]}
    base_users = sessions.client("iam").list_users()["Users"]
    assert "only-here" not in {u["UserName"] for u in base_users}


def test_assumed_role_credentials_refresh_before_they_expire(sessions, member):
    account = member()
    session = sessions.assume_role(account.id, "iam-key-rotation-member-role", purpose="rotation")

    credentials = session.get_credentials()

    assert credentials.method == "sts-assume-role"
    assert credentials.refresh_needed() is False
    calls_before = sessions.calls.count("AssumeRole")
    credentials._expiry_time = credentials._expiry_time.replace(year=2000)
    assert credentials.get_frozen_credentials().access_key
    assert sessions.calls.count("AssumeRole") == calls_before + 1


def test_access_denied_on_assume_role_says_what_to_deploy_where(sessions, member):
    account = member()

    with pytest.raises(AccountAccessError) as raised:
        sessions.assume_role(account.id, "role-never-deployed", purpose="rotation")

    message = str(raised.value)
    assert account.id in message
    assert f"arn:aws:iam::{account.id}:role/role-never-deployed" in message
    assert "AccessDenied" in message
    assert "deploy/cloudformation/member-role.yaml" in message
    assert "StackSet" in message
    assert raised.value.account_id == account.id
    assert raised.value.denied  # the rotation task fails without retries
