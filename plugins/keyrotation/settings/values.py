"""The value types of the settings: how a key's JSON value is read and checked.

Strict types: a string is not a number and ``0`` is not ``false``. Text is trimmed and
JSON null reads as empty; identifiers must have their AWS shape (or be empty, meaning
"not set"); lists of ids or regions may be written as one comma- or blank-separated string.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, Strict

from keyrotation import identifiers

__all__ = [
    "AccountId",
    "AccountIds",
    "Days",
    "Email",
    "Flag",
    "GroupName",
    "Hours",
    "OrganizationUnitId",
    "PermissionSetName",
    "PortalUrl",
    "Regions",
    "RoleName",
    "TagKey",
    "Text",
    "Trimmed",
]


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


#: Trims a choice (``Annotated[Literal[...], Trimmed]``) before it is compared.
Trimmed = BeforeValidator(_text)

Flag = Annotated[bool, Strict()]
Days = Annotated[int, Strict(), Field(ge=1)]
#: At least an hour, at most two weeks.
Hours = Annotated[int, Strict(), Field(ge=1, le=24 * 14)]
Text = Annotated[str, Strict(), Trimmed]
AccountId = Annotated[Text, _shaped(identifiers.ACCOUNT_ID, "a 12-digit account id")]
RoleName = Annotated[Text, _shaped(identifiers.ROLE_NAME, "a valid IAM role name")]
Email = Annotated[Text, _shaped(identifiers.EMAIL, "an email address")]
GroupName = Annotated[Text, _shaped(identifiers.IAM_NAME, "a valid group name")]
TagKey = Annotated[Text, _shaped(identifiers.TAG_KEY, "a valid tag key")]
OrganizationUnitId = Annotated[
    Text, _shaped(identifiers.OU_ID, "an OU id (ou-...) or a root id (r-...)")
]
PortalUrl = Annotated[
    Text, _shaped(r"^https://[^\s/?#]+(/[^\s?#]*)?$", "the https:// URL of an access portal")
]
PermissionSetName = Annotated[Text, _shaped(identifiers.IAM_NAME, "a permission set name")]
AccountIds = Annotated[tuple[AccountId, ...], Strict(), BeforeValidator(_text_list)]
Regions = Annotated[
    tuple[Annotated[Text, _shaped(identifiers.REGION, "an AWS region")], ...],
    Strict(),
    BeforeValidator(_text_list),
]
