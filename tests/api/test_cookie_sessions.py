"""The session cookie cannot be ridden: a state-changing request that carries `mentorq_session`
must come from the API's own origin when a browser says where it comes from (Origin,
Sec-Fetch-Site); the cookie login and logout always. Bearer requests are not looked at, a client
that is no browser (no Origin, no Sec-Fetch-Site) is not either, and a GET never is."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from api.cookie_guard import carries_cookie, route_path
from tests.conftest import ApiClient, register
from tests.support.stack import Stack

PASSWORD = "correct-horse-battery"  # what tests.conftest.register signs up with
ROTATE = "/v1/webhooks/secret/rotate"


def other_port(stack: Stack) -> str:
    """The API's host on another port: the same site for a browser, another origin."""
    parts = urlsplit(stack.api_url)
    return f"http://{parts.hostname}:{parts.port + 1}"


def assert_csrf_refusal(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "csrf_failed"


@pytest.fixture
def account(stack: Stack) -> Iterator[ApiClient]:
    with register(stack.api_url) as api:
        yield api


@pytest.fixture
def cookie_client(stack: Stack, account: ApiClient) -> Iterator[httpx.Client]:
    """A client holding the account's session cookie, signed in the way curl would (no Origin)."""
    with httpx.Client(base_url=stack.api_url, timeout=60) as client:
        response = client.post("/auth/cookie/login", data={"username": account.email, "password": PASSWORD})
        assert response.status_code == 204, response.text
        yield client


def secret(account: ApiClient) -> str:
    return account.get("/v1/webhooks/secret").json()["secret"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "OTHER_PORT"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "OTHER_PORT"},
    ],
    ids=lambda headers: ",".join(f"{k}={v}" for k, v in headers.items()),
)
def test_a_cookie_request_from_another_origin_is_refused(
    stack: Stack, account: ApiClient, cookie_client: httpx.Client, headers: dict[str, str]
) -> None:
    headers = {name: other_port(stack) if value == "OTHER_PORT" else value for name, value in headers.items()}
    before = secret(account)
    assert_csrf_refusal(cookie_client.post(ROTATE, headers=headers))
    assert_csrf_refusal(
        cookie_client.post(
            "/v1/documents", headers=headers, files={"files": ("planted.txt", b"planted", "text/plain")}
        )
    )
    assert_csrf_refusal(cookie_client.patch("/users/me", headers=headers, json={"email": "x@example.com"}))
    assert secret(account) == before
    assert cookie_client.get("/users/me").json()["email"] == account.email


def test_a_basic_authorization_header_does_not_exempt_the_cookie(
    stack: Stack, account: ApiClient, cookie_client: httpx.Client
) -> None:
    """A browser sends `Authorization: Basic` by itself to a site behind basic auth, on any page's
    form post: it is not a bearer token, so the cookie still authenticates and is still checked."""
    before = secret(account)
    response = cookie_client.post(
        ROTATE, headers={"Origin": other_port(stack), "Authorization": "Basic dXNlcjpwYXNz"}
    )
    assert_csrf_refusal(response)
    assert secret(account) == before


def test_a_cookie_request_from_the_api_origin_is_accepted(
    stack: Stack, account: ApiClient, cookie_client: httpx.Client
) -> None:
    for headers in (
        {"Origin": stack.api_url},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "same-origin", "Origin": stack.api_url},
        {"Sec-Fetch-Site": "none"},  # typed into the address bar or a bookmark: the user's own act
    ):
        before = secret(account)
        response = cookie_client.post(ROTATE, headers=headers)
        assert response.status_code == 200, (headers, response.text)
        assert secret(account) != before


def test_a_cookie_request_from_no_browser_is_accepted(
    stack: Stack, account: ApiClient, cookie_client: httpx.Client
) -> None:
    """curl with a cookie jar: no Origin, no Sec-Fetch-Site. A browser sends at least one of them on
    every cross-origin POST, so their absence cannot be a forged browser request."""
    before = secret(account)
    assert cookie_client.post(ROTATE).status_code == 200
    assert secret(account) != before


def test_bearer_requests_are_not_looked_at(stack: Stack, account: ApiClient) -> None:
    before = secret(account)
    response = account.post(
        ROTATE, headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 200, response.text
    assert secret(account) != before


def test_a_get_is_never_refused(stack: Stack, account: ApiClient, cookie_client: httpx.Client) -> None:
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {}):
        response = cookie_client.get("/users/me", headers=headers)
        assert response.status_code == 200, (headers, response.text)
        assert cookie_client.get("/v1/webhooks/secret", headers=headers).status_code == 200
        assert cookie_client.get("/healthz", headers=headers).status_code == 200


