"""Trigger-and-assert scenarios shared by the stages (LocalExecutor, CeleryExecutor).

Each scenario drives the DAG through the REST API only and checks the outcome in moto.
"""

from __future__ import annotations

import json

from tests.system.organization import ADMIN_EMAIL, KeyState, Organization
from tests.system.stack import DAG_ID, AirflowApi

ROTATION_TASK = "rotate_account_keys"
#: The approval stage, skipped as a whole when the settings ask for no approval.
APPROVAL_STAGE = ("plan_account_keys", "approve_plan")

#: The demo users whose Active key an enforcing run at seeding time rotates, per account
#: (see the stories in deploy/demo/organization.py).
ROTATED_USERS = {
    "payments-prod": ("alice", "grace"),
    "data-prod": ("ivan",),
    "analytics-dev": ("erin", "olaf"),
}


def expected_task_names(organization: Organization) -> set[tuple[str, str]]:
    """(task id, rendered map index) of a run over the demo organisation."""
    return {
        ("list_accounts", ""),
        ("approval_needed", ""),
        *((task_id, "") for task_id in APPROVAL_STAGE),
        ("send_notifications", ""),
        *(
            (ROTATION_TASK, f"{account_id} {name}")
            for account_id, name in organization.active_accounts.items()
        ),
    }


def map_index_of(api: AirflowApi, run_id: str, account_id: str) -> int:
    """The map index of an account's rotation: the account's place in the list that
    ``list_accounts`` returned (a running instance has no rendered name yet)."""
    entry = api.request(
        "GET",
        f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/list_accounts/xcomEntries/return_value",
        params={"deserialize": True},
    )
    value = entry["value"]
    accounts = json.loads(value) if isinstance(value, str) else value
    for index, account in enumerate(accounts):
        if account["id"] == account_id:
            return index
    raise AssertionError(f"list_accounts did not list account {account_id}: {accounts}")


def in_accounts(keys: KeyState, account_ids: set[str]) -> KeyState:
    return {key: value for key, value in keys.items() if key[0] in account_ids}


def assert_dry_run_changes_nothing(api: AirflowApi, organization: Organization) -> None:
    keys_before = organization.keys()
    secrets_before = organization.stored_key_ids()
    run_id = api.trigger({"dry_run": True})

    assert api.wait_for_run(run_id) == "success", api.task_states(run_id)

    states = api.task_states(run_id)
    assert set(states) == expected_task_names(organization)
    assert {state for (task_id, _), state in states.items() if task_id in APPROVAL_STAGE} == {
        "skipped"
    }
    assert {state for (task_id, _), state in states.items() if task_id not in APPROVAL_STAGE} == {
        "success"
    }
    assert organization.keys() == keys_before
    assert organization.stored_key_ids() == secrets_before
    _assert_console_links_switch_into_each_account(api, run_id)


def _assert_console_links_switch_into_each_account(api: AirflowApi, run_id: str) -> None:
    """The task's extra link, as the UI gets it, switches role into its own account."""
    for ti in api.task_instances(run_id):
        if ti["task_id"] != ROTATION_TASK:
            continue
        links = api.request(
            "GET",
            f"/dags/{ti['dag_id']}/dagRuns/{run_id}/taskInstances/{ROTATION_TASK}/links",
            params={"map_index": ti["map_index"]},
        )["extra_links"]
        url = links["IAM users (AWS console)"]
        account_id = ti["rendered_map_index"].split()[0]
        assert url.startswith("https://signin.aws.amazon.com/switchrole?"), url
        assert f"account={account_id}&" in url
        assert "redirect_uri=https%3A%2F%2Fconsole.aws.amazon.com%2Fiam%2Fhome" in url


def assert_enforce_run_rotates_each_account_once_across_a_denied_role(
    api: AirflowApi, organization: Organization
) -> None:
    """An account whose member role is gone fails alone and the admin hears of it; once
    the role is back, clearing just that account's task rotates it, and nobody twice."""
    denied = organization.account_id("data-prod")
    others = set(organization.seeded.accounts.values()) - {denied}
    organization.deny_member_role(denied)
    keys_before = organization.keys()
    emails_before = len(organization.emails())

    run_id = api.trigger({})

    assert api.wait_for_run(run_id) == "failed"
    states = api.task_states(run_id)
    for (task_id, name), state in states.items():
        if task_id in APPROVAL_STAGE:
            expected = "skipped"
        elif name.startswith(denied) or task_id == "send_notifications":
            expected = "failed"
        else:
            expected = "success"
        assert state == expected, (task_id, name, state)
    assert in_accounts(organization.keys(), {denied}) == in_accounts(keys_before, {denied})
    assert_rotated_once(organization, keys_before, accounts=others)
    admin_emails = [e for e in organization.emails()[emails_before:] if e.to == ADMIN_EMAIL]
    assert len(admin_emails) == 1, [e.subject for e in organization.emails()]
    assert denied in admin_emails[0].text
    assert "AssumeRole" in admin_emails[0].text or "assume role" in admin_emails[0].text
    keys_after_failure = organization.keys()

    organization.restore_member_role(denied)
    api.clear(
        run_id,
        [(ROTATION_TASK, map_index_of(api, run_id, denied))],
        include_downstream=True,
    )

    assert api.wait_for_run(run_id) == "success", api.task_states(run_id)
    assert in_accounts(organization.keys(), others) == in_accounts(keys_after_failure, others)
    assert_rotated_once(organization, keys_before, accounts={denied})
    assert_rotated_once(organization, keys_before, accounts=others)


def assert_rotated_once(
    organization: Organization, keys_before: KeyState, *, accounts: set[str]
) -> None:
    """Each due user of ``accounts`` got exactly one new Active key, stored once in their
    secret; nobody else got a key."""
    names = {organization.account_id(n): n for n in organization.seeded.accounts}
    keys_now = organization.keys()
    stored = organization.stored_key_ids()
    for (account_id, user), keys in keys_now.items():
        if account_id not in accounts:
            continue
        new_keys = {k for k, _ in keys} - {k for k, _ in keys_before[(account_id, user)]}
        secret = f"Account_{account_id}_User_{user}_AccessKey"
        if user in ROTATED_USERS.get(names[account_id], ()):
            assert len(new_keys) == 1, (account_id, user, keys_before[(account_id, user)], keys)
            assert stored.get(secret) == sorted(new_keys), (secret, stored.get(secret))
        else:
            assert new_keys == set(), (account_id, user, keys)
            assert secret not in stored
