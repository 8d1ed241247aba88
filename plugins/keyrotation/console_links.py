"""URLs that open an account's IAM users page in the AWS console for a person.

People reach member accounts either by switching role from a console session or through
the IAM Identity Center access portal; a plain account sign-in page helps neither.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

__all__ = ["iam_users_console_url", "iam_users_page", "sso_console_url", "switch_role_url"]

_SWITCH_ROLE_DISPLAY_NAME_MAX = 64  # the console's limit


def iam_users_page(aws_domain: str = "aws.amazon.com") -> str:
    """The IAM users list of whichever account the console session is in."""
    return f"https://console.{aws_domain}/iam/home#/users"


def switch_role_url(
    *,
    account_id: str,
    role_name: str,
    display_name: str,
    destination: str,
    aws_domain: str = "aws.amazon.com",
) -> str:
    """The console's Switch Role page, filled in, that lands on ``destination``."""
    query = urlencode(
        {
            "roleName": role_name,
            "account": account_id,
            "displayName": display_name[:_SWITCH_ROLE_DISPLAY_NAME_MAX],
            "redirect_uri": destination,
        },
        quote_via=quote,
        safe="",
    )
    return f"https://signin.{aws_domain}/switchrole?{query}"


def sso_console_url(
    *, start_url: str, account_id: str, permission_set: str, destination: str
) -> str:
    """The IAM Identity Center access portal's console shortcut into ``account_id`` with
    ``permission_set``, landing on ``destination``."""
    query = urlencode(
        {"account_id": account_id, "role_name": permission_set, "destination": destination},
        quote_via=quote,
        safe="",
    )
    return f"{start_url.rstrip('/')}/#/console?{query}"


def iam_users_console_url(
    *,
    account_id: str,
    account_name: str,
    role_name: str,
    aws_domain: str = "aws.amazon.com",
    sso_start_url: str = "",
    sso_permission_set: str = "",
) -> str:
    """The IAM users page of ``account_id``: through the access portal when a start URL
    and permission set are given, else by switching into ``role_name``."""
    destination = iam_users_page(aws_domain)
    if sso_start_url and sso_permission_set:
        return sso_console_url(
            start_url=sso_start_url,
            account_id=account_id,
            permission_set=sso_permission_set,
            destination=destination,
        )
    display = f"{account_name} ({account_id})" if account_name else account_id
    return switch_role_url(
        account_id=account_id,
        role_name=role_name,
        display_name=display,
        destination=destination,
        aws_domain=aws_domain,
    )
