"""The shapes of the AWS identifiers that settings and run params accept.

Each pattern is written once, in a syntax both Python's ``re`` and JSON Schema understand,
so the trigger form, the run conf check and the settings check agree.
"""

from __future__ import annotations

__all__ = [
    "ACCOUNT_ID",
    "EMAIL",
    "IAM_NAME",
    "IAM_USER_NAME",
    "OU_ID",
    "REGION",
    "ROLE_NAME",
    "TAG_KEY",
]

ACCOUNT_ID = r"^[0-9]{12}$"
REGION = r"^[a-z]{2}(-[a-z]+)+-[0-9]$"
OU_ID = r"^(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})$"
EMAIL = r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$"
ROLE_NAME = r"^[\w+=,.@/-]{1,64}$"
IAM_NAME = r"^[\w+=,.@-]{1,128}$"
IAM_USER_NAME = r"^[A-Za-z0-9+=,.@_-]{1,64}$"
# IAM and Organizations tag keys: 1 to 128 letters, digits, spaces and _.:/=+-@
TAG_KEY = r"^[\w .:/=+\-@]{1,128}$"
