"""Requests forged by another page in the admin's own browser (Debian's Chromium): an attacker's
page auto-submits a form to the API while the admin is signed in to the console.

Two attackers: a page on another port of the API's host (127.0.0.1: the same site for the browser,
so the SameSite=Lax session cookie goes along, but another origin) and a page on another site
(127.0.0.2). None of the forged requests may change anything: no document planted, no webhook
secret rotated, and the browser's session stays the admin's (login CSRF)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.conftest import ApiClient, register
from tests.console.attack_pages import AttackSite, auto_submitted_form
from tests.console.browsing import WAIT_MS
from tests.console.conftest import signed_in_context
from tests.console.support import PASSWORD
from tests.support.stack import Stack

ATTACKERS = {"another port of the same host": "127.0.0.1", "another site": "127.0.0.2"}
SAME_SITE = "127.0.0.1"  # the API's host: the browser sends the session cookie, the guard must refuse


def refused(status: int, attacker: AttackSite) -> bool:
    """The same-site page's request carries the cookie, so only the guard's 403 refuses it (a 401
    would mean the cookie never went and the guard was not tried); another site's goes without it."""
    return status == 403 if attacker.origin.startswith(f"http://{SAME_SITE}:") else status in (401, 403)


@pytest.fixture(params=list(ATTACKERS), scope="module")
def attacker(request: pytest.FixtureRequest) -> Iterator[AttackSite]:
    with AttackSite(ATTACKERS[request.param]) as site:
        yield site


@pytest.fixture
def victim(stack: Stack, browser: Browser, admin: ApiClient) -> Iterator[BrowserContext]:
    """A browser signed in to the console as the admin (a fresh one: an attack may change it)."""
    with signed_in_context(stack, browser, admin) as context:
        yield context


def visit(context: BrowserContext, attacker: AttackSite, path: str, target: str) -> int:
    """Open the attacker's page and wait for the answer to the request it forges; its status."""
    page: Page = context.new_page()
    try:
        with page.expect_response(lambda response: response.url == target, timeout=WAIT_MS) as answer:
            # Not "load": a 204 answer leaves the attacker's page loading, not navigated away.
            page.goto(attacker.url(path), wait_until="commit")
        status = answer.value.status
        if status != 204:  # the browser shows the answer; closing the page mid-navigation hangs Chromium
            page.wait_for_url(target)
        return status
    finally:
        page.close()


def session_email(context: BrowserContext, stack: Stack) -> str | None:
    """Whose session the browser holds now (None: none)."""
    me = context.request.get(f"{stack.api_url}/users/me")
    return me.json()["email"] if me.ok else None


def test_a_forged_upload_plants_no_document(
    stack: Stack, victim: BrowserContext, attacker: AttackSite, admin: ApiClient
) -> None:
    title = f"planted-{uuid.uuid4().hex[:8]}"
    attacker.pages["/upload"] = auto_submitted_form(
        f"{stack.api_url}/v1/documents",
        {"title": title, "collection": "default"},
        file=("planted.txt", "Planted in the library by another page."),
    )
    status = visit(victim, attacker, "/upload", f"{stack.api_url}/v1/documents")
    assert refused(status, attacker), status
    titles = [item["title"] for item in admin.get("/v1/documents", params={"limit": 200}).json()["items"]]
    assert title not in titles
    assert session_email(victim, stack) == admin.email


def test_a_forged_secret_rotation_changes_nothing(
    stack: Stack, victim: BrowserContext, attacker: AttackSite, admin: ApiClient
) -> None:
    before = admin.get("/v1/webhooks/secret").json()
    attacker.pages["/rotate"] = auto_submitted_form(f"{stack.api_url}/v1/webhooks/secret/rotate", {})
    status = visit(victim, attacker, "/rotate", f"{stack.api_url}/v1/webhooks/secret/rotate")
    assert refused(status, attacker), status
    assert admin.get("/v1/webhooks/secret").json() == before
    assert session_email(victim, stack) == admin.email


def test_a_forged_sign_in_keeps_the_admin_signed_in_as_the_admin(
    stack: Stack, victim: BrowserContext, attacker: AttackSite, admin: ApiClient
) -> None:
    with register(stack.api_url) as intruder:
        attacker.pages["/login"] = auto_submitted_form(
            f"{stack.api_url}/auth/cookie/login", {"username": intruder.email, "password": PASSWORD}
        )
        status = visit(victim, attacker, "/login", f"{stack.api_url}/auth/cookie/login")
        assert session_email(victim, stack) == admin.email
        assert status == 403, status


def test_the_console_still_posts_its_own_forms_and_the_api_its_own_origin(
    stack: Stack, victim: BrowserContext, admin: ApiClient
) -> None:
    """The guard refuses other origins, not the API's own: a page of the API's origin (the
    console) posting with the session cookie is answered as before."""
    page = victim.new_page()
    try:
        page.goto("/admin/library")
        before = admin.get("/v1/webhooks/secret").json()
        rotated = page.evaluate("fetch('/v1/webhooks/secret/rotate', {method: 'POST'}).then(r => r.status)")
        assert rotated == 200
        assert admin.get("/v1/webhooks/secret").json()["secret"] != before["secret"]
    finally:
        page.close()
