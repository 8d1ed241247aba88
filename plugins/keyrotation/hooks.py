"""The hook the rotation operators share: base credentials plus roles in accounts."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

from keyrotation.aws.sessions import AccountSessions

__all__ = ["KeyRotationHook"]


class KeyRotationHook(AwsBaseHook):
    """Interact with the accounts of an AWS Organization for access key rotation.

    The Airflow AWS connection provides the base credentials, region, endpoint and
    botocore settings; ``sessions`` assumes roles in the organisation's accounts with
    the same settings.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "sts"
        super().__init__(*args, **kwargs)

    @cached_property
    def sessions(self) -> AccountSessions:
        return AccountSessions(self)
