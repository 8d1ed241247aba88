"""The CloudFormation templates under deploy/cloudformation: lint-clean and consistent with
the names and permissions the DAG relies on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint
from cfnlint.config import ManualArgs
from cfnlint.decode.decode import decode_str

from keyrotation.aws.sessions import SESSION_NAME_PREFIX
from keyrotation.settings import RotationSettings

TEMPLATES = Path(__file__).resolve().parents[2] / "deploy" / "cloudformation"
EXPECTED_TEMPLATES = {
    "member-role.yaml",
    "org-inventory-role.yaml",
    "central-secrets.yaml",
    "mwaa-execution-policy.yaml",
}
# The partitions the pipeline supports, so partition-specific ARNs are linted too.
LINT_REGIONS = ["us-east-1", "eu-west-1", "us-gov-west-1", "cn-north-1"]
# Roles admit only the session names the DAG uses when it assumes them.
SESSION_NAME_PATTERN = f"{SESSION_NAME_PREFIX}*"
MEMBER_ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"


def load(name: str) -> dict[str, Any]:
    template, errors = decode_str((TEMPLATES / name).read_text(encoding="utf-8"))
    assert not errors, errors
    return template


def substitute(value: Any, account_id: str = MEMBER_ACCOUNT, **parameters: str) -> str:
    """Resolve an Fn::Sub string the way CloudFormation would in ``account_id``."""
    if isinstance(value, str):
        return value
    template = value.get("Fn::Sub")
    assert isinstance(template, str), f"expected a plain Fn::Sub string, got {value!r}"
    known = {"AWS::Partition": "aws", "AWS::AccountId": account_id, **parameters}
    return re.sub(r"\$\{([^}]+)\}", lambda match: known[match[1]], template)


def iam_pattern_matches(pattern: str, arn: str) -> bool:
    """IAM's ARN wildcard matching: * is any run of characters, ? is one character."""
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.fullmatch(regex, arn) is not None


def secret_arn(account_id: str, user_name: str, region: str = "us-east-1") -> str:
    """A real secret ARN: the spec's name plus the random suffix Secrets Manager appends."""
    name = f"Account_{account_id}_User_{user_name}_AccessKey"
    return f"arn:aws:secretsmanager:{region}:{account_id}:secret:{name}-AbC12d"


