from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from deploy.demo.organization import MANAGEMENT_ACCOUNT_ID, DemoAccount
from keyrotation.aws.inventory import InventoryError, is_active, list_organization_accounts
from keyrotation.results import Account, accounts_of, mapped_items
from keyrotation.settings import RotationSettings

ORG = (
    DemoAccount("prod-a", ("Workloads", "Production"), ()),
    DemoAccount("prod-closed", ("Workloads", "Production"), (), suspended=True),
    DemoAccount("dev-a", ("Workloads", "Development"), ()),
    DemoAccount("security", ("Security",), ()),
    DemoAccount("at-root", (), ()),
)


@pytest.fixture
def org(seed):
    return seed(*ORG)


def names(accounts: list[Account]) -> list[str]:
    return [a.name for a in accounts]


def test_lists_every_active_account_sorted_by_id(sessions, org):
    accounts = list_organization_accounts(sessions, RotationSettings())

    assert [a.id for a in accounts] == sorted(a.id for a in accounts)
    assert set(names(accounts)) == {"master", "prod-a", "dev-a", "security", "at-root"}
    prod = next(a for a in accounts if a.name == "prod-a")
    assert prod == Account(id=org.accounts["prod-a"], name="prod-a", email="prod-a@example.com")
    assert "ListAccounts" in sessions.calls


def test_an_ou_lists_its_whole_subtree_without_suspended_accounts(sessions, org):
    workloads = org.ous[("Workloads",)]

    accounts = list_organization_accounts(sessions, RotationSettings(inventory_ou=workloads))

    assert set(names(accounts)) == {"prod-a", "dev-a"}
    assert "ListAccounts" not in sessions.calls


def test_the_root_as_inventory_ou_lists_the_whole_organisation(sessions, org):
    accounts = list_organization_accounts(sessions, RotationSettings(inventory_ou=org.root_id))

    assert set(names(accounts)) == {"master", "prod-a", "dev-a", "security", "at-root"}


def test_include_and_exclude_select_accounts(sessions, org):
    ids = org.accounts
    settings = RotationSettings(
        include_accounts=(ids["prod-a"], ids["dev-a"], ids["prod-closed"]),
        exclude_accounts=(ids["dev-a"],),
    )

    assert names(list_organization_accounts(sessions, settings)) == ["prod-a"]


def test_lists_through_the_org_role_when_configured(sessions, org):
    trust = {"Version": "2012-10-17", "Statement": []}
    boto3.client("iam").create_role(
        RoleName="org-inventory", AssumeRolePolicyDocument=json.dumps(trust)
    )
    settings = RotationSettings(org_account_id=MANAGEMENT_ACCOUNT_ID, org_role_name="org-inventory")

    accounts = list_organization_accounts(sessions, settings)

    assert sessions.calls[:2] == ["AssumeRole", "ListAccounts"]
    assert "prod-a" in names(accounts)


def test_a_missing_org_role_is_an_inventory_error_naming_the_role(sessions, org):
    settings = RotationSettings(org_account_id=MANAGEMENT_ACCOUNT_ID, org_role_name="missing")

    with pytest.raises(InventoryError) as raised:
        list_organization_accounts(sessions, settings)

    message = str(raised.value)
    assert f"arn:aws:iam::{MANAGEMENT_ACCOUNT_ID}:role/missing" in message
    assert "org_role_name" in message
    assert "organizations:ListAccounts" in message


@pytest.mark.parametrize(
    ("inventory_ou", "permissions"),
    [
        (False, ["organizations:ListAccounts"]),
        (
            True,
            [
                "organizations:ListAccountsForParent",
                "organizations:ListOrganizationalUnitsForParent",
            ],
        ),
    ],
)
def test_access_denied_says_which_principal_needs_which_permission(
    sessions, org, inventory_ou, permissions
):
    for operation in ("ListAccounts", "ListAccountsForParent"):
        sessions.faults[operation] = "AccessDeniedException"
    ou = org.ous[("Workloads",)] if inventory_ou else ""

    with pytest.raises(InventoryError) as raised:
        list_organization_accounts(sessions, RotationSettings(inventory_ou=ou))

    message = str(raised.value)
    assert "Airflow connection 'aws_default'" in message
    assert "AccessDeniedException" in message
    for permission in permissions:
        assert permission in message


def test_access_denied_through_the_org_role_names_the_role(sessions, org):
    trust = {"Version": "2012-10-17", "Statement": []}
    boto3.client("iam").create_role(
        RoleName="org-inventory", AssumeRolePolicyDocument=json.dumps(trust)
    )
    sessions.faults["ListAccounts"] = "AccessDeniedException"
    settings = RotationSettings(org_account_id=MANAGEMENT_ACCOUNT_ID, org_role_name="org-inventory")

    expected = r"role/org-inventory needs organizations:ListAccounts"
    with pytest.raises(InventoryError, match=expected):
        list_organization_accounts(sessions, settings)


