"""Fixtures of the console's browser tests: Debian's Chromium through Playwright (nothing is
downloaded), and a context signed in as an admin, one per test module."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.conftest import ApiClient, make_admin, register
from tests.console.browsing import DESKTOP, WAIT_MS, sign_in
from tests.support.stack import Stack


@pytest.fixture(scope="module")
def admin(stack: Stack) -> Iterator[ApiClient]:
    with register(stack.api_url) as account:
        yield make_admin(stack, account)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


@contextmanager
def signed_in_context(stack: Stack, browser: Browser, admin: ApiClient) -> Iterator[BrowserContext]:
    """A fresh browser context signed in to the console as the admin, closed on the way out."""
    context = browser.new_context(base_url=stack.api_url, viewport=DESKTOP)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.goto("/admin/login")
    sign_in(page, admin)
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible(timeout=WAIT_MS)
    page.close()
    try:
        yield context
    finally:
        context.close()


@pytest.fixture(scope="module")
def context(stack: Stack, browser: Browser, admin: ApiClient) -> Iterator[BrowserContext]:
    """A browser signed in as the admin, shared by the tests of a module."""
    with signed_in_context(stack, browser, admin) as signed_in:
        yield signed_in


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    try:
        yield page
    finally:
        page.close()
