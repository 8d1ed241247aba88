"""Boto3 clients for the base credentials and for roles assumed in the organisation's accounts.

The base credentials, region, endpoint, TLS verification and botocore settings come from an
Airflow AWS connection through the amazon provider's hook, and apply to every client this
module creates, STS included, so a connection pointing at a local endpoint redirects all of
them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import boto3
import botocore.loaders
import botocore.session
from botocore.client import BaseClient
from botocore.config import Config
from botocore.credentials import CredentialProvider, CredentialResolver, RefreshableCredentials
from botocore.exceptions import ClientError, UnknownRegionError

from keyrotation.aws.errors import error_code, error_message
from keyrotation.compat import register_secret

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

__all__ = [
    "DEFAULT_REGION",
    "MEMBER_ROLE_TEMPLATE",
    "RETRIES",
    "SERVICE_MODEL_LOADER",
    "AccountAccessError",
    "AccountSessions",
    "error_code",
]

DEFAULT_REGION = "us-east-1"
#: Adaptive mode adds client-side rate limiting to the retries, which is what a scan of
#: thousands of users needs against IAM's throttling.
RETRIES: Mapping[str, Any] = {"mode": "adaptive", "max_attempts": 10}
MEMBER_ROLE_TEMPLATE = "deploy/cloudformation/member-role.yaml"
SESSION_NAME_PREFIX = "iam-key-rotation-"
#: The sessions of assumed roles share one cache of botocore's service models: loading a
#: model costs more than most API calls.
SERVICE_MODEL_LOADER = botocore.loaders.create_loader()
_DENIED = frozenset({"AccessDenied", "AccessDeniedException"})


class _DropSecretPayloads(logging.Filter):
    """botocore's debug logs print request and response bodies; never let one that holds
    a secret access key (a new key, a stored secret, role credentials) through, whatever
    level an operator turns on."""

    _MARKERS = ("SecretAccessKey", "SecretString")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG:
            return True
        message = record.getMessage()
        return not any(marker in message for marker in self._MARKERS)


for _name in ("botocore.endpoint", "botocore.parsers", "botocore.hooks"):
    logging.getLogger(_name).addFilter(_DropSecretPayloads())


class AccountAccessError(RuntimeError):
    """A role in an account cannot be assumed; the message says what to fix."""

    def __init__(
        self, message: str, *, account_id: str = "", role_arn: str = "", denied: bool = False
    ) -> None:
        super().__init__(message)
        self.account_id = account_id
        self.role_arn = role_arn
        #: AWS refused the role (missing or not trusting us): retrying cannot help.
        self.denied = denied

    @classmethod
    def from_client_error(
        cls, error: ClientError, *, account_id: str, role_arn: str
    ) -> AccountAccessError:
        code = error_code(error)
        problem = (
            f"Cannot assume role {role_arn} in account {account_id}: {code}: {error_message(error)}"
        )
        if code in _DENIED:
            problem += (
                f". The role is missing in account {account_id} or does not trust this "
                f"pipeline's principal: deploy the member-role CloudFormation template "
                f"({MEMBER_ROLE_TEMPLATE}) as a StackSet to account {account_id} (a "
                f"service-managed StackSet does not reach the organisation's management "
                f"account: deploy the template there as a plain stack)."
            )
        return cls(problem, account_id=account_id, role_arn=role_arn, denied=code in _DENIED)


class _FixedCredentialProvider(CredentialProvider):
    """Hands a botocore session the refreshable credentials of an assumed role."""

    METHOD = "sts-assume-role"

    def __init__(self, credentials: RefreshableCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> RefreshableCredentials:
        return self._credentials


class AccountSessions:
    """Clients for the base credentials (an Airflow AWS connection via the amazon
    provider's AwsBaseHook) and for roles assumed in accounts."""

    def __init__(self, hook: AwsBaseHook) -> None:
        self._hook = hook
        self._base_session: boto3.Session = hook.get_session(region_name=hook.region_name)
        self.region_name: str = hook.region_name or self._base_session.region_name or DEFAULT_REGION
        self.partition: str = _partition_for_region(self._base_session, self.region_name)
        # A retry policy set in the connection's extra (config_kwargs) wins over ours.
        self._config: Config = Config(retries=dict(RETRIES)).merge(hook.config)
        self._verify = hook.verify

    def client(
        self,
        service: str,
        session: boto3.Session | None = None,
        region_name: str | None = None,
    ) -> BaseClient:
        """A client of ``service`` for ``session`` (default: the base credentials)."""
        return (session or self._base_session).client(
            service,
            region_name=region_name or self.region_name,
            endpoint_url=self._hook.conn_config.get_service_endpoint_url(service),
            config=self._config,
            verify=self._verify,
        )

    def role_arn(self, account_id: str, role_name: str) -> str:
        return f"arn:{self.partition}:iam::{account_id}:role/{role_name}"

    def assume_role(self, account_id: str, role_name: str, *, purpose: str) -> boto3.Session:
        """A session acting as ``role_name`` in ``account_id``.

        The credentials refresh themselves before they expire, so a scan of an account
        with thousands of users may outlast the one-hour role session.
        """
        role_arn = self.role_arn(account_id, role_name)
        # CloudTrail shows the session name, and member roles may require the prefix.
        session_name = (SESSION_NAME_PREFIX + purpose)[:64]
        sts = self.client("sts")

        def fetch() -> dict[str, str]:
            try:
                response = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)
            except ClientError as error:
                raise AccountAccessError.from_client_error(
                    error, account_id=account_id, role_arn=role_arn
                ) from None
            credentials = response["Credentials"]
            register_secret(credentials["SecretAccessKey"])
            register_secret(credentials["SessionToken"])
            return {
                "access_key": credentials["AccessKeyId"],
                "secret_key": credentials["SecretAccessKey"],
                "token": credentials["SessionToken"],
                "expiry_time": credentials["Expiration"].isoformat(),
            }

        credentials = RefreshableCredentials.create_from_metadata(
            metadata=fetch(), refresh_using=fetch, method=_FixedCredentialProvider.METHOD
        )
        core = botocore.session.Session()
        core.register_component("data_loader", SERVICE_MODEL_LOADER)
        core.register_component(
            "credential_provider", CredentialResolver([_FixedCredentialProvider(credentials)])
        )
        return boto3.Session(botocore_session=core, region_name=self.region_name)


def _partition_for_region(session: boto3.Session, region_name: str) -> str:
    try:
        return session.get_partition_for_region(region_name)
    except UnknownRegionError:
        return "aws"
