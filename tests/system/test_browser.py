"""The trigger form, the grid and a task log in a real browser (Debian's chromium driven
by Playwright), against the LocalExecutor stack. Screenshots land in pytest's temporary
folder, or in docs/ (the README's pictures) with UPDATE_SCREENSHOTS=1."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.system.browser import browser_page, log_in, screenshot_folder, settle
from tests.system.scenarios import ROTATION_TASK
from tests.system.stack import DAG_ID, AirflowApi, wait_for

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return screenshot_folder(tmp_path_factory)


FIELDS = {
    "dry_run": "Dry run (audit mode)",
    "force_rotate": "Force rotation of users",
    "accounts": "Limit this run to accounts",
}


@pytest.fixture(scope="module")
def page(airflow, tmp_path_factory):
    with browser_page(tmp_path_factory.getbasetemp() / "browser-failure.png") as page:
        yield page


def test_log_in_and_trigger_a_dry_run_from_the_form(airflow, organization, page, screenshots):
    stack, api = airflow
    log_in(page, stack, f"{stack.api_url}/dags/{DAG_ID}")
    page.get_by_role("button", name="Trigger").first.click()

    form = page.get_by_role("dialog")
    for title in FIELDS.values():
        form.get_by_text(title, exact=True).wait_for()
    text = form.inner_text()
    assert "Report what would change and change nothing" in text
    assert "Write 123456789012:alice to act in one account only" in text
    assert "empty means every account of the inventory" in text
    labels = [label.strip() for label in form.locator("label").all_inner_texts()]
    for title in FIELDS.values():
        assert title in labels, labels  # no required-field asterisk after the title
    form.locator("label").filter(has=page.locator("input[name='element_dry_run']")).click()
    assert page.locator("input[name='element_dry_run']").is_checked()
    keys_before = organization.keys()
    form.get_by_role("button", name="Trigger").click()

    run = wait_for("the triggered run", lambda: _manual_run(api), timeout=60)
    assert run["conf"]["dry_run"] is True
    assert api.wait_for_run(run["dag_run_id"]) == "success"
    assert organization.keys() == keys_before

    mapped = f"{stack.api_url}/dags/{DAG_ID}/runs/{run['dag_run_id']}/tasks/{ROTATION_TASK}"
    page.goto(f"{mapped}/mapped")
    for account_id, name in organization.active_accounts.items():
        page.get_by_text(f"{account_id} {name}").first.wait_for()
    settle(page)
    page.screenshot(path=str(screenshots / "ui-mapped-tasks-by-account.png"))

    payments = organization.account_id("payments-prod")
    index = next(
        ti["map_index"]
        for ti in api.task_instances(run["dag_run_id"])
        if (ti["rendered_map_index"] or "").startswith(payments)
    )
    page.goto(f"{mapped}/mapped/{index}")
    page.get_by_text("Summary for").first.wait_for()
    settle(page)
    page.screenshot(path=str(screenshots / "ui-task-log.png"))

    page.get_by_role("link", name="Details", exact=True).click()
    link = page.get_by_role("link", name="IAM users (AWS console)")
    href = link.get_attribute("href") or ""
    assert href.startswith("https://signin.aws.amazon.com/switchrole?"), href
    assert f"account={payments}" in href


def _manual_run(api: AirflowApi) -> dict | None:
    runs = [r for r in api.dag_runs() if r["run_type"] == "manual"]
    return runs[-1] if runs else None
