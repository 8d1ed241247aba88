"""The organisation's accounts to rotate: all of them, or one OU's subtree, with their tags."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from keyrotation.aws.sessions import AccountAccessError, AccountSessions, error_code
from keyrotation.results import Account
from keyrotation.settings import RotationSettings

__all__ = ["InventoryError", "is_active", "list_organization_accounts"]

logger = logging.getLogger(__name__)

ACTIVE = "ACTIVE"
_LISTING_DENIED = frozenset({"AccessDenied", "AccessDeniedException"})


class InventoryError(RuntimeError):
    """The accounts cannot be listed; the message says which principal needs what."""


def list_organization_accounts(
    sessions: AccountSessions, settings: RotationSettings
) -> list[Account]:
    """The ACTIVE accounts to rotate, after include/exclude, sorted by id."""
    session = None
    principal = f"the base credentials of the Airflow connection {settings.aws_conn_id!r}"
    if settings.org_account_id:
        role_arn = sessions.role_arn(settings.org_account_id, settings.org_role_name)
        principal = f"the role {role_arn}"
        try:
            session = sessions.assume_role(
                settings.org_account_id, settings.org_role_name, purpose="inventory"
            )
        except AccountAccessError as error:
            raise InventoryError(
                f"{error}. The inventory role (settings org_account_id and org_role_name) "
                f"must exist in the management or delegated administrator account "
                f"{settings.org_account_id}, trust this pipeline's principal and allow "
                f"{_permissions(settings)}."
            ) from None
    organizations = sessions.client("organizations", session)
    try:
        if settings.inventory_ou:
            listed = list(_accounts_under(organizations, settings.inventory_ou))
        else:
            listed = list(_paginate(organizations, "list_accounts", "Accounts"))
    except ClientError as error:
        raise _inventory_error(error, principal, settings) from None

    accounts: dict[str, Account] = {}
    for entry in listed:
        if not is_active(entry):
            logger.info(
                "Skipping account %s (%s): status %s",
                entry.get("Id"),
                entry.get("Name", ""),
                entry.get("State") or entry.get("Status") or "unknown",
            )
            continue
        account = Account(id=entry["Id"], name=entry.get("Name", ""), email=entry.get("Email", ""))
        accounts[account.id] = account
    selected = _select(accounts, settings)
    if settings.exempt_tag:
        try:
            selected = [
                replace(account, tags=_account_tags(organizations, account.id))
                for account in selected
            ]
        except ClientError as error:
            raise _tags_error(error, principal) from None
    logger.info(
        "%d account(s) to rotate out of %d listed%s",
        len(selected),
        len(listed),
        f" under {settings.inventory_ou}" if settings.inventory_ou else "",
    )
    return selected


def _account_tags(organizations: BaseClient, account_id: str) -> dict[str, str]:
    """The account's tags, read once per run: an account exemption tag lives there."""
    return {
        tag["Key"]: tag["Value"]
        for tag in _paginate(organizations, "list_tags_for_resource", "Tags", ResourceId=account_id)
    }


def _tags_error(error: ClientError, principal: str) -> Exception:
    code = error_code(error)
    message = error.response.get("Error", {}).get("Message", "")
    what = f"Reading the accounts' tags (account exemptions) failed: {code}: {message}"
    if code in _LISTING_DENIED:
        return InventoryError(
            f"{what}. {principal[0].upper()}{principal[1:]} needs "
            f"organizations:ListTagsForResource; or set exempt_tag to an empty string to "
            f"turn tag exemptions off."
        )
    return error


def is_active(account: Mapping[str, Any]) -> bool:
    """Both the legacy ``Status`` and the newer ``State`` field, when present, say ACTIVE."""
    statuses = [account[field] for field in ("Status", "State") if account.get(field)]
    return bool(statuses) and all(status == ACTIVE for status in statuses)


def _select(accounts: dict[str, Account], settings: RotationSettings) -> list[Account]:
    chosen = set(accounts)
    if settings.include_accounts:
        missing = sorted(set(settings.include_accounts) - chosen)
        if missing:
            logger.warning(
                "include_accounts names account(s) not listed as ACTIVE%s: %s",
                f" under {settings.inventory_ou}" if settings.inventory_ou else "",
                ", ".join(missing),
            )
        chosen &= set(settings.include_accounts)
    chosen -= set(settings.exclude_accounts)
    return [accounts[account_id] for account_id in sorted(chosen)]


def _accounts_under(organizations: BaseClient, parent_id: str) -> Iterator[dict[str, Any]]:
    """Every account in the subtree of ``parent_id`` (an OU or the root), recursively."""
    pending = [parent_id]
    while pending:
        parent = pending.pop()
        yield from _paginate(organizations, "list_accounts_for_parent", "Accounts", ParentId=parent)
        pending.extend(
            unit["Id"]
            for unit in _paginate(
                organizations,
                "list_organizational_units_for_parent",
                "OrganizationalUnits",
                ParentId=parent,
            )
        )


def _paginate(
    client: BaseClient, operation: str, result_key: str, **params: Any
) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate(**params):
        yield from page.get(result_key, [])


def _permissions(settings: RotationSettings) -> str:
    if settings.inventory_ou:
        return (
            "organizations:ListAccountsForParent and organizations:ListOrganizationalUnitsForParent"
        )
    return "organizations:ListAccounts"


def _inventory_error(error: ClientError, principal: str, settings: RotationSettings) -> Exception:
    code = error_code(error)
    message = error.response.get("Error", {}).get("Message", "")
    what = f"Listing the organisation's accounts failed: {code}: {message}"
    if code in _LISTING_DENIED:
        return InventoryError(
            f"{what}. {principal[0].upper()}{principal[1:]} needs {_permissions(settings)} "
            f"in the organisation's management account or a delegated administrator "
            f"account; to list through a role there, set org_account_id and org_role_name."
        )
    if code == "AWSOrganizationsNotInUseException":
        return InventoryError(
            f"{what}. The account of {principal} is not in an organisation: set "
            f"org_account_id and org_role_name to a role in the management or a delegated "
            f"administrator account that may call {_permissions(settings)}."
        )
    if code in ("ParentNotFoundException", "TargetNotFoundException"):
        return InventoryError(
            f"{what}. inventory_ou {settings.inventory_ou!r} is not an OU or root of the "
            f"organisation that {principal} sees."
        )
    return error
