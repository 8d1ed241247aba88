"""One user's plan: every action recorded; a failure or a refusal stops the changes after it."""

from __future__ import annotations

from datetime import UTC, datetime

from keyrotation.aws.scan import ScannedKey, ScannedUser
from keyrotation.aws.secret_store import SecretStore
from keyrotation.planner import UserPlan
from keyrotation.policy import Action, ActionType, Reason
from keyrotation.results import Account, Outcome
from keyrotation.rotation.executor import ActionResult, DryRunExecutor, Hold
from keyrotation.rotation.user_run import execute_plan

A = ActionType
ACCOUNT = Account("111122223333", "prod", "p@example.com")
CREATED = datetime(2024, 1, 1, tzinfo=UTC)
USER = ScannedUser(
    "ivan",
    "arn:aws:iam::111122223333:user/ivan",
    (
        ScannedKey("AKIA1", "Active", CREATED, CREATED),
        ScannedKey("AKIA2", "Active", CREATED, CREATED),
    ),
)
PLAN = UserPlan(
    USER,
    (
        Action(A.WARN, "AKIA2", "ivan", Reason.KEY_PENDING_ROTATION, due=CREATED),
        Action(A.DELETE, "AKIA1", "ivan", Reason.EXPIRED_ACTIVE_KEY_CONFLICT_LRU),
        Action(A.ROTATE, "AKIA2", "ivan", Reason.EXPIRED_ACTIVE_KEY),
    ),
)


class FakeSecrets:
    """A SecretStore with no AWS behind it: only names and the region are asked for."""

    region = "us-east-1"

    def secret_name(self, user_name: str) -> str:
        return f"Account_111122223333_User_{user_name}_AccessKey"


class ScriptedExecutor:
    """Answers each action type as told and notes what it was asked to apply."""

    hold: Hold | None = None

    def __init__(self, answers: dict[ActionType, ActionResult], refuse: set[ActionType]) -> None:
        self.answers, self.refuse, self.applied = answers, refuse, []

    def refusal(self, user_name: str, action: Action) -> str | None:
        return "not in the approved plan" if action.action in self.refuse else None

    def apply(self, user: ScannedUser, action: Action) -> ActionResult:
        self.applied.append(action.action)
        return self.answers[action.action]

    def withhold(self, user: ScannedUser, action: Action, why: str) -> ActionResult:
        return ActionResult(Outcome.FAILED, error=why)


def run(executor, blocked: str | None = None):
    store: SecretStore = FakeSecrets()  # type: ignore[assignment]
    return execute_plan(
        PLAN, account=ACCOUNT, executor=executor, store=store, owner=None, blocked=blocked
    )


def test_a_failure_stops_the_users_later_changes_but_not_its_warnings() -> None:
    executor = ScriptedExecutor({A.DELETE: ActionResult(Outcome.FAILED, error="denied")}, set())

    records = run(executor)

    assert executor.applied == [A.DELETE]
    assert [(r.action, r.outcome, r.error) for r in records] == [
        ("WARN", "warned", None),
        ("DELETE", "failed", "denied"),
        ("ROTATE", "failed", "not attempted: the DELETE before it failed"),
    ]


def test_a_refused_action_and_the_users_later_changes_are_not_approved() -> None:
    executor = ScriptedExecutor({A.ROTATE: ActionResult(Outcome.DONE)}, {A.DELETE})

    records = run(executor)

    assert executor.applied == []
    assert [(r.action, r.outcome, r.error) for r in records] == [
        ("WARN", "warned", None),
        ("DELETE", "not approved", "not in the approved plan"),
        ("ROTATE", "not approved", "not attempted: the DELETE before it was not approved"),
    ]


def test_a_dry_run_records_every_change_with_where_a_new_key_would_go() -> None:
    records = run(DryRunExecutor(FakeSecrets()))  # type: ignore[arg-type]

    assert [(r.action, r.outcome) for r in records] == [
        ("WARN", "warned"),
        ("DELETE", "skipped (dry run)"),
        ("ROTATE", "skipped (dry run)"),
    ]
    assert records[1].secret_name is None
    assert (records[2].secret_name, records[2].secret_region) == (
        "Account_111122223333_User_ivan_AccessKey",
        "us-east-1",
    )


def test_a_dry_run_of_a_blocked_user_still_reports_the_plan() -> None:
    executor = DryRunExecutor(FakeSecrets())  # type: ignore[arg-type]

    records = run(executor, blocked="not attempted: interrupted")

    assert [r.outcome for r in records] == ["warned", "skipped (dry run)", "skipped (dry run)"]
