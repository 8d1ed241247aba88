"""A real browser for the system tests: Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.system.stack import ADMIN_USER, REPO, AirflowStack

CHROMIUM = Path("/usr/bin/chromium")
DOCS = REPO / "docs"


def screenshot_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: docs/ only when asked, so a test run leaves the tree clean."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        return DOCS
    return tmp_path_factory.mktemp("screenshots")


@contextmanager
def browser_page(failure_shot: Path) -> Iterator[Any]:
    """A page of a fresh chromium; a screenshot of it at ``failure_shot`` if the test fails."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(30_000)
        try:
            yield page
        except BaseException:
            page.screenshot(path=str(failure_shot))
            raise
        finally:
            browser.close()


def log_in(page: Any, stack: AirflowStack, url: str) -> None:
    """Open ``url``, logging in on the way as the stack's admin."""
    page.goto(url)
    page.get_by_label("Username").fill(ADMIN_USER)
    page.get_by_label("Password").fill(stack.password)
    page.keyboard.press("Enter")


def settle(page: Any) -> None:
    page.wait_for_load_state("networkidle")
    time.sleep(1)  # the grid animates its bars in
