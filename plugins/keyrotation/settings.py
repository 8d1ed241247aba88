"""Typed settings of the rotation pipeline, read from one JSON object.

The Airflow Variable ``iam_access_key_rotation`` holds a flat JSON object whose every key
is optional. The schema below is the only description of those keys: it validates them,
names the first bad key in ``SettingsError`` and writes the README's settings table
(``python -m keyrotation.settings --markdown``). The keys are grouped by what they steer;
``RotationSettings`` is every group at once, so ``settings.member_role_name`` reads a key
directly and a function that needs one group can ask for that group's type.

Adding a setting is one field, with its default and description, in its group; then
regenerate the README table (a test fails until it matches).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    model_validator,
)

from keyrotation import identifiers
from keyrotation.policy import PolicySettings

__all__ = [
    "GROUPS",
    "VARIABLE_NAME",
    "ApprovalSettings",
    "InventorySettings",
    "NotificationSettings",
    "PolicyGroupSettings",
    "RotationSettings",
    "SecretSettings",
    "SettingsError",
    "markdown_table",
    "settings_from_json",
]

VARIABLE_NAME = "iam_access_key_rotation"


class SettingsError(ValueError):
    """A setting is missing, unknown or ill-typed; the message names it."""


# --- value types --------------------------------------------------------------------------


def _text(value: Any) -> Any:
    """JSON null means empty; surrounding blanks are dropped."""
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else value


def _text_list(value: Any) -> Any:
    """A list of strings, or one string of entries separated by commas or blanks."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = [part for part in re.split(r"[\s,]+", value) if part]
    if isinstance(value, list | tuple):
        return tuple(item.strip() if isinstance(item, str) else item for item in value)
    return value


def _shaped(pattern: str, what: str) -> AfterValidator:
    """Accept empty text or text matching ``pattern``; else say it is not ``what``."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if value and not compiled.match(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return AfterValidator(check)


Flag = Annotated[bool, Strict()]
Days = Annotated[int, Strict(), Field(ge=1)]
Text = Annotated[str, Strict(), BeforeValidator(_text)]
AccountId = Annotated[Text, _shaped(identifiers.ACCOUNT_ID, "a 12-digit account id")]
RoleName = Annotated[Text, _shaped(identifiers.ROLE_NAME, "a valid IAM role name")]
Email = Annotated[Text, _shaped(identifiers.EMAIL, "an email address")]
AccountIds = Annotated[tuple[AccountId, ...], Strict(), BeforeValidator(_text_list)]
Regions = Annotated[
    tuple[Annotated[Text, _shaped(identifiers.REGION, "an AWS region")], ...],
    Strict(),
    BeforeValidator(_text_list),
]


# --- the groups ---------------------------------------------------------------------------


class _Settings(BaseModel):
    """Frozen, no unknown keys, and errors as ``SettingsError`` naming the key."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    group: ClassVar[str]

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise SettingsError(_describe(error, type(self))) from None


