"""Typed settings of the rotation pipeline, read from one JSON object.

The Airflow Variable ``iam_access_key_rotation`` holds a JSON object whose every key is
optional. ``RotationSettings.from_mapping`` validates it and names the first bad key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from keyrotation.policy import PolicySettings, PolicySettingsError

__all__ = ["VARIABLE_NAME", "RotationSettings", "SettingsError", "settings_from_json"]

VARIABLE_NAME = "iam_access_key_rotation"

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_OU_ID = re.compile(r"^(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})$")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_ROLE_NAME = re.compile(r"^[\w+=,.@/-]{1,64}$")
_IAM_NAME = re.compile(r"^[\w+=,.@-]{1,128}$")
# IAM and Organizations tag keys: 1 to 128 letters, digits, spaces and _.:/=+-@
_TAG_KEY = re.compile(r"^[\w .:/=+\-@]{1,128}$")
_START_URL = re.compile(r"^https://[^\s/?#]+(/[^\s?#]*)?$")
_TRANSPORTS = ("ses", "smtp")
_SCAN_MODES = ("auto", "credential_report", "per_user")


class SettingsError(ValueError):
    """A setting is missing, unknown or ill-typed; the message names it."""


@dataclass(frozen=True)
class RotationSettings:
    """Everything an operator of the pipeline can set, with the safe defaults."""

    dry_run: bool = True
    rotation_period_days: int = 90
    installation_grace_days: int = 10
    recovery_grace_days: int = 10
    warning_days: int = 7
    require_new_key_use: bool = True
    new_key_use_deadline_days: int = 30
    aws_conn_id: str = "aws_default"
    member_role_name: str = "iam-key-rotation-member-role"
    org_account_id: str = ""
    org_role_name: str = ""
    inventory_ou: str = ""
    include_accounts: tuple[str, ...] = ()
    exclude_accounts: tuple[str, ...] = ()
    exemption_group: str = "IAMKeyRotationExemptionGroup"
    exempt_tag: str = "iam-key-rotation:exempt-until"
    max_exemption_days: int = 365
    owner_tag: str = "owner"
    secrets_account_id: str = ""
    secrets_kms_key_id: str = ""
    secrets_role_name: str = ""
    replication_regions: tuple[str, ...] = ()
    delete_orphaned_secrets: bool = True
    sender_email: str = ""
    admin_email: str = ""
    email_templates: str = ""
    email_transport: str = "ses"
    smtp_conn_id: str = "smtp_default"
    sso_start_url: str = ""
    sso_permission_set: str = ""
    #: auto (credential report, per-user scan when it cannot be had), credential_report
    #: or per_user.
    scan_mode: str = "auto"
    policy: PolicySettings = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            policy = PolicySettings(
                rotation_period_days=self.rotation_period_days,
                installation_grace_days=self.installation_grace_days,
                recovery_grace_days=self.recovery_grace_days,
                warning_days=self.warning_days,
                require_new_key_use=self.require_new_key_use,
                new_key_use_deadline_days=self.new_key_use_deadline_days,
            )
        except PolicySettingsError as error:
            raise SettingsError(str(error)) from None
        object.__setattr__(self, "policy", policy)
        self._validate()

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> RotationSettings:
        """Build settings from a JSON object, rejecting unknown and ill-typed keys."""
        if values is None:
            values = {}
        if not isinstance(values, Mapping):
            raise SettingsError(f"settings must be a JSON object, got {type(values).__name__}")
        known = {f.name: f for f in fields(cls) if f.init}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise SettingsError(
                f"unknown setting {unknown[0]!r}; known settings: {', '.join(sorted(known))}"
            )
        converted: dict[str, Any] = {}
        for name, value in values.items():
            converted[name] = _convert(name, value, known[name].type)
        return cls(**converted)

    @property
    def central_secrets(self) -> bool:
        return bool(self.secrets_account_id)

    def _validate(self) -> None:
        for name in ("org_account_id", "secrets_account_id"):
            value = getattr(self, name)
            if value and not _ACCOUNT_ID.match(value):
                raise SettingsError(f"{name} must be a 12-digit account id, got {value!r}")
        for name in ("include_accounts", "exclude_accounts"):
            for value in getattr(self, name):
                if not _ACCOUNT_ID.match(value):
                    raise SettingsError(f"{name} holds {value!r}, not a 12-digit account id")
        for name in ("member_role_name", "org_role_name", "secrets_role_name"):
            value = getattr(self, name)
            if value and not _ROLE_NAME.match(value):
                raise SettingsError(f"{name} {value!r} is not a valid IAM role name")
        if not self.member_role_name:
            raise SettingsError("member_role_name must not be empty")
        if bool(self.org_account_id) != bool(self.org_role_name):
            raise SettingsError(
                "org_account_id and org_role_name go together: set both to list accounts "
                "through a role in the management account, or neither"
            )
        if self.inventory_ou and not _OU_ID.match(self.inventory_ou):
            raise SettingsError(
                f"inventory_ou must be an OU id (ou-...) or a root id (r-...), "
                f"got {self.inventory_ou!r}"
            )
        if self.exemption_group and not _IAM_NAME.match(self.exemption_group):
            raise SettingsError(
                f"exemption_group {self.exemption_group!r} is not a valid group name"
            )
        if self.exempt_tag and not _TAG_KEY.match(self.exempt_tag):
            raise SettingsError(f"exempt_tag {self.exempt_tag!r} is not a valid tag key")
        if self.max_exemption_days < 1:
            raise SettingsError(
                f"max_exemption_days must be at least 1 day, got {self.max_exemption_days}"
            )
        for region in self.replication_regions:
            if not _REGION.match(region):
                raise SettingsError(f"replication_regions holds {region!r}, not an AWS region")
        if self.central_secrets and not self.secrets_kms_key_id:
            raise SettingsError(
                "secrets_kms_key_id is required when secrets_account_id is set: a secret "
                "shared across accounts must be encrypted with a customer managed KMS key "
                "that the member users may decrypt"
            )
        for name in ("sender_email", "admin_email"):
            value = getattr(self, name)
            if value and not _EMAIL.match(value):
                raise SettingsError(f"{name} {value!r} is not an email address")
        if self.email_transport not in _TRANSPORTS:
            raise SettingsError(
                f"email_transport must be one of {', '.join(_TRANSPORTS)}, "
                f"got {self.email_transport!r}"
            )
        if self.scan_mode not in _SCAN_MODES:
            raise SettingsError(
                f"scan_mode must be one of {', '.join(_SCAN_MODES)}, got {self.scan_mode!r}"
            )
        if not self.aws_conn_id:
            raise SettingsError("aws_conn_id must not be empty")
        if self.sso_start_url and not _START_URL.match(self.sso_start_url):
            raise SettingsError(
                f"sso_start_url must be the https:// URL of an IAM Identity Center access "
                f"portal, got {self.sso_start_url!r}"
            )
        if self.sso_permission_set and not _IAM_NAME.match(self.sso_permission_set):
            raise SettingsError(
                f"sso_permission_set {self.sso_permission_set!r} is not a permission set name"
            )
        if bool(self.sso_start_url) != bool(self.sso_permission_set):
            raise SettingsError(
                "sso_start_url and sso_permission_set go together: the console link opens "
                "an account through the portal with that permission set"
            )


def _convert(name: str, value: Any, annotation: Any) -> Any:
    kind = str(annotation)
    if kind == "bool":
        if not isinstance(value, bool):
            raise SettingsError(f"{name} must be true or false, got {value!r}")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(f"{name} must be a whole number of days, got {value!r}")
        return value
    if kind == "str":
        if value is None:
            return ""
        if not isinstance(value, str):
            raise SettingsError(f"{name} must be a string, got {value!r}")
        return value.strip()
    if kind.startswith("tuple"):
        if value is None:
            return ()
        if isinstance(value, str):
            value = [part for part in re.split(r"[\s,]+", value) if part]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise SettingsError(f"{name} must be a list of strings, got {value!r}")
        return tuple(v.strip() for v in value)
    raise SettingsError(f"{name} has an unsupported type")  # pragma: no cover


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