def test_the_cookie_login_from_another_origin_is_refused(stack: Stack, account: ApiClient) -> None:
    """Login CSRF: no session cookie is needed to be signed in to the attacker's account."""
    credentials = {"username": account.email, "password": PASSWORD}
    for headers in ({"Origin": other_port(stack)}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}):
        with httpx.Client(base_url=stack.api_url, timeout=60) as browser:
            response = browser.post("/auth/cookie/login", data=credentials, headers=headers)
            assert_csrf_refusal(response)
            assert "mentorq_session" not in response.headers.get("set-cookie", "")
    with httpx.Client(base_url=stack.api_url, timeout=60) as browser:
        response = browser.post("/auth/cookie/login", data=credentials, headers={"Origin": stack.api_url})
        assert response.status_code == 204, response.text
        assert "mentorq_session" in browser.cookies


def test_the_cookie_logout_from_another_origin_is_refused(stack: Stack, cookie_client: httpx.Client) -> None:
    """Signing the admin out from another page is a forged request too (its token would be revoked)."""
    assert_csrf_refusal(cookie_client.post("/auth/cookie/logout", headers={"Origin": other_port(stack)}))
    assert cookie_client.get("/users/me").status_code == 200
    assert cookie_client.post("/auth/cookie/logout", headers={"Origin": stack.api_url}).status_code == 204
    assert cookie_client.get("/users/me").status_code == 401


def test_behind_a_proxy_the_public_url_is_the_own_origin(stack: Stack, account: ApiClient) -> None:
    """MENTORQ_PUBLIC_URL names the origin browsers use (a proxy in front may rewrite Host): it is
    accepted, and the address the API process itself listens on no longer is."""
    public = "https://learn.example.com:8443"
    with (
        stack.extra_api(MENTORQ_PUBLIC_URL=public) as api_url,
        httpx.Client(base_url=api_url, timeout=60) as browser,
    ):
        credentials = {"username": account.email, "password": PASSWORD}
        assert_csrf_refusal(browser.post("/auth/cookie/login", data=credentials, headers={"Origin": api_url}))
        assert (
            browser.post("/auth/cookie/login", data=credentials, headers={"Origin": public}).status_code
            == 204
        )
        before = secret(account)
        assert_csrf_refusal(browser.post(ROTATE, headers={"Origin": api_url}))
        assert secret(account) == before
        assert browser.post(ROTATE, headers={"Origin": public}).status_code == 200
        assert secret(account) != before


def test_the_cookie_is_found_where_the_authentication_would_find_it() -> None:
    def scope(*cookies: str, path: str = "/v1/x", root_path: str = "") -> dict:
        headers = [(b"cookie", cookie.encode()) for cookie in cookies]
        return {"type": "http", "path": path, "root_path": root_path, "headers": headers}

    assert carries_cookie(scope("a=1; mentorq_session=x"), "mentorq_session")
    assert carries_cookie(scope("a=1", "mentorq_session="), "mentorq_session")  # a second header
    assert carries_cookie(scope('mentorq_session="x y"; b'), "mentorq_session")
    assert not carries_cookie(scope("a=mentorq_session", "xmentorq_session=1"), "mentorq_session")
    assert not carries_cookie(scope(), "mentorq_session")
    # Mounted under a root path by a proxy: the login is still the login.
    assert route_path(scope(path="/api/auth/cookie/login", root_path="/api")) == "/auth/cookie/login"
    assert route_path(scope(path="/auth/cookie/login")) == "/auth/cookie/login"


# The API's own user dependency (api/auth.current_active_user) reads the two credentials in the order
# fastapi-users' authenticator did: the bearer token, then the cookie.


def test_a_bad_bearer_token_falls_back_to_the_session_cookie(
    stack: Stack, account: ApiClient, cookie_client: httpx.Client
) -> None:
    response = cookie_client.get("/v1/jobs", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 200, response.text


def test_a_good_bearer_token_wins_over_another_accounts_cookie(
    stack: Stack, account: ApiClient, cookie_client: httpx.Client
) -> None:
    with register(stack.api_url) as other:
        cookie_client.headers["Authorization"] = other.headers["Authorization"]
        assert cookie_client.get("/v1/webhooks/secret").json()["secret"] == secret(other)


def test_an_inactive_accounts_bearer_token_is_refused_even_beside_a_good_cookie(
    stack: Stack, cookie_client: httpx.Client
) -> None:
    with register(stack.api_url) as other:
        stack.sql("UPDATE users SET is_active = false WHERE email = %s", other.email)
        cookie_client.headers["Authorization"] = other.headers["Authorization"]
        response = cookie_client.get("/v1/jobs")
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "unauthorized"


def test_no_credential_is_refused_with_the_problem_code(stack: Stack) -> None:
    with httpx.Client(base_url=stack.api_url, timeout=60) as anonymous:
        response = anonymous.get("/v1/jobs")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
