"""Secrets of users that no longer exist: the key they hold is dead.

A user deleted outside the pipeline leaves its secret behind. Only a secret that the
pipeline created (``SecretStore.own_secrets``) and whose user IAM answers NoSuchEntity
for counts as orphaned; its deletion is scheduled with Secrets Manager's recovery
window, so a mistake can still be undone with RestoreSecret.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from keyrotation.aws.secret_store import OwnSecret
from keyrotation.aws.sessions import error_code

__all__ = ["orphaned_secrets"]

logger = logging.getLogger(__name__)


def orphaned_secrets(
    iam: BaseClient, secrets: Iterable[OwnSecret], existing_users: Collection[str]
) -> list[OwnSecret]:
    """The pipeline's ``secrets`` whose IAM user no longer exists. Reads only.

    ``existing_users`` are the users the scan just saw (exempt ones included); only the
    others are looked up, one GetUser each.
    """
    orphans = []
    for secret in secrets:
        if secret.user_name in existing_users:
            continue
        try:
            iam.get_user(UserName=secret.user_name)
        except ClientError as error:
            if error_code(error) != "NoSuchEntity":
                raise
            orphans.append(secret)
            continue
        # Created after the scan listed the users: not orphaned.
        logger.info("%s: secret %s belongs to an existing user", secret.user_name, secret.name)
    return orphans
