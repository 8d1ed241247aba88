"""Recovery of rotations that recorded their intent and never finished.

``KeyActions.rotate`` tags the secret with its intent before CreateAccessKey; a process
that dies before the key is stored leaves that record behind. The next run reads the
records here, deletes the keys nobody received, and plans the users without them.
"""

from __future__ import annotations

import logging

from botocore.exceptions import ClientError

from keyrotation.aws.errors import describe_error, error_code
from keyrotation.aws.key_actions import InterruptedRotation, KeyActions
from keyrotation.aws.scan import AccountScan, ScanError, ScannedUser
from keyrotation.aws.secret_store import PendingRotation, SecretStore

__all__ = ["pending_rotations", "recover_interrupted", "unresolved_message"]

logger = logging.getLogger(__name__)


def pending_rotations(account_id: str, store: SecretStore) -> list[PendingRotation]:
    """The unfinished rotations recorded on the account's secrets.

    Raises ScanError: without them the scan cannot tell which users to read live.
    """
    try:
        return store.pending_rotations()
    except ClientError as error:
        raise ScanError(
            f"Reading the unfinished rotations of account {account_id} failed in "
            f"{error.operation_name}: {error_code(error)}"
        ) from None


def recover_interrupted(
    scan: AccountScan,
    actions: KeyActions,
    pending: list[PendingRotation],
    *,
    clean_up: bool,
) -> tuple[list[ScannedUser], dict[str, str]]:
    """Delete the undelivered keys of interrupted rotations, then plan without them.

    With ``clean_up`` false (a dry run, a rejected plan) the keys are only named in the
    log, and the users are still planned as if they were gone, as the run that cleans
    up will plan them.

    Returns the users to plan and, for users whose state cannot be trusted, why their
    changes must not run.
    """
    users = {user.name: user for user in scan.users}
    try:
        interrupted = actions.find_interrupted(users, pending)
    except ClientError as error:
        raise ScanError(
            f"Reading the unfinished rotations of account {scan.account_id} failed in "
            f"{error.operation_name}: {error_code(error)}"
        ) from None
    blocked: dict[str, str] = {}
    for found in interrupted:
        name = found.pending.user_name
        if found.unresolved:
            blocked[name] = unresolved_message(found)
            logger.error("%s: %s", name, blocked[name])
            continue
        if found.undelivered:
            logger.warning(
                "%s: %s undelivered key(s) %s of a rotation interrupted at %s",
                name,
                "deleting" if clean_up else "would delete",
                ", ".join(found.undelivered),
                found.pending.since.isoformat(),
            )
        if clean_up:
            try:
                actions.clean_up(found)
            except Exception as error:
                blocked[name] = (
                    f"not attempted: removing the undelivered key(s) of an interrupted "
                    f"rotation failed: {describe_error(error)}"
                )
                logger.error("%s: %s", name, blocked[name])
                continue
        users[name] = users[name].without_keys(set(found.undelivered))
    return [users[name] for name in sorted(users)], blocked


def unresolved_message(found: InterruptedRotation) -> str:
    """Why a user's changes are not attempted, and what to check by hand."""
    return (
        f"not attempted: a rotation of key {found.pending.replaces} was interrupted at "
        f"{found.pending.since.isoformat()} and {found.unresolved}; check which key the "
        f"secret {found.pending.secret.name} holds, delete any never-used key not in it, "
        f"then remove the secret's iam-key-rotation:pending-* tags"
    )