def statements_of(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for policy in role["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def statement(statements: list[dict[str, Any]], sid: str) -> dict[str, Any]:
    (found,) = [s for s in statements if s.get("Sid") == sid]
    return found


def actions_of(statement: dict[str, Any]) -> set[str]:
    actions = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


def assert_trusts_only_execution_role(role: dict[str, Any]) -> None:
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Effect"] == "Allow"
    assert trust["Principal"] == {"AWS": {"Ref": "ExecutionRoleArn"}}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"]["StringEquals"] == {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}
    assert trust["Condition"]["StringLike"] == {"sts:RoleSessionName": SESSION_NAME_PATTERN}


def test_every_template_is_present() -> None:
    assert {path.name for path in TEMPLATES.glob("*.yaml")} == EXPECTED_TEMPLATES


@pytest.mark.parametrize("name", sorted(EXPECTED_TEMPLATES))
def test_template_has_no_cfn_lint_findings(name: str) -> None:
    matches = lint(
        (TEMPLATES / name).read_text(encoding="utf-8"),
        config=ManualArgs(regions=LINT_REGIONS, include_checks=["I"]),
    )
    assert [str(match) for match in matches] == []


class TestMemberRole:
    template = load("member-role.yaml")
    role = template["Resources"]["MemberRole"]

    def test_trusts_the_execution_role_of_the_organization(self) -> None:
        assert_trusts_only_execution_role(self.role)

    def test_names_default_to_the_settings_defaults(self) -> None:
        parameters = self.template["Parameters"]
        defaults = RotationSettings()
        assert parameters["MemberRoleName"]["Default"] == defaults.member_role_name
        assert parameters["ExemptionGroupName"]["Default"] == defaults.exemption_group
        assert self.role["Properties"]["RoleName"] == {"Ref": "MemberRoleName"}
        group = self.template["Resources"]["ExemptionGroup"]
        assert group["Properties"]["GroupName"] == {"Ref": "ExemptionGroupName"}
        assert group["Condition"] == "ShouldCreateExemptionGroup"

    def test_grants_the_iam_calls_of_scan_and_rotation_on_users(self) -> None:
        granted = statement(statements_of(self.role), "RotateUserAccessKeys")
        assert actions_of(granted) == {
            "iam:ListAccessKeys",
            "iam:GetAccessKeyLastUsed",
            "iam:ListUserTags",
            "iam:GetUser",
            "iam:CreateAccessKey",
            "iam:UpdateAccessKey",
            "iam:DeleteAccessKey",
            "iam:GetUserPolicy",
            "iam:PutUserPolicy",
        }
        assert substitute(granted["Resource"]) == f"arn:aws:iam::{MEMBER_ACCOUNT}:user/*"
        exemption = statement(statements_of(self.role), "ReadExemptionGroup")
        assert actions_of(exemption) == {"iam:GetGroup"}

    def test_grants_the_calls_of_the_triaged_scan(self) -> None:
        granted = statement(statements_of(self.role), "ReadCredentialReportAndUsers")
        # These actions support no resource-level permission.
        assert actions_of(granted) == {
            "iam:GenerateCredentialReport",
            "iam:GetCredentialReport",
            "iam:GetAccountAuthorizationDetails",
        }
        assert granted["Resource"] == "*"

    def test_nothing_beyond_the_listed_actions_is_granted(self) -> None:
        granted = set().union(*(actions_of(s) for s in statements_of(self.role)))
        assert not any("*" in action for action in granted)
        assert not {"iam:DeleteUser", "iam:CreateUser", "secretsmanager:GetSecretValue"} & granted

    @pytest.mark.parametrize("user_name", ["alice", "svc.deploy+ci@example.com", "a_b-c=d,e"])
    def test_secret_permissions_cover_the_secret_naming(self, user_name: str) -> None:
        granted = statement(statements_of(self.role), "StoreRotatedKeys")
        pattern = substitute(granted["Resource"])
        assert iam_pattern_matches(pattern, secret_arn(MEMBER_ACCOUNT, user_name))
        assert iam_pattern_matches(pattern, secret_arn(MEMBER_ACCOUNT, user_name, "eu-west-1"))
        assert "secretsmanager:CreateSecret" in actions_of(granted)
        assert "secretsmanager:ReplicateSecretToRegions" in actions_of(granted)

    def test_only_secrets_the_pipeline_tagged_may_be_deleted(self) -> None:
        granted = statement(statements_of(self.role), "DeleteOrphanedSecrets")
        assert actions_of(granted) == {"secretsmanager:DeleteSecret"}
        assert granted["Condition"] == {
            "Null": {"secretsmanager:ResourceTag/iam-key-rotation:user-name": "false"}
        }
        pattern = substitute(granted["Resource"])
        assert iam_pattern_matches(pattern, secret_arn(MEMBER_ACCOUNT, "alice"))
        assert not iam_pattern_matches(pattern, secret_arn(OTHER_ACCOUNT, "alice"))
        store = statement(statements_of(self.role), "StoreRotatedKeys")
        assert "secretsmanager:RemoveRegionsFromReplication" in actions_of(store)

    def test_secret_permissions_exclude_other_secrets(self) -> None:
        pattern = substitute(statement(statements_of(self.role), "StoreRotatedKeys")["Resource"])
        other_secret = f"arn:aws:secretsmanager:us-east-1:{MEMBER_ACCOUNT}:secret:prod/db-AbC12d"
        assert not iam_pattern_matches(pattern, other_secret)
        # A secret named for another account's user is not this account's business.
        assert not iam_pattern_matches(pattern, secret_arn(OTHER_ACCOUNT, "alice"))


class TestOrgInventoryRole:
    role = load("org-inventory-role.yaml")["Resources"]["OrgInventoryRole"]

    def test_trusts_the_execution_role_of_the_organization(self) -> None:
        assert_trusts_only_execution_role(self.role)

    def test_is_read_only_on_organizations(self) -> None:
        granted = set().union(*(actions_of(s) for s in statements_of(self.role)))
        assert granted == {
            "organizations:ListAccounts",
            "organizations:ListAccountsForParent",
            "organizations:ListOrganizationalUnitsForParent",
            "organizations:DescribeAccount",
            "organizations:ListTagsForResource",
        }


class TestCentralSecrets:
    template = load("central-secrets.yaml")
    role = template["Resources"]["SecretsRole"]

    def test_trusts_the_execution_role_of_the_organization(self) -> None:
        assert_trusts_only_execution_role(self.role)

    def test_key_lets_the_organization_decrypt_only_through_secrets_manager(self) -> None:
        key = self.template["Resources"]["SecretsKey"]
        policy = key["Properties"]["KeyPolicy"]["Statement"]
        shared = statement(policy, "OrgDecryptViaSecretsManager")
        assert actions_of(shared) <= {"kms:Decrypt", "kms:DescribeKey"}
        assert shared["Condition"]["StringEquals"] == {
            "aws:PrincipalOrgID": {"Ref": "OrganizationId"}
        }
        assert shared["Condition"]["StringLike"] == {
            "kms:ViaService": "secretsmanager.*.amazonaws.com"
        }
        assert key["DeletionPolicy"] == "Retain"

    def test_outputs_the_key_arn_for_the_setting(self) -> None:
        outputs = self.template["Outputs"]
        assert outputs["SecretsKmsKeyArn"]["Value"] == {"Fn::GetAtt": ["SecretsKey", "Arn"]}
        assert "secrets_kms_key_id" in outputs["SecretsKmsKeyArn"]["Description"]

    def test_secret_permissions_cover_every_member_account(self) -> None:
        central_account = "999988887777"
        granted = statement(statements_of(self.role), "StoreRotatedKeys")
        pattern = substitute(granted["Resource"], central_account)
        member_secret = secret_arn(MEMBER_ACCOUNT, "alice").replace(
            f":{MEMBER_ACCOUNT}:secret:", f":{central_account}:secret:"
        )
        assert iam_pattern_matches(pattern, member_secret)
        assert not iam_pattern_matches(pattern, secret_arn(MEMBER_ACCOUNT, "alice"))


class TestExecutionPolicy:
    template = load("mwaa-execution-policy.yaml")
    statements = template["Resources"]["KeyRotationPolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]

    def conditional(self, sid: str) -> tuple[str, dict[str, Any]]:
        """The statement behind ``Fn::If [condition, statement, AWS::NoValue]``."""
        for entry in self.statements:
            condition, when_true, when_false = entry.get("Fn::If", (None, {}, None))
            if when_true.get("Sid") == sid:
                assert when_false == {"Ref": "AWS::NoValue"}
                return condition, when_true
        raise AssertionError(f"no conditional statement {sid}")

    def test_assumes_the_member_role_in_any_account(self) -> None:
        member = statement([s for s in self.statements if "Sid" in s], "AssumeMemberRoles")
        assert actions_of(member) == {"sts:AssumeRole"}
        default = self.template["Parameters"]["MemberRoleName"]["Default"]
        assert default == RotationSettings().member_role_name
        pattern = substitute(member["Resource"], MemberRoleName=default)
        assert iam_pattern_matches(pattern, f"arn:aws:iam::{MEMBER_ACCOUNT}:role/{default}")
        assert not iam_pattern_matches(pattern, f"arn:aws:iam::{MEMBER_ACCOUNT}:role/Admin")

    def test_optional_roles_and_services_are_conditional(self) -> None:
        assert self.conditional("AssumeOrgInventoryRole")[0] == "UseOrgRole"
        assert self.conditional("AssumeSecretsRole")[0] == "UseSecretsRole"
        assert self.conditional("ReadTemplates")[0] == "ReadTemplatesFromS3"
        condition, ses = self.conditional("SendNotifications")
        assert condition == "SendThroughSes"
        assert actions_of(ses) == {"ses:SendEmail", "ses:SendRawEmail"}
        assert ses["Condition"]["StringEquals"] == {"ses:FromAddress": {"Ref": "SenderEmail"}}
