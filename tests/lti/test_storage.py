"""The cookie-less launch over HTTP (LTI Client Side postMessage storage): what the tool's pages
carry and what /lti/launch/verify takes, without a browser. tests/lti/test_browser.py runs the
same flow in Chromium with the platform's storage answering in the course page."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.lti.conftest import Browser, TestPlatform, form_of
from tests.support.stack import Stack

DATA = re.compile(r'data-([a-z-]+)="([^"]*)"')
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def code_of(page: httpx.Response) -> str:
    found = re.search(r'id="error-code">([a-z_]+)<', page.text)
    assert found, page.text[:300]
    return found.group(1)


def data_of(page: httpx.Response) -> dict[str, str]:
    return {name: unescape(value) for name, value in DATA.findall(page.text)}


def storage_login(browser: Browser, platform: TestPlatform, target: str = "_parent") -> httpx.Response:
    """The course link naming the platform's storage, and the tool's answer to its login."""
    started = browser.client.get(
        f"{platform.url}/launch", params={"user": "learner", "link": platform.link, "storage_target": target}
    )
    assert started.status_code == 302, started.text
    return browser.client.get(started.headers["location"])


def cookieless_launch(browser: Browser, platform: TestPlatform) -> tuple[httpx.Response, dict[str, str]]:
    """A login through the storage page, then the platform's form posted by a browser that kept no
    cookie in the frame: the tool's launch page, and the state and nonce the platform holds."""
    login = storage_login(browser, platform)
    assert login.status_code == 200, login.text
    stored = data_of(login)
    action, fields = form_of(browser.client.get(stored["auth-url"]).text)
    with httpx.Client(timeout=30) as no_cookies:
        return no_cookies.post(action, data=fields), stored


def verify(stack: Stack, page: httpx.Response, state: str, nonce: str, **headers: str) -> httpx.Response:
    _, fields = form_of(page.text)
    return httpx.post(
        f"{stack.api_url}/lti/launch/verify",
        data={"check": fields["check"], "state": state, "nonce": nonce},
        headers=headers or SAME_ORIGIN,
        timeout=30,
    )


def test_a_login_naming_the_platforms_storage_answers_a_page_that_stores_the_state_there(
    lti_platform: TestPlatform, browser: Browser
) -> None:
    login = storage_login(browser, lti_platform)
    assert login.status_code == 200, login.text
    stored = data_of(login)
    sent = parse_qs(urlsplit(stored["auth-url"]).query)
    assert (stored["state"], stored["nonce"]) == (sent["state"][0], sent["nonce"][0])
    assert stored["auth-url"].startswith(f"{lti_platform.url}/auth?")
    # Messages go to the frame the platform named, for the origin of its authorization endpoint.
    assert (stored["target"], stored["origin"]) == ("_parent", lti_platform.url)
    policy = login.headers["content-security-policy"]
    assert "script-src 'self'" in policy and f"frame-ancestors {lti_platform.url};" in policy
    assert "<script>" not in login.text  # own-origin scripts only
    # The cookie is set beside it: a browser that keeps it is bound by it as before.
    assert login.cookies["mentorq_lti_state"] == stored["state"]


def test_a_cookieless_launch_signs_in_its_page_once_the_platform_gives_the_state_back(
    stack: Stack, lti_platform: TestPlatform, browser: Browser
) -> None:
    page, stored = cookieless_launch(browser, lti_platform)
    assert page.status_code == 200, page.text
    asks = data_of(page)
    assert (asks["state-key"], asks["nonce-key"]) == (f"state_{stored['state']}", f"nonce_{stored['nonce']}")
    assert "mentorq_session" not in page.cookies
    landed = verify(stack, page, stored["state"], stored["nonce"])
    assert landed.status_code == 200, landed.text
    assert "Lin Learner" in landed.text and "Cognitive Psychology 101" in landed.text
    # The session is the page's, not a cookie's: sent as a bearer token it is the learner's.
    assert "mentorq_session" not in landed.cookies
    token = data_of(landed)["token"]
    me = httpx.get(f"{stack.api_url}/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert me.status_code == 200 and me.json()["email"].endswith("@users.lti.example")
    again = verify(stack, page, stored["state"], stored["nonce"])
    assert again.status_code == 403 and code_of(again) == "lti_storage_unknown"


def test_a_cookieless_launch_is_refused_unless_its_own_page_gives_the_platforms_state_back(
    stack: Stack, lti_platform: TestPlatform, browser: Browser
) -> None:
    """Login CSRF without cookies: whoever holds a launch's check and state (the attacker who ran
    it) can neither have another site's page post them, nor pass off another state."""
    page, stored = cookieless_launch(browser, lti_platform)
    cross_site = verify(stack, page, stored["state"], stored["nonce"], **{"Sec-Fetch-Site": "cross-site"})
    assert cross_site.status_code == 403 and code_of(cross_site) == "lti_storage_foreign"
    foreign_origin = verify(stack, page, stored["state"], stored["nonce"], Origin="https://evil.example")
    assert code_of(foreign_origin) == "lti_storage_foreign"
    other = verify(stack, page, "another-state", stored["nonce"])
    assert other.status_code == 403 and code_of(other) == "lti_storage_mismatch"
    assert "mentorq_session" not in other.cookies and 'id="page-session"' not in other.text
    page, stored = cookieless_launch(browser, lti_platform)
    unanswered = verify(stack, page, "", "")
    assert code_of(unanswered) == "lti_storage_unavailable"


def test_a_login_naming_no_frame_as_its_storage_is_refused(
    lti_platform: TestPlatform, browser: Browser
) -> None:
    refused = storage_login(browser, lti_platform, target="javascript:alert(1)")
    assert refused.status_code == 400 and code_of(refused) == "lti_storage_target_invalid"
