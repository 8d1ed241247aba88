"""Make moto's STS refuse AssumeRole into a role that does not exist, as AWS does.

moto lets anyone assume any role ARN. The pipeline's most common failure in the field is
a member account where the member-role StackSet was never deployed; with this patch the
demo and the tests see the same AccessDenied as production. Roles that AWS Organizations
creates itself (``OrganizationAccountAccessRole``) are always assumable.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.iam.models import iam_backends
from moto.sts.models import STSBackend

_ALWAYS_ASSUMABLE = {"OrganizationAccountAccessRole"}

try:  # moto 5.1 and later
    from moto.core.exceptions import ServiceException

    class _AssumeRoleDenied(ServiceException):
        code = "AccessDenied"

except ImportError:  # moto 5.0, pinned by Amazon MWAA's Airflow 2.10 and 2.11
    from moto.core.exceptions import RESTError

    class _AssumeRoleDenied(RESTError):  # type: ignore[no-redef]
        code = 403

        def __init__(self, message: str) -> None:
            super().__init__("AccessDenied", message)


def _role_exists(role_arn: str) -> bool:
    account_id = role_arn.split(":")[4]
    role_name = role_arn.rsplit("/", 1)[-1]
    if role_name in _ALWAYS_ASSUMABLE:
        return True
    backend = iam_backends[account_id]["global"]
    return any(role.name == role_name for role in backend.roles.values())


@contextmanager
def assume_role_requires_role() -> Iterator[None]:
    original = STSBackend.assume_role

    def assume_role(self: STSBackend, *args: Any, **kwargs: Any) -> Any:
        role_arn = kwargs.get("role_arn") or args[2]
        if not _role_exists(role_arn):
            raise _AssumeRoleDenied(
                f"User: arn:aws:sts::123456789012:assumed-role/airflow-execution-role/worker "
                f"is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
            )
        return original(self, *args, **kwargs)

    STSBackend.assume_role = assume_role  # type: ignore[method-assign]
    try:
        yield
    finally:
        STSBackend.assume_role = original  # type: ignore[method-assign]
