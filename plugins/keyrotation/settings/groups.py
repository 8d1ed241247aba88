"""The groups of settings, by what they steer, each with its defaults and checks.

A group validates on its own, so a function that needs one group can take that group's
type; ``RotationSettings`` (in ``loading``) is every group at once.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from keyrotation.policy import PolicySettings
from keyrotation.settings.errors import SettingsError, validation_message
from keyrotation.settings.values import (
    AccountId,
    AccountIds,
    Days,
    Email,
    Flag,
    GroupName,
    Hours,
    OrganizationUnitId,
    PermissionSetName,
    PortalUrl,
    Regions,
    RoleName,
    TagKey,
    Text,
    Trimmed,
)

__all__ = [
    "GROUPS",
    "ApprovalSettings",
    "InventorySettings",
    "NotificationSettings",
    "PolicyGroupSettings",
    "SecretSettings",
    "SettingsGroup",
]


class SettingsGroup(BaseModel):
    """Frozen, no unknown keys, and errors as ``SettingsError`` naming the key."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    group: ClassVar[str]

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise SettingsError(validation_message(error, type(self))) from None

    def set_together(self, first: str, second: str, why: str) -> None:
        """Two settings that mean something only as a pair: both set, or neither."""
        if bool(getattr(self, first)) != bool(getattr(self, second)):
            raise ValueError(f"{first} and {second} go together: {why}")


class PolicyGroupSettings(SettingsGroup):
    """When keys rotate, and whether this pipeline changes anything."""

    group: ClassVar[str] = "policy"

    dry_run: Flag = Field(
        default=True, description="audit mode: report, change nothing. Set `false` to enforce."
    )
    rotation_period_days: Days = Field(
        default=90, description="a key expires this many days after its creation"
    )
    installation_grace_days: Days = Field(
        default=10, description="the old key stays Active this long after a rotation"
    )
    recovery_grace_days: Days = Field(
        default=10, description="then stays Inactive this long before deletion"
    )
    warning_days: Days = Field(
        default=7,
        description="pending actions are announced this many days ahead (less than the period)",
    )
    require_new_key_use: Flag = Field(
        default=True,
        description="after a rotation the old key stays Active until the new key has been "
        "used, at the latest until the deadline below; `false` deactivates on time alone",
    )
    new_key_use_deadline_days: Days = Field(
        default=30,
        description="days after a rotation when the old key is deactivated even if the new "
        "key was never used (at least `installation_grace_days`, less than "
        "`rotation_period_days`)",
    )
    exemption_group: GroupName = Field(
        default="IAMKeyRotationExemptionGroup",
        description="members are never touched; a missing group exempts nobody",
    )
    exempt_tag: TagKey = Field(
        default="iam-key-rotation:exempt-until",
        description="tag on a user, or on an account in AWS Organizations, holding a date "
        "`YYYY-MM-DD`: exempt through the end of that day (UTC); the tag "
        "`iam-key-rotation:exempt-reason` says why; empty: no tag exemptions",
    )
    max_exemption_days: Days = Field(
        default=365,
        description="an exemption date further ahead than this exempts nothing and is reported",
    )

    @property
    def policy(self) -> PolicySettings:
        """The durations, as the pure policy takes them."""
        return PolicySettings(
            rotation_period_days=self.rotation_period_days,
            installation_grace_days=self.installation_grace_days,
            recovery_grace_days=self.recovery_grace_days,
            warning_days=self.warning_days,
            require_new_key_use=self.require_new_key_use,
            new_key_use_deadline_days=self.new_key_use_deadline_days,
        )

    @model_validator(mode="after")
    def _durations_fit_together(self) -> PolicyGroupSettings:
        _ = self.policy  # PolicySettings checks how the durations relate
        return self


class InventorySettings(SettingsGroup):
    """Where the accounts come from and how the pipeline reaches them."""

    group: ClassVar[str] = "inventory"

    aws_conn_id: Text = Field(
        default="aws_default",
        min_length=1,
        description="Airflow AWS connection with the base credentials, region, endpoint",
    )
    member_role_name: RoleName = Field(
        default="iam-key-rotation-member-role",
        min_length=1,
        description="role assumed in every account",
    )
    org_account_id: AccountId = Field(
        default="",
        description="list accounts through `org_role_name` in this management (or delegated "
        "administrator) account; empty: the base credentials list",
    )
    org_role_name: RoleName = Field(
        default="", description="the role that lists accounts in `org_account_id`"
    )
    inventory_ou: OrganizationUnitId = Field(
        default="",
        description="an OU id (`ou-...`) or root id: only accounts under it, recursively",
    )
    include_accounts: AccountIds = Field(
        default=(), description="account ids to process; empty: every account"
    )
    exclude_accounts: AccountIds = Field(default=(), description="account ids never processed")
    scan_mode: Annotated[Literal["auto", "credential_report", "per_user"], Trimmed] = Field(
        default="auto",
        description="`auto`: the credential report chooses whose keys to read, and every user "
        "is read when it cannot be had; `credential_report`: the report or fail; `per_user`: "
        "read every user's keys",
    )

    @model_validator(mode="after")
    def _organization_role_is_complete(self) -> InventorySettings:
        self.set_together(
            "org_account_id",
            "org_role_name",
            "set both to list accounts through a role in the management account, or neither",
        )
        return self


