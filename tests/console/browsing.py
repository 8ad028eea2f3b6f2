"""What the console's browser tests share (fixtures are in conftest.py): sizes, waits, screenshots
under .test-artifacts/console/, and signing in through the form."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.conftest import ApiClient
from tests.console.support import PASSWORD
from tests.support.stack import REPO

SCREENSHOTS = REPO / ".test-artifacts" / "console"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 800}
WAIT_MS = 30_000  # a page, a click, a text on a loaded machine
JOB_MS = 120_000  # a job to run once its worker is back


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def at_width(page: Page, name: str) -> None:
    """The page at desktop width, then at 375 px: nothing may overflow the phone's screen but the
    tables' own scrolling wrappers."""
    page.set_viewport_size(DESKTOP)
    screenshot(page, name)
    page.set_viewport_size(PHONE)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"{name} is {overflow}px wider than a 375px screen"
    screenshot(page, f"{name}-375")
    page.set_viewport_size(DESKTOP)


def sign_in(page: Page, admin: ApiClient) -> None:
    page.get_by_label("E-mail").fill(admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
