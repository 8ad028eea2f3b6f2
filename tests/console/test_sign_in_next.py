"""Where the console sends a browser after sign-in (`next`): only to a console page, judged on the
path the browser will really open, that is after percent-decoding (however many times it was
encoded) and after `.`/`..` segments are resolved, which a browser does for `%2e` too."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from urllib.parse import quote, urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from api.console.signin import safe_next
from tests.conftest import ApiClient
from tests.console.browsing import DESKTOP, WAIT_MS, sign_in
from tests.console.support import console_sign_in
from tests.support.stack import Stack

# `next` as the route receives it (the query string's own encoding already undone).
LEAVING_THE_CONSOLE = [
    "/admin/.%2e/v1/webhooks/secret",  # the issue's /admin/login?next=/admin/.%252e/v1/webhooks/secret
    "/admin/%2e./v1/webhooks/secret",
    "/admin/%2e%2e/v1/webhooks/secret",
    "/admin/%2E%2e/v1/webhooks/secret",
    "/admin/.%2E/v1/webhooks/secret",
    "/admin/%252e%252e/v1/webhooks/secret",
    "/admin/%25252e%25252e/v1/webhooks/secret",
    "/admin/%2e%2e%2fv1/webhooks/secret",
    "/admin/jobs/%2e%2e/%2e%2e/v1/jobs",
    "/admin/./../v1/webhooks/secret",
    "/admin/../v1/webhooks/secret",
    "/admin/..",
    "/admin/../",
    "/admin/..\\v1/webhooks/secret",
    "/admin/%5c..%5cv1/webhooks/secret",
    "/admin/.%09./v1/webhooks/secret",
    "//evil.example/admin",
    "/%2fevil.example/admin",
    "/%252fevil.example/admin",
    "/\\evil.example/admin",
    "/admin/./login",
    "/admin/logout/.",
    "https://evil.example/admin",
    "admin/jobs",
]


@pytest.mark.parametrize("value", LEAVING_THE_CONSOLE)
def test_next_outside_the_console_after_decoding_goes_home(value: str) -> None:
    assert safe_next(value) == "/admin"


def test_next_encoded_past_the_bound_goes_home() -> None:
    """Decoding stops after a few rounds: a path still changing then is refused, not followed."""
    value = "/admin/instructions/a%2Fb"
    for _ in range(2):
        value = quote(value, safe="/")
    assert safe_next(value) == "/admin/instructions/a/b"
    for _ in range(8):
        value = quote(value, safe="/")
    assert safe_next(value) == "/admin"


@pytest.mark.parametrize(
    ("value", "normalized"),
    [
        ("/admin", "/admin"),
        ("/admin/jobs?status=failed", "/admin/jobs?status=failed"),
        ("/admin/users?q=%25a%26b", "/admin/users?q=%25a%26b"),  # a query is passed on as it came
        ("/admin/jobs/./x/..", "/admin/jobs"),
        ("/admin//jobs", "/admin/jobs"),
        ("/admin/users/%2e%2e/jobs", "/admin/jobs"),
        ("/admin/instructions/ask", "/admin/instructions/ask"),
    ],
)
def test_next_inside_the_console_comes_back_normalized(value: str, normalized: str) -> None:
    assert safe_next(value) == normalized


def test_sign_in_with_an_encoded_dot_segment_stays_in_the_console(stack: Stack, admin: ApiClient) -> None:
    response = console_sign_in(stack, admin, next_url="/admin/.%2e/v1/webhooks/secret")
    with closing(response.client):
        assert (response.status_code, response.headers["location"]) == (303, "/admin")


@pytest.fixture
def fresh_browser(stack: Stack, browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=stack.api_url, viewport=DESKTOP)
    context.set_default_timeout(WAIT_MS)
    yield context
    context.close()


def test_the_browser_lands_in_the_console_whatever_next_says(
    stack: Stack, fresh_browser: BrowserContext, admin: ApiClient
) -> None:
    """Chromium is the judge of where a Location leads: the issue's link signs in and lands on the
    overview; then, signed in, every other `next` is followed from the sign-in page."""
    page = fresh_browser.new_page()
    page.goto("/admin/login?next=" + quote("/admin/.%2e/v1/webhooks/secret", safe=""))
    sign_in(page, admin)
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible(timeout=WAIT_MS)
    assert urlsplit(page.url).path == "/admin"
    for value in LEAVING_THE_CONSOLE:
        page.goto("/admin/login?next=" + quote(value, safe=""))
        landed = urlsplit(page.url)
        assert (landed.netloc, landed.path) == (urlsplit(stack.api_url).netloc, "/admin"), value
    page.goto("/admin/login?next=" + quote("/admin/users/%2e%2e/jobs?status=failed", safe=""))
    assert page.url == f"{stack.api_url}/admin/jobs?status=failed"
