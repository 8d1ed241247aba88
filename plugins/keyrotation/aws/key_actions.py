"""Crash-safe execution of planned key actions in one member account.

A rotation never leaves a key that nobody received: every step that can fail runs before
CreateAccessKey; a failure after it deletes the new key before the error propagates; and
because a dying process cannot clean up, the intent is recorded on the secret first, so
the next run recognises the undelivered key and deletes it (``find_interrupted``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from keyrotation.aws.scan import ScannedUser
from keyrotation.aws.secret_store import (
    USER_POLICY_NAME,
    PendingRotation,
    SecretLocation,
    SecretStore,
    SecretStoreError,
)
from keyrotation.aws.sessions import error_code
from keyrotation.compat import register_secret

__all__ = [
    "CLOCK_SKEW",
    "InterruptedRotation",
    "KeyActionError",
    "KeyActions",
    "RotationResult",
    "describe_error",
]

logger = logging.getLogger(__name__)

#: How far IAM's clock may be behind ours: a key created this long before the recorded
#: intent still counts as created by the interrupted rotation.
CLOCK_SKEW = timedelta(minutes=5)
_GONE = "NoSuchEntity"


class KeyActionError(RuntimeError):
    """A key action failed; the message holds no secret."""


@dataclass(frozen=True)
class RotationResult:
    new_access_key_id: str
    secret: SecretLocation


@dataclass(frozen=True)
class InterruptedRotation:
    """A rotation that recorded its intent and never finished.

    ``undelivered``: keys proven to have been created by it and never delivered (Active,
    never used, created after the intent, not the key in the secret, not the key being
    replaced). ``unresolved``: why the user's keys cannot be judged, if they cannot.
    """

    pending: PendingRotation
    undelivered: tuple[str, ...] = ()
    unresolved: str | None = None


def describe_error(error: BaseException, *, hide: str | None = None) -> str:
    """A one-line description of ``error`` for records and logs, with ``hide`` removed."""
    if isinstance(error, ClientError):
        message = error.response.get("Error", {}).get("Message", "")
        text = f"{error.operation_name}: {error_code(error)}: {message}"
    else:
        text = f"{type(error).__name__}: {error}"
    if hide:
        text = text.replace(hide, "***")
    return text


class KeyActions:
    """DEACTIVATE, DELETE and ROTATE for the users of one account."""

    def __init__(
        self,
        iam: BaseClient,
        store: SecretStore,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._iam = iam
        self._store = store
        self._clock = clock

    def deactivate(self, user_name: str, access_key_id: str) -> None:
        """Idempotent: a key already inactive stays so; a key already gone is done."""
        try:
            self._iam.update_access_key(
                UserName=user_name, AccessKeyId=access_key_id, Status="Inactive"
            )
        except ClientError as error:
            if error_code(error) != _GONE:
                raise
            logger.info("%s: key %s is already gone", user_name, access_key_id)

    def delete(self, user_name: str, access_key_id: str) -> None:
        """Idempotent: a key already gone is done."""
        try:
            self._iam.delete_access_key(UserName=user_name, AccessKeyId=access_key_id)
        except ClientError as error:
            if error_code(error) != _GONE:
                raise
            logger.info("%s: key %s is already gone", user_name, access_key_id)

    def rotate(self, user: ScannedUser, *, replaces: str) -> RotationResult:
        """Create a new key for ``user`` and store it in the user's secret.

        The replaced key is left as it is. Raises KeyActionError (or the AWS error of a
        step before the key existed); either way no undelivered key remains, unless the
        process dies, which the intent recorded on the secret covers.
        """
        location = self._store.prepare(user.name, user.arn)
        self._iam.put_user_policy(
            UserName=user.name,
            PolicyName=USER_POLICY_NAME,
            PolicyDocument=json.dumps(self._store.user_policy(location)),
        )
        self._store.mark_pending(location, replaces=replaces, since=self._clock())
        created = self._iam.create_access_key(UserName=user.name)["AccessKey"]
        secret = created["SecretAccessKey"]
        register_secret(secret)
        new_key = created["AccessKeyId"]
        try:
            self._store.store_key(location, created)
        except BaseException as error:
            deleted = self._discard_new_key(user.name, new_key)
            if not isinstance(error, Exception):
                raise  # the process is going down: the next run cleans up
            if deleted:
                self._clear_pending(location)
            outcome = (
                "the new key was deleted"
                if deleted
                else "the new key could not be deleted now; the next run deletes it"
            )
            raise KeyActionError(
                f"storing new key {new_key} in secret {location.name} failed "
                f"({describe_error(error, hide=secret)}); {outcome}"
            ) from None
        finally:
            # A traceback keeps its frames' locals alive: drop the secret from this one.
            del created, secret
        # From here the key is delivered: a failure to tidy up must not undo it.
        self._clear_pending(location)
        return RotationResult(new_access_key_id=new_key, secret=location)

    def find_interrupted(
        self,
        users: Mapping[str, ScannedUser],
        pending_rotations: Iterable[PendingRotation] | None = None,
    ) -> list[InterruptedRotation]:
        """The unfinished rotations of the scanned ``users``. Reads only.

        ``pending_rotations``: the store's, when already read.
        """
        found = []
        if pending_rotations is None:
            pending_rotations = self._store.pending_rotations()
        for pending in pending_rotations:
            user = users.get(pending.user_name)
            if user is None:
                logger.info(
                    "%s: unfinished rotation recorded on %s, but the user is exempt or gone",
                    pending.user_name,
                    pending.secret.name,
                )
                continue
            try:
                stored = self._store.stored_access_key_id(pending.secret)
            except SecretStoreError as error:
                found.append(InterruptedRotation(pending, unresolved=str(error)))
                continue
            undelivered = tuple(
                key.access_key_id
                for key in user.keys
                if key.active
                and key.last_used is None
                and key.created >= pending.since - CLOCK_SKEW
                and key.access_key_id not in (stored, pending.replaces)
            )
            found.append(InterruptedRotation(pending, undelivered=undelivered))
        return found

    def clean_up(self, interrupted: InterruptedRotation) -> None:
        """Delete the undelivered keys of an interrupted rotation and its record."""
        if interrupted.unresolved:
            raise KeyActionError(interrupted.unresolved)
        for access_key_id in interrupted.undelivered:
            self.delete(interrupted.pending.user_name, access_key_id)
        self._store.clear_pending(interrupted.pending.secret)

    def _discard_new_key(self, user_name: str, access_key_id: str) -> bool:
        try:
            self.delete(user_name, access_key_id)
        except Exception as error:
            logger.error(
                "%s: could not delete the undelivered new key %s (%s); the next run deletes it",
                user_name,
                access_key_id,
                describe_error(error),
            )
            return False
        return True

    def _clear_pending(self, location: SecretLocation) -> None:
        try:
            self._store.clear_pending(location)
        except Exception as error:
            # Harmless: the next run sees the stored key and drops the record.
            logger.warning(
                "Could not remove the rotation record from %s: %s",
                location.name,
                describe_error(error),
            )