def test_an_account_outside_any_organisation_is_an_inventory_error(sessions):
    # moto answers an empty list; AWS refuses.
    sessions.faults["ListAccounts"] = "AWSOrganizationsNotInUseException"

    with pytest.raises(InventoryError) as raised:
        list_organization_accounts(sessions, RotationSettings())

    assert "AWSOrganizationsNotInUseException" in str(raised.value)
    assert "org_account_id and org_role_name" in str(raised.value)


@pytest.mark.parametrize(
    ("entry", "active"),
    [
        ({"Status": "ACTIVE"}, True),
        ({"State": "ACTIVE"}, True),
        ({"Status": "ACTIVE", "State": "ACTIVE"}, True),
        ({"Status": "SUSPENDED"}, False),
        ({"State": "PENDING_CLOSURE"}, False),
        ({"Status": "ACTIVE", "State": "SUSPENDED"}, False),
        ({"State": "CLOSED"}, False),
        ({}, False),
    ],
)
def test_is_active_reads_status_and_state(entry, active):
    assert is_active(entry) is active


def _account(number: int, state: str = "ACTIVE") -> dict:
    account_id = f"{number:012d}"
    return {
        "Id": account_id,
        "Arn": f"arn:aws:organizations::{MANAGEMENT_ACCOUNT_ID}:account/o-example/{account_id}",
        "Name": f"account-{number}",
        "Email": f"account-{number}@example.com",
        "State": state,
    }


def _ou(name: str) -> dict:
    return {"Id": f"ou-abcd-{name:0>8}", "Arn": f"arn:aws:organizations::1:ou/{name}", "Name": name}


@pytest.fixture
def stubbed_organizations(sessions):
    client = boto3.client("organizations", region_name="us-east-1")
    sessions.stub_clients["organizations"] = client
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def test_every_page_of_accounts_is_read(sessions, stubbed_organizations):
    stub = stubbed_organizations
    stub.add_response(
        "list_accounts", {"Accounts": [_account(3), _account(1)], "NextToken": "p2"}, {}
    )
    stub.add_response(
        "list_accounts",
        {"Accounts": [_account(2, "SUSPENDED"), _account(4)], "NextToken": "p3"},
        {"NextToken": "p2"},
    )
    stub.add_response("list_accounts", {"Accounts": [_account(5)]}, {"NextToken": "p3"})

    # Without tag exemptions the inventory reads no tags.
    accounts = list_organization_accounts(sessions, RotationSettings(exempt_tag=""))

    assert [a.id for a in accounts] == [f"{n:012d}" for n in (1, 3, 4, 5)]


def test_every_page_of_every_ou_level_is_read(sessions, stubbed_organizations):
    stub = stubbed_organizations
    top = "ou-abcd-00000top"
    a, b, deep = _ou("a"), _ou("b"), _ou("deep")

    def accounts(parent, page, token=None, next_token=None):
        params = {"ParentId": parent, **({"NextToken": token} if token else {})}
        response = {"Accounts": page, **({"NextToken": next_token} if next_token else {})}
        stub.add_response("list_accounts_for_parent", response, params)

    def units(parent, page, token=None, next_token=None):
        params = {"ParentId": parent, **({"NextToken": token} if token else {})}
        response = {
            "OrganizationalUnits": page,
            **({"NextToken": next_token} if next_token else {}),
        }
        stub.add_response("list_organizational_units_for_parent", response, params)

    accounts(top, [_account(1)], next_token="t")
    accounts(top, [_account(2)], token="t")
    units(top, [a], next_token="u")
    units(top, [b], token="u")
    # Depth first, last OU first.
    accounts(b["Id"], [_account(3)])
    units(b["Id"], [])
    accounts(a["Id"], [])
    units(a["Id"], [deep])
    accounts(deep["Id"], [_account(4), _account(5, "SUSPENDED")])
    units(deep["Id"], [])

    listed = list_organization_accounts(sessions, RotationSettings(inventory_ou=top, exempt_tag=""))

    assert [a.id for a in listed] == [f"{n:012d}" for n in (1, 2, 3, 4)]


def test_every_page_of_an_accounts_tags_is_read_once(sessions, stubbed_organizations):
    stub = stubbed_organizations
    stub.add_response("list_accounts", {"Accounts": [_account(1)]}, {})
    account_id = f"{1:012d}"
    stub.add_response(
        "list_tags_for_resource",
        {"Tags": [{"Key": "team", "Value": "payments"}], "NextToken": "t2"},
        {"ResourceId": account_id},
    )
    stub.add_response(
        "list_tags_for_resource",
        {"Tags": [{"Key": "iam-key-rotation:exempt-until", "Value": "2026-12-31"}]},
        {"ResourceId": account_id, "NextToken": "t2"},
    )

    (account,) = list_organization_accounts(sessions, RotationSettings())

    assert account.tags == {
        "team": "payments",
        "iam-key-rotation:exempt-until": "2026-12-31",
    }
    assert Account.from_dict(json.loads(json.dumps(account.to_dict()))) == account