class SecretSettings(SettingsGroup):
    """Where the new keys are stored."""

    group: ClassVar[str] = "secrets"

    secrets_account_id: AccountId = Field(
        default="",
        description="store secrets centrally in this account (needs `secrets_kms_key_id`)",
    )
    secrets_kms_key_id: Text = Field(default="", description="KMS key for central secrets")
    secrets_role_name: RoleName = Field(
        default="",
        description="role assumed in the central secrets account; empty: `member_role_name`",
    )
    replication_regions: Regions = Field(
        default=(), description="regions each secret is replicated to"
    )
    delete_orphaned_secrets: Flag = Field(
        default=True,
        description="schedule the deletion (with the recovery window) of secrets this "
        "pipeline created for users that no longer exist",
    )

    @property
    def central_secrets(self) -> bool:
        return bool(self.secrets_account_id)

    @model_validator(mode="after")
    def _central_secrets_are_encrypted(self) -> SecretSettings:
        if self.central_secrets and not self.secrets_kms_key_id:
            raise ValueError(
                "secrets_kms_key_id is required when secrets_account_id is set: a secret "
                "shared across accounts must be encrypted with a customer managed KMS key "
                "that the member users may decrypt"
            )
        return self


class NotificationSettings(SettingsGroup):
    """Who is told, from which address, through which transport."""

    group: ClassVar[str] = "notification"

    owner_tag: Text = Field(
        default="owner", description="user tag holding the owner's email; empty: no owner emails"
    )
    sender_email: Email = Field(
        default="", description="the verified SES sender (From) and the contact for questions"
    )
    admin_email: Email = Field(
        default="", description="receives the summary of failed accounts; empty: `sender_email`"
    )
    email_templates: Text = Field(
        default="",
        description="a folder or `s3://bucket/prefix/` with your own templates; empty: the "
        "packaged templates, found in `include/email_templates` beside the DAG (in the dags "
        "folder on MWAA)",
    )
    email_transport: Annotated[Literal["ses", "smtp"], Trimmed] = Field(
        default="ses",
        description="`ses` (the connection's region; text and HTML parts) or `smtp` (the "
        "Airflow SMTP connection through the smtp provider's `SmtpHook`; HTML part)",
    )
    smtp_conn_id: Text = Field(
        default="smtp_default", description="the SMTP connection when `email_transport` is `smtp`"
    )
    report_uri: Text = Field(
        default="",
        description="where each run's evidence report goes: a folder, or `s3://bucket/prefix/` "
        "(through the amazon provider's S3Hook, with the AWS connection); empty: "
        "`$AIRFLOW_HOME/iam-key-rotation-reports` (on MWAA, set an `s3://` location: workers' "
        "disks do not last)",
    )
    sso_start_url: PortalUrl = Field(
        default="",
        description="an IAM Identity Center access portal (`https://d-xxxxxxxxxx.awsapps.com/start`)"
        ": the console link opens accounts through the portal instead of switching role",
    )
    sso_permission_set: PermissionSetName = Field(
        default="", description="the permission set people use in the portal (with `sso_start_url`)"
    )

    @model_validator(mode="after")
    def _portal_is_complete(self) -> NotificationSettings:
        self.set_together(
            "sso_start_url",
            "sso_permission_set",
            "the console link opens an account through the portal with that permission set",
        )
        return self


class ApprovalSettings(SettingsGroup):
    """Whether a person approves the run's changes before they are made (Airflow 3.1+)."""

    group: ClassVar[str] = "approval"

    approval: Annotated[Literal["none", "destructive", "all"], Trimmed] = Field(
        default="none",
        description="`none`: act on the plan at once; `destructive`: a person approves every "
        "deactivation and deletion in the Airflow UI before it is made (rotations and warnings "
        "go ahead); `all`: every change waits for approval. Needs Airflow 3.1 or later; dry "
        "runs never wait",
    )
    approval_timeout_hours: Hours = Field(
        default=24,
        description="hours the approval waits for an answer; then the plan counts as rejected "
        "and nothing changes",
    )

    @property
    def approval_required(self) -> bool:
        return self.approval != "none"


#: The groups, in the order the README lists them.
GROUPS: tuple[type[SettingsGroup], ...] = (
    PolicyGroupSettings,
    ApprovalSettings,
    InventorySettings,
    SecretSettings,
    NotificationSettings,
)
