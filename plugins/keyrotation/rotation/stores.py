"""Where an account's new keys are stored: its own Secrets Manager or the central one."""

from __future__ import annotations

import boto3

from keyrotation.aws.secret_store import SecretStore
from keyrotation.aws.sessions import AccountSessions
from keyrotation.results import Account
from keyrotation.settings import RotationSettings

__all__ = ["secret_store"]


def secret_store(
    account: Account,
    sessions: AccountSessions,
    settings: RotationSettings,
    member: boto3.Session,
) -> SecretStore:
    """The store of ``account``'s secrets; ``member``: the session in the account itself."""
    if settings.central_secrets:
        role = settings.secrets_role_name or settings.member_role_name
        holder = settings.secrets_account_id
        session = sessions.assume_role(holder, role, purpose="secrets")
    else:
        holder, session = account.id, member
    return SecretStore(
        sessions.client("secretsmanager", session),
        account_id=account.id,
        holder_account_id=holder,
        partition=sessions.partition,
        kms_key_id=settings.secrets_kms_key_id,
        replication_regions=settings.replication_regions,
    )
