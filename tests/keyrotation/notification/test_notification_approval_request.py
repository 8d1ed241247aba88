"""The email that asks the admins to approve a plan: the link, the changes, the deadline."""

from __future__ import annotations

from datetime import UTC, datetime

from keyrotation.account_results import AccountResult
from keyrotation.approval import ApprovalRequest
from keyrotation.notification import load_template_source
from keyrotation.notification.approval_request import send_approval_request
from keyrotation.notification.transport import RenderedEmail
from keyrotation.results import ActionRecord, Outcome
from keyrotation.settings import RotationSettings
from tests.keyrotation.notification.notification_helpers import PACKAGED, SENDER

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
LINK = "https://airflow.example.com/dags/d/runs/r/tasks/approve_plan/required_actions?map_index=-1"


class KeptTransport:
    name = "kept"
    sender = SENDER

    def __init__(self) -> None:
        self.sent: list[RenderedEmail] = []

    def send(self, message: RenderedEmail) -> str:
        self.sent.append(message)
        return "id"


def test_the_admins_get_the_link_and_every_change_to_approve_with_account_names_escaped() -> None:
    plan = AccountResult(
        account_id="111111111111",
        records=(
            ActionRecord(
                account_id="111111111111",
                user_name="bob",
                access_key_id="AKIABOB",
                action="DELETE",
                reason="RECOVER_GRACE_PERIOD_END",
                due=None,
                outcome=Outcome.DRY_RUN,
            ),
            ActionRecord(
                account_id="111111111111",
                user_name="alice",
                access_key_id="AKIAALICE",
                action="ROTATE",
                reason="EXPIRED_ACTIVE_KEY",
                due=None,
                outcome=Outcome.DRY_RUN,
            ),
        ),
    )
    request = ApprovalRequest.from_plans(
        [plan], approval="destructive", account_names={"111111111111": "<b>payments</b>"}
    )
    transport = KeptTransport()
    settings = RotationSettings(
        sender_email=SENDER, admin_email="admins@example.com", approval="destructive"
    )

    report = send_approval_request(
        headline=request.subject(),
        totals=request.totals(),
        changes=request.changes,
        unplanned={"222222222222": "AccessDenied"},
        account_names=request.account_names,
        link=LINK,
        deadline=datetime(2026, 11, 26, 6, 0, tzinfo=UTC),
        settings=settings,
        now=NOW,
        partition="aws",
        transport=transport,
        template_source=load_template_source(str(PACKAGED)),
    )

    (sent,) = transport.sent
    assert report.to_dict()["emails"][0]["to"] == "admins@example.com"
    assert sent.subject == (
        "[IAM key rotation] Approve 1 IAM access key change(s) in 1 account(s): "
        "waiting for your decision"
    )
    for body in (sent.text, sent.html):
        assert "AKIABOB" in body and "DELETE" in body
        assert "AKIAALICE" not in body  # a rotation needs no approval under "destructive"
        assert "2026-11-26 06:00 UTC" in body
        assert "222222222222: AccessDenied" in body
        assert "1 DELETE, 1 ROTATE" in body
    assert LINK in sent.text
    assert f'href="{LINK.replace("&", "&amp;")}"' in sent.html or f'href="{LINK}"' in sent.html
    assert "&lt;b&gt;payments&lt;/b&gt;" in sent.html and "<b>payments</b>" not in sent.html
