"""The console link of a rotation task: switch role, or the Identity Center portal."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from keyrotation.console_links import iam_users_console_url
from keyrotation.operators import IamUsersConsoleLink
from keyrotation.settings import RotationSettings, SettingsError

IAM_USERS = "https://console.aws.amazon.com/iam/home#/users"


def _query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def test_switch_role_into_the_member_role_lands_on_the_iam_users_page():
    url = iam_users_console_url(
        account_id="111122223333", account_name="payments-prod", role_name="member-role"
    )

    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "signin.aws.amazon.com",
        "/switchrole",
    )
    assert _query(url) == {
        "roleName": "member-role",
        "account": "111122223333",
        "displayName": "payments-prod (111122223333)",
        "redirect_uri": IAM_USERS,
    }
    # The destination's own '#' and '/' are encoded, so the console gets all of it.
    assert "#" not in url
    assert "redirect_uri=https%3A%2F%2Fconsole.aws.amazon.com%2Fiam%2Fhome%23%2Fusers" in url


def test_switch_role_display_name_is_cut_to_the_console_limit():
    url = iam_users_console_url(account_id="111122223333", account_name="x" * 80, role_name="r")

    assert len(_query(url)["displayName"]) == 64


def test_other_partitions_use_their_own_sign_in_and_console_domains():
    url = iam_users_console_url(
        account_id="111122223333", account_name="", role_name="r", aws_domain="amazonaws.cn"
    )

    assert url.startswith("https://signin.amazonaws.cn/switchrole?")
    assert _query(url)["redirect_uri"] == "https://console.amazonaws.cn/iam/home#/users"
    assert _query(url)["displayName"] == "111122223333"


def test_identity_center_start_url_opens_the_account_through_the_portal():
    url = iam_users_console_url(
        account_id="111122223333",
        account_name="payments-prod",
        role_name="member-role",
        sso_start_url="https://example.awsapps.com/start/",
        sso_permission_set="SecurityAudit",
    )

    assert url.startswith("https://example.awsapps.com/start/#/console?")
    fragment_query = url.split("#/console?", 1)[1]
    assert {k: v[0] for k, v in parse_qs(fragment_query).items()} == {
        "account_id": "111122223333",
        "role_name": "SecurityAudit",
        "destination": IAM_USERS,
    }


def test_the_operator_link_formats_what_the_task_persisted():
    link = IamUsersConsoleLink()
    persisted = {
        "region_name": "us-east-1",
        "aws_domain": "aws.amazon.com",
        "account_id": "111122223333",
        "account_name": "data-prod",
        "role_name": "iam-key-rotation-member-role",
        "sso_start_url": "",
        "sso_permission_set": "",
    }

    url = link.format_link(**persisted)

    assert _query(url)["roleName"] == "iam-key-rotation-member-role"
    assert _query(url)["account"] == "111122223333"
    assert link.format_link(region_name="us-east-1") == ""


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"sso_start_url": "http://example.awsapps.com/start"},
            "sso_start_url: .* is not the https:// URL",
        ),
        ({"sso_start_url": "https://example.awsapps.com/start"}, "go together"),
        ({"sso_permission_set": "SecurityAudit"}, "go together"),
        (
            {"sso_start_url": "https://example.awsapps.com/start", "sso_permission_set": "a b"},
            "not a permission set name",
        ),
    ],
)
def test_identity_center_settings_are_validated(values, message):
    with pytest.raises(SettingsError, match=message):
        RotationSettings.from_mapping(values)


def test_identity_center_settings_are_read():
    settings = RotationSettings.from_mapping(
        {"sso_start_url": "https://d-123.awsapps.com/start", "sso_permission_set": "Admin"}
    )

    assert (settings.sso_start_url, settings.sso_permission_set) == (
        "https://d-123.awsapps.com/start",
        "Admin",
    )
