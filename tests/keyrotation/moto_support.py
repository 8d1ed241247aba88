"""moto fixtures for the AWS layer and the rotation: an organisation, instrumented
sessions, key ageing. The conftest.py of each test folder that needs them imports them.

The organisation is seeded with the demo's boto3-only seeding (``deploy.demo``), with
AssumeRole denied where the member role is missing, as in AWS. ``RecordingSessions``
records every call of every client the code under test creates and can make any
operation fail.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, partial
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.client import BaseClient
from moto import mock_aws

from deploy.demo.moto_access import assume_role_requires_role
from deploy.demo.organization import (
    MANAGEMENT_ACCOUNT_ID,
    REGION,
    DemoAccount,
    DemoKey,
    DemoUser,
    SeededOrganization,
    age_key_in_moto,
    seed_organization,
)
from keyrotation.aws.sessions import SERVICE_MODEL_LOADER, AccountSessions
from keyrotation.results import Account
from keyrotation.settings import RotationSettings

__all__ = [
    "MANAGEMENT_ACCOUNT_ID",
    "DemoAccount",
    "DemoKey",
    "DemoUser",
    "Member",
    "RecordingSessions",
]

READ_PREFIXES = ("List", "Get", "Describe", "Generate")
ClientFactory = Callable[[str], Any]


def _session(region: str = REGION, **credentials: str) -> boto3.Session:
    core = botocore.session.Session()
    core.register_component("data_loader", SERVICE_MODEL_LOADER)
    return boto3.Session(botocore_session=core, region_name=region, **credentials)


def base_clients(region: str = REGION) -> ClientFactory:
    """Clients with the base credentials, those of the management account."""
    return cache(_session(region).client)


def clients_in(account_id: str, region: str = REGION) -> ClientFactory:
    """Clients acting in ``account_id``, through the role AWS Organizations creates."""
    credentials = base_clients(region)("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole",
        RoleSessionName="test-setup",
    )["Credentials"]
    session = _session(
        region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    return cache(session.client)


class _Body:
    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._content


def error_response(protocol: str, code: str, status: int = 400) -> AWSResponse:
    """An AWS error answer in the wire format of ``protocol``, for botocore to parse."""
    if protocol == "query":
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{code}</Code><Message>injected {code}</Message>"
            "</Error><RequestId>injected</RequestId></ErrorResponse>"
        ).encode()
        headers = {"Content-Type": "text/xml"}
    elif protocol == "json":
        body = json.dumps({"__type": code, "message": f"injected {code}"}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1"}
    else:  # pragma: no cover - no other protocol is used here
        raise ValueError(protocol)
    return AWSResponse("https://injected.invalid", status, headers, _Body(body))


class RecordingSessions(AccountSessions):
    """AccountSessions whose clients record their calls and fail on demand.

    ``faults`` maps an operation name to an error code (AWS answers with that error; the
    request never reaches moto) or to an exception instance (raised instead of sending).
    """

    def __init__(self, hook: Any) -> None:
        super().__init__(hook)
        # The hook's session is new for every test: let it share the loaded models.
        self._base_session._session.register_component("data_loader", SERVICE_MODEL_LOADER)
        self.calls: list[str] = []
        self.params: list[tuple[str, dict[str, Any]]] = []
        self.faults: dict[str, str | BaseException] = {}
        self.stub_clients: dict[str, BaseClient] = {}

    def client(
        self,
        service: str,
        session: boto3.Session | None = None,
        region_name: str | None = None,
    ) -> BaseClient:
        if service in self.stub_clients:
            return self.stub_clients[service]
        client = super().client(service, session, region_name)
        client.meta.events.register("before-call", self._record)
        client.meta.events.register("before-parameter-build", self._record_params)
        # First, so it runs before moto's own before-send handler answers.
        client.meta.events.register_first(
            "before-send", partial(self._inject, client.meta.service_model.protocol)
        )
        return client

    def mutating_calls(self) -> list[str]:
        return [c for c in self.calls if not c.startswith(READ_PREFIXES)]

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    def _record_params(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.params.append((model.name, dict(params)))

    def _inject(self, protocol: str, event_name: str, request: Any, **_: Any) -> AWSResponse | None:
        fault = self.faults.get(event_name.rsplit(".", 1)[-1])
        if fault is None:
            return None
        if isinstance(fault, BaseException):
            raise fault
        # botocore calls every before-send handler: send moto's elsewhere, so that the
        # request is not carried out behind the injected answer.
        request.url = "https://injected.invalid/"
        return error_response(protocol, fault)


@dataclass
class Member:
    """A member account seen from the test: boto3 clients acting in it."""

    account: Account
    clients: Callable[[str], Any]
    seeded_keys: dict[str, list[str]]

    @property
    def id(self) -> str:
        return self.account.id

    def iam(self) -> Any:
        return self.clients("iam")

    def secrets(self, region: str = REGION) -> Any:
        return (
            self.clients("secretsmanager")
            if region == REGION
            else clients_in(self.id, region)("secretsmanager")
        )

    def keys(self, user_name: str) -> dict[str, str]:
        """Access key id -> status."""
        listed = self.iam().list_access_keys(UserName=user_name)["AccessKeyMetadata"]
        return {k["AccessKeyId"]: k["Status"] for k in listed}


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def moto() -> Iterator[None]:
    with mock_aws(), assume_role_requires_role():
        yield


@pytest.fixture
def hook(moto: None) -> Any:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    # No connection: boto3's default credentials, the fake ones of tests/conftest.py.
    return AwsBaseHook(aws_conn_id=None, client_type="sts")


@pytest.fixture
def sessions(hook: Any) -> RecordingSessions:
    return RecordingSessions(hook)


@pytest.fixture
def age(now: datetime) -> Callable[..., None]:
    """age(account_id, user, key_id, age_days, last_used_days_ago=None): in-process moto."""
    aging = age_key_in_moto(now)

    def age_key(
        account_id: str,
        user_name: str,
        key_id: str,
        age_days: float,
        last_used_days_ago: float | None = None,
    ) -> None:
        aging(account_id, user_name, key_id, DemoKey(age_days, last_used_days_ago))

    return age_key


@pytest.fixture
def seed(moto: None, now: datetime) -> Callable[..., SeededOrganization]:
    """seed(*accounts): an organisation with the given accounts, keys aged as specified."""

    def seed_accounts(*accounts: DemoAccount) -> SeededOrganization:
        return seed_organization(
            base_clients(),
            clients_in,
            accounts=tuple(accounts),
            age_keys=age_key_in_moto(now),
        )

    return seed_accounts


@pytest.fixture
def members(seed: Callable[..., SeededOrganization]) -> Callable[..., dict[str, Member]]:
    """members(*accounts): an organisation of these accounts, as Members by name."""

    def make(*accounts: DemoAccount) -> dict[str, Member]:
        seeded = seed(*accounts)
        return {account.name: member_of(seeded, account.name) for account in accounts}

    return make


@pytest.fixture
def member(members: Callable[..., dict[str, Member]]) -> Callable[..., Member]:
    """member(*users, name=...): one member account with the given users."""

    def make(*users: DemoUser, name: str = "workload") -> Member:
        return members(DemoAccount(name, ("Workloads",), tuple(users)))[name]

    return make


@pytest.fixture
def settings() -> RotationSettings:
    return RotationSettings(dry_run=False)


def member_of(seeded: SeededOrganization, name: str) -> Member:
    account_id = seeded.accounts[name]
    return Member(
        account=Account(id=account_id, name=name, email=f"{name}@example.com"),
        clients=clients_in(account_id),
        seeded_keys={
            user: list(keys) for (acct, user), keys in seeded.keys.items() if acct == account_id
        },
    )


@pytest.fixture
def rotate(sessions: RecordingSessions, now: datetime, settings: RotationSettings) -> Callable:
    """rotate(member, settings=None, dry_run=False, force=(), at=None, gate=None) -> report."""
    from keyrotation.rotation import rotate_account

    def run(
        target: Member,
        settings_: RotationSettings | None = None,
        *,
        dry_run: bool = False,
        force: tuple[str, ...] = (),
        at: datetime | None = None,
        gate: Any = None,
    ) -> Any:
        return rotate_account(
            target.account,
            sessions=sessions,
            settings=settings_ or settings,
            now=at or now,
            dry_run=dry_run,
            force_rotate=force,
            gate=gate,
        )

    return run
