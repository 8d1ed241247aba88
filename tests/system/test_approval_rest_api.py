"""A person approves the destructive changes: the plan waits on its Required Actions page,
is answered through the REST API as the UI does, and only an approval changes keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.system.browser import browser_page, log_in, screenshot_folder, settle
from tests.system.organization import ADMIN_EMAIL
from tests.system.stack import DAG_ID, AirflowApi, wait_for

pytestmark = pytest.mark.system

APPROVE_TASK = "approve_plan"
#: Human-in-the-loop tasks wait in awaiting_input (Airflow 3.3+) or deferred (3.1, 3.2).
WAITING = {"awaiting_input", "deferred"}
#: The settings of this module's Airflow (the ``airflow`` fixture).
AIRFLOW_SETTINGS = {"approval": "destructive"}


def wait_for_approval_request(api: AirflowApi, run_id: str) -> dict:
    def waiting() -> bool:
        api.stack.check_running()
        states = api.task_states(run_id)
        assert states.get((APPROVE_TASK, "")) not in {"failed", "upstream_failed", "skipped"}, (
            states
        )
        return states.get((APPROVE_TASK, "")) in WAITING

    wait_for("the plan to wait for approval", waiting, timeout=300)
    return api.hitl_detail(run_id, APPROVE_TASK)


def destructive_changes(body: str) -> set[tuple[str, str, str]]:
    """(user, access key, action) of each row of the request's table of changes."""
    changes = set()
    for line in body.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 5 and cells[3] in {"DEACTIVATE", "DELETE", "ROTATE_AND_DELETE"}:
            changes.add((cells[1], cells[2], cells[3]))
    return changes


def test_a_dry_run_never_waits_for_approval(airflow, organization):
    _, api = airflow
    keys_before = organization.keys()
    run_id = api.trigger({"dry_run": True})

    assert api.wait_for_run(run_id) == "success", api.task_states(run_id)
    states = api.task_states(run_id)
    assert states[("approval_needed", "")] == "success"
    assert states[("plan_account_keys", "")] == "skipped"
    assert states[(APPROVE_TASK, "")] == "skipped"
    assert organization.keys() == keys_before


def test_a_rejected_plan_changes_nothing_and_the_emails_say_so(airflow, organization):
    _, api = airflow
    keys_before = organization.keys()
    secrets_before = organization.stored_key_ids()
    emails_before = len(organization.emails())
    run_id = api.trigger({})

    request = wait_for_approval_request(api, run_id)

    assert request["options"] == ["Approve", "Reject"]
    assert request["defaults"] == ["Reject"]
    assert destructive_changes(request["body"]), request["body"]
    # Planning read only: nothing changed while the plan waits.
    assert organization.keys() == keys_before
    asks = [
        e for e in organization.emails()[emails_before:] if "waiting for your decision" in e.subject
    ]
    assert [e.to for e in asks] == [ADMIN_EMAIL]
    assert f"/runs/{run_id}/tasks/{APPROVE_TASK}/required_actions" in asks[0].text

    api.respond(run_id, APPROVE_TASK, "Reject")

    assert api.wait_for_run(run_id) == "success", api.task_states(run_id)
    assert organization.keys() == keys_before
    assert organization.stored_key_ids() == secrets_before
    sent = organization.emails()[emails_before:]
    account_emails = [e for e in sent if "Account " in e.subject]
    assert account_emails and all("rejected by admin" in e.text for e in account_emails)
    assert any("not approved" in e.text for e in account_emails)
    (summary,) = [e for e in sent if e.to == ADMIN_EMAIL and "waiting" not in e.subject]
    assert "rejected by admin" in summary.text
    assert "Evidence report" in summary.text


def test_the_plan_waits_on_its_required_actions_page_and_is_answered_there(
    airflow, organization, tmp_path_factory
):
    stack, api = airflow
    keys_before = organization.keys()
    run_id = api.trigger({})
    request = wait_for_approval_request(api, run_id)
    (user, key, action) = sorted(destructive_changes(request["body"]))[0]
    shots = screenshot_folder(tmp_path_factory)

    with browser_page(tmp_path_factory.getbasetemp() / "approval-failure.png") as page:
        url = f"{stack.api_url}/dags/{DAG_ID}/runs/{run_id}/tasks/{APPROVE_TASK}/required_actions"
        log_in(page, stack, url)
        page.get_by_text(request["subject"]).first.wait_for()
        page.get_by_text(key).first.wait_for()
        settle(page)
        page.screenshot(path=str(shots / "ui-approval-required-action.png"), full_page=True)
        page.get_by_role("button", name="Reject").first.click()
        wait_for(
            "the answer from the page",
            lambda: api.hitl_detail(run_id, APPROVE_TASK).get("chosen_options") == ["Reject"],
            timeout=60,
        )

    assert api.wait_for_run(run_id) == "success", api.task_states(run_id)
    assert organization.keys() == keys_before, (user, key, action)


def test_an_approved_plan_runs_exactly_its_changes(airflow, organization):
    stack, api = airflow
    keys_before = organization.keys()
    run_id = api.trigger({})

    request = wait_for_approval_request(api, run_id)
    approved = destructive_changes(request["body"])
    api.respond(run_id, APPROVE_TASK, "Approve")

    assert api.wait_for_run(run_id) == "success", api.task_states(run_id)
    keys_after = organization.keys()
    for user, key, action in approved:
        (account_id,) = {
            account
            for (account, name), keys in keys_before.items()
            if name == user and key in dict(keys)
        }
        now = dict(keys_after[(account_id, user)])
        if action == "DEACTIVATE":
            assert now.get(key) == "Inactive", (user, key, now)
        else:
            assert key not in now, (user, key, now)
    # Every rotation due went ahead too: rotations need no approval under "destructive".
    assert keys_after != keys_before
    report = _report_text(stack.home)
    assert "approved by admin" in report


def _report_text(home: Path) -> str:
    """The newest evidence report's HTML page under the default report location."""
    pages = list((home / "iam-key-rotation-reports").rglob("report.html"))
    assert pages, f"no report under {home}"
    return max(pages, key=lambda p: p.stat().st_mtime).read_text()