class PolicyGroupSettings(_Settings):
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
    exemption_group: Annotated[Text, _shaped(identifiers.IAM_NAME, "a valid group name")] = Field(
        default="IAMKeyRotationExemptionGroup",
        description="members are never touched; a missing group exempts nobody",
    )
    exempt_tag: Annotated[Text, _shaped(identifiers.TAG_KEY, "a valid tag key")] = Field(
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


class InventorySettings(_Settings):
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
    inventory_ou: Annotated[
        Text, _shaped(identifiers.OU_ID, "an OU id (ou-...) or a root id (r-...)")
    ] = Field(
        default="",
        description="an OU id (`ou-...`) or root id: only accounts under it, recursively",
    )
    include_accounts: AccountIds = Field(
        default=(), description="account ids to process; empty: every account"
    )
    exclude_accounts: AccountIds = Field(default=(), description="account ids never processed")
    scan_mode: Annotated[
        Literal["auto", "credential_report", "per_user"], BeforeValidator(_text)
    ] = Field(
        default="auto",
        description="`auto`: the credential report chooses whose keys to read, and every user "
        "is read when it cannot be had; `credential_report`: the report or fail; `per_user`: "
        "read every user's keys",
    )

    @model_validator(mode="after")
    def _organization_role_is_complete(self) -> InventorySettings:
        if bool(self.org_account_id) != bool(self.org_role_name):
            raise ValueError(
                "org_account_id and org_role_name go together: set both to list accounts "
                "through a role in the management account, or neither"
            )
        return self


class SecretSettings(_Settings):
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


class NotificationSettings(_Settings):
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
    email_transport: Annotated[Literal["ses", "smtp"], BeforeValidator(_text)] = Field(
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
    sso_start_url: Annotated[
        Text, _shaped(r"^https://[^\s/?#]+(/[^\s?#]*)?$", "the https:// URL of an access portal")
    ] = Field(
        default="",
        description="an IAM Identity Center access portal (`https://d-xxxxxxxxxx.awsapps.com/start`)"
        ": the console link opens accounts through the portal instead of switching role",
    )
    sso_permission_set: Annotated[Text, _shaped(identifiers.IAM_NAME, "a permission set name")] = (
        Field(
            default="",
            description="the permission set people use in the portal (with `sso_start_url`)",
        )
    )

    @model_validator(mode="after")
    def _portal_is_complete(self) -> NotificationSettings:
        if bool(self.sso_start_url) != bool(self.sso_permission_set):
            raise ValueError(
                "sso_start_url and sso_permission_set go together: the console link opens "
                "an account through the portal with that permission set"
            )
        return self


class ApprovalSettings(_Settings):
    """Whether a person approves the run's changes before they are made (Airflow 3.1+)."""

    group: ClassVar[str] = "approval"

    approval: Annotated[Literal["none", "destructive", "all"], BeforeValidator(_text)] = Field(
        default="none",
        description="`none`: act on the plan at once; `destructive`: a person approves every "
        "deactivation and deletion in the Airflow UI before it is made (rotations and warnings "
        "go ahead); `all`: every change waits for approval. Needs Airflow 3.1 or later; dry "
        "runs never wait",
    )
    approval_timeout_hours: Annotated[int, Strict(), Field(ge=1, le=24 * 14)] = Field(
        default=24,
        description="hours the approval waits for an answer; then the plan counts as rejected "
        "and nothing changes",
    )

    @property
    def approval_required(self) -> bool:
        return self.approval != "none"


#: The groups, in the order the README lists them.
GROUPS: tuple[type[_Settings], ...] = (
    PolicyGroupSettings,
    ApprovalSettings,
    InventorySettings,
    SecretSettings,
    NotificationSettings,
)


class RotationSettings(
    NotificationSettings, SecretSettings, InventorySettings, ApprovalSettings, PolicyGroupSettings
):
    """Everything an operator of the pipeline can set, with the safe defaults."""

    group: ClassVar[str] = "all"

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> RotationSettings:
        """Build settings from a JSON object, rejecting unknown and ill-typed keys."""
        if values is None:
            values = {}
        if not isinstance(values, Mapping):
            raise SettingsError(f"settings must be a JSON object, got {type(values).__name__}")
        return cls(**{str(name): value for name, value in values.items()})


def settings_from_json(text: str | None) -> RotationSettings:
    """Settings from the Variable's JSON text; None (no Variable) means every default."""
    if text is None or not text.strip():
        return RotationSettings()
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise SettingsError(
            f"the Variable {VARIABLE_NAME!r} is not valid JSON: {error.msg} "
            f"(line {error.lineno}, column {error.colno})"
        ) from None
    return RotationSettings.from_mapping(values)


# --- error messages -----------------------------------------------------------------------

_PROBLEMS = {
    "bool_type": "must be true or false",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "string_type": "must be a string",
    "tuple_type": "must be a list of strings",
    "string_too_short": "must not be empty",
}


def _describe(error: ValidationError, model: type[BaseModel]) -> str:
    """The first problem of ``error`` in words that name the key (and the list entry)."""
    first = error.errors(include_url=False)[0]
    kind, location = first["type"], first["loc"]
    name = str(location[0]) if location else ""
    if kind == "extra_forbidden":
        known = ", ".join(sorted(model.model_fields))
        return f"unknown setting {name!r}; known settings: {known}"
    if kind == "value_error":
        detail = str(first["ctx"]["error"])
    elif kind == "less_than_equal":
        detail = f"must be at most {first['ctx']['le']}, got {first['input']!r}"
    elif kind == "greater_than_equal":
        unit = " day" if name.endswith("_days") else ""
        detail = f"must be at least {first['ctx']['ge']}{unit}, got {first['input']!r}"
    else:
        problem = _PROBLEMS.get(kind) or first["msg"][:1].lower() + first["msg"][1:]
        if kind.startswith("int") and name.endswith("_days"):
            problem += " of days"
        detail = f"{problem}, got {first['input']!r}"
    where = "".join([name, *(f"[{index}]" for index in location[1:])])
    return f"{where}: {detail}" if where else detail


# --- documentation ------------------------------------------------------------------------


def _shown(default: Any) -> str:
    if default in ("", ()):
        return "empty"
    return f"`{default}`" if isinstance(default, str) else f"`{json.dumps(default)}`"


def markdown_table() -> str:
    """The README's settings table: one row per key, by group, in declaration order."""
    rows = ["| group | key | default | meaning |", "|---|---|---|---|"]
    for group in GROUPS:
        for name, info in group.model_fields.items():
            default = _shown(info.default)
            rows.append(f"| {group.group} | `{name}` | {default} | {info.description} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] != ["--markdown"]:
        sys.exit("usage: python -m keyrotation.settings --markdown")
    sys.stdout.write(markdown_table())