def test_account_tags_are_carried_in_the_listed_accounts(sessions, org):
    organizations = boto3.client("organizations", region_name="us-east-1")
    organizations.tag_resource(
        ResourceId=org.accounts["dev-a"],
        Tags=[{"Key": "iam-key-rotation:exempt-until", "Value": "2027-01-31"}],
    )

    accounts = {a.name: a for a in list_organization_accounts(sessions, RotationSettings())}

    assert accounts["dev-a"].tags == {"iam-key-rotation:exempt-until": "2027-01-31"}
    assert accounts["prod-a"].tags == {}
    assert sessions.calls.count("ListTagsForResource") == len(accounts)


def test_denied_account_tags_name_the_permission(sessions, stubbed_organizations):
    stub = stubbed_organizations
    stub.add_response("list_accounts", {"Accounts": [_account(1)]}, {})
    stub.add_client_error(
        "list_tags_for_resource", service_error_code="AccessDeniedException", http_status_code=403
    )

    with pytest.raises(InventoryError, match="organizations:ListTagsForResource"):
        list_organization_accounts(sessions, RotationSettings())


def test_an_empty_page_with_a_next_token_is_not_the_end(sessions, stubbed_organizations):
    stub = stubbed_organizations
    stub.add_response("list_accounts", {"Accounts": [_account(1)], "NextToken": "p2"}, {})
    stub.add_response("list_accounts", {"Accounts": [], "NextToken": "p3"}, {"NextToken": "p2"})
    stub.add_response("list_accounts", {"Accounts": [_account(2)]}, {"NextToken": "p3"})

    accounts = list_organization_accounts(sessions, RotationSettings(exempt_tag=""))

    assert [a.id for a in accounts] == [f"{n:012d}" for n in (1, 2)]


@pytest.mark.parametrize(("count", "limit"), [(2500, 1024), (1024, 1024)])
def test_an_organisation_beyond_max_map_length_is_mapped_in_batches(
    sessions, stubbed_organizations, count, limit
):
    stub = stubbed_organizations
    pages = [list(range(start, min(start + 20, count))) for start in range(0, count, 20)]
    token = None
    for index, page in enumerate(pages):
        answer: dict = {"Accounts": [_account(n + 1) for n in page]}
        if index + 1 < len(pages):
            answer["NextToken"] = f"p{index + 1}"
        stub.add_response("list_accounts", answer, {"NextToken": token} if token else {})
        token = answer.get("NextToken")

    accounts = list_organization_accounts(sessions, RotationSettings(exempt_tag=""))
    items = mapped_items(accounts, limit)

    assert len(accounts) == count
    assert len(items) <= limit
    assert [a for item in items for a in accounts_of(item)] == accounts
    if count <= limit:  # one task per account, as before
        assert items == [account.to_dict() for account in accounts]
    else:
        assert items[0]["label"] == "000000000001..000000000003 (3 accounts)"
        assert items[-1]["label"] == "000000002500..000000002500 (1 account)"
        assert {len(item["accounts"]) for item in items} == {3, 1}


@pytest.mark.parametrize(
    ("count", "limit", "per_task", "sizes"),
    [
        (25, 1024, 10, [10, 10, 5]),  # the setting batches below the map limit
        (25, 2, 10, [13, 12]),  # and never makes more batches than the limit allows
        (3, 1024, 1, None),  # 1: one task per account
    ],
)
def test_accounts_per_task_batches_consecutive_accounts(count, limit, per_task, sizes):
    accounts = [Account(f"{n:012d}", f"a{n}", f"a{n}@example.com") for n in range(1, count + 1)]
    items = mapped_items(accounts, limit, per_task)
    assert [a for item in items for a in accounts_of(item)] == accounts
    if sizes is None:
        assert items == [account.to_dict() for account in accounts]
    else:
        assert [len(item["accounts"]) for item in items] == sizes
        assert items[0]["label"].startswith("000000000001..")


def test_accounts_per_task_below_one_fails_listing(monkeypatch):
    from keyrotation.compat import AirflowFailException
    from keyrotation.operators.accounts import accounts_per_task

    monkeypatch.setenv("AIRFLOW__IAM_ACCESS_KEY_ROTATION__ACCOUNTS_PER_TASK", "0")
    with pytest.raises(AirflowFailException, match="accounts_per_task must be at least 1"):
        accounts_per_task()
    monkeypatch.setenv("AIRFLOW__IAM_ACCESS_KEY_ROTATION__ACCOUNTS_PER_TASK", "10")
    assert accounts_per_task() == 10
