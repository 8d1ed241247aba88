"""Airflow operators of the rotation pipeline: thin shells over the package.

Each operator reads the settings Variable and the run's options at task start, so a bad
value fails that task with a message naming it, before any AWS call. Tasks hand each other
explicit, versioned results (``keyrotation.account_results``), passed in the DAG as the
upstream tasks' outputs.
"""

from keyrotation.compat import HITL_AVAILABLE
from keyrotation.operators.accounts import (
    CONFIG_SECTION,
    ListAccountsOperator,
    max_map_length,
    rotation_scheduling,
)
from keyrotation.operators.base import KeyRotationBaseOperator
from keyrotation.operators.notification import (
    SendNotificationsOperator,
    changes_made,
    is_backfill,
)
from keyrotation.operators.rotation import (
    IamUsersConsoleLink,
    PlanAccountKeysOperator,
    RotateAccountKeysOperator,
)

__all__ = [
    "CONFIG_SECTION",
    "HITL_AVAILABLE",
    "IamUsersConsoleLink",
    "KeyRotationBaseOperator",
    "ListAccountsOperator",
    "PlanAccountKeysOperator",
    "RotateAccountKeysOperator",
    "SendNotificationsOperator",
    "changes_made",
    "is_backfill",
    "max_map_length",
    "rotation_scheduling",
]

if HITL_AVAILABLE:
    from keyrotation.operators.approval import ApprovalPathOperator, ApprovePlanOperator

    __all__ += ["ApprovalPathOperator", "ApprovePlanOperator"]
