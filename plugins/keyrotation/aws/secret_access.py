"""Who may read a user's secret: the secret's resource policy and the user's policy.

The secret's resource policy lets only the user read it; the user's inline policy grants
reading the secret's real ARNs and, with a customer managed key, decrypting through
Secrets Manager. Builds the documents; calls nothing.
"""

from __future__ import annotations

from typing import Any

from keyrotation.aws.secret_records import SecretLocation
from keyrotation.aws.secret_replicas import is_multi_region_key

__all__ = ["READ_ACTIONS", "resource_policy", "user_policy"]

READ_ACTIONS = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]


def resource_policy(user_arn: str) -> dict[str, Any]:
    """Only the user may read the secret (from its own account, or cross-account)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OwnerReadsAccessKey",
                "Effect": "Allow",
                "Principal": {"AWS": user_arn},
                "Action": READ_ACTIONS,
                "Resource": "*",
            }
        ],
    }


def user_policy(
    location: SecretLocation, *, kms_key_id: str, partition: str, holder_account_id: str
) -> dict[str, Any]:
    """The user's inline policy: read the secret's real ARNs (with the random suffix)
    and, with a customer managed key, decrypt through Secrets Manager.

    ``holder_account_id``: the account holding the secret, whose key a bare key id or
    alias names.
    """
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ReadOwnAccessKeySecret",
            "Effect": "Allow",
            "Action": READ_ACTIONS,
            "Resource": location.arns,
        }
    ]
    if kms_key_id:
        statements.append(_decrypt_statement(kms_key_id, partition, holder_account_id))
    return {"Version": "2012-10-17", "Statement": statements}


def _decrypt_statement(key: str, partition: str, holder_account_id: str) -> dict[str, Any]:
    via_secrets_manager = {"StringLike": {"kms:ViaService": "secretsmanager.*"}}
    owner = _key_account(key, holder_account_id)
    if key.startswith("alias/") or ":alias/" in key:
        alias = key[key.index("alias/") :]
        return {
            "Sid": "DecryptOwnAccessKeySecret",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": f"arn:{partition}:kms:*:{owner}:key/*",
            "Condition": {
                **via_secrets_manager,
                "ForAnyValue:StringEquals": {"kms:ResourceAliases": alias},
            },
        }
    if key.startswith("arn:") and not is_multi_region_key(key):
        resource = key
    else:
        key_id = key.rsplit("/", 1)[-1]
        resource = f"arn:{partition}:kms:*:{owner}:key/{key_id}"
    return {
        "Sid": "DecryptOwnAccessKeySecret",
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": resource,
        "Condition": via_secrets_manager,
    }


def _key_account(key: str, holder_account_id: str) -> str:
    if key.startswith("arn:"):
        return key.split(":")[4]
    # A key id or alias names a key in the account that holds the secrets.
    return holder_account_id
