"""Who may use the console, over HTTP without a browser. Every console route in the app's route
table is enumerated, so a page added later is covered without touching these tests."""

from __future__ import annotations

from contextlib import closing
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import ApiClient, announced, make_admin, register
from tests.console.support import (
    PASSWORD,
    browser,
    console_routes,
    console_sign_in,
    csrf_token,
    signed_in,
)
from tests.support.stack import Stack

ROUTES = console_routes()
PAGES = [path for method, path in ROUTES if method == "GET" and path != "/admin/login"]
FORMS = [path for method, path in ROUTES if method == "POST"]


def test_the_route_table_has_every_console_page_and_form() -> None:
    assert {
        "/admin",
        "/admin/jobs",
        "/admin/users",
        "/admin/library",
        "/admin/instructions",
        "/admin/llm",
        "/admin/sources",
    } <= set(PAGES)
    assert {
        "/admin/login",
        "/admin/logout",
        "/admin/library/upload",
        "/admin/llm/ask",
        "/admin/sources",
    } <= set(FORMS)
    assert len(FORMS) >= 12


@pytest.fixture(scope="module")
def admin_browser(stack: Stack, admin: ApiClient):
    response = console_sign_in(stack, admin)
    assert response.status_code == 303, response.text
    with closing(response.client) as client:
        yield client


def test_signed_out_pages_send_the_browser_to_sign_in(stack: Stack) -> None:
    with browser(stack) as client:
        for path in PAGES:
            response = client.get(path)
            assert response.status_code == 303, path
            target = urlsplit(response.headers["location"])
            assert target.path == "/admin/login", path
            assert parse_qs(target.query)["next"] == [path], path
        for path in FORMS:
            if path != "/admin/login":
                response = client.post(path, data={})
                assert (response.status_code, response.headers["location"]) == (303, "/admin/login"), path
        assert client.get("/admin/login").status_code == 200


def test_a_non_admin_gets_403_on_every_page_and_every_form(stack: Stack, client: ApiClient) -> None:
    with closing(signed_in(stack, client)) as user_browser:
        token = csrf_token(user_browser)  # a valid token: refused all the same
        for path in PAGES:
            response = user_browser.get(path)
            assert response.status_code == 403, path
            assert 'id="error-code">admin_only<' in response.text, path
        for path in FORMS:
            fields = {"csrf_token": token, "email": client.email, "password": PASSWORD}
            response = user_browser.post(path, data=fields)
            assert response.status_code == 403, path
            assert (
                "set-cookie" not in response.headers
                or "mentorq_session" not in response.headers["set-cookie"]
            )
        # A client that asks for JSON gets the same refusal as problem+json.
        response = user_browser.get("/admin/jobs", headers={"Accept": "application/json"})
        assert response.status_code == 403
        assert response.json()["code"] == "admin_only"


def test_every_form_refuses_a_missing_or_wrong_csrf_token(stack: Stack, admin_browser) -> None:
    token = csrf_token(admin_browser, "/admin")
    wrong = ("0" if token[0] != "0" else "1") + token[1:]
    for path in FORMS:
        for fields in ({}, {"csrf_token": wrong}, {"csrf_token": ""}):
            response = admin_browser.post(path, data=fields)
            assert response.status_code == 403, (path, fields)
            assert 'id="error-code">csrf_failed<' in response.text, (path, fields)
        # The right token from another site's page is refused too.
        response = admin_browser.post(
            path, data={"csrf_token": token}, headers={"Origin": "https://evil.example"}
        )
        assert response.status_code == 403, path
        assert 'id="error-code">csrf_failed<' in response.text, path
        response = admin_browser.post(
            path,
            data={"csrf_token": token},
            headers={"Accept": "application/json", "Sec-Fetch-Site": "cross-site"},
        )
        assert (response.status_code, response.json()["code"]) == (403, "csrf_failed"), path
    # None of that signed the admin out (logout was among the forms).
    assert admin_browser.get("/admin").status_code == 200


def test_a_token_is_bound_to_its_browser_cookie(stack: Stack, admin: ApiClient, admin_browser) -> None:
    with browser(stack) as other:
        stolen = csrf_token(other)  # another browser's token: valid there, not here
    response = admin_browser.post("/admin/library/collections", data={"csrf_token": stolen, "name": "x"})
    assert response.status_code == 403
    assert "csrf_failed" in response.text


def test_a_wrong_password_does_not_sign_in(stack: Stack, admin: ApiClient) -> None:
    with browser(stack) as client:
        token = csrf_token(client)
        response = client.post(
            "/admin/login", data={"email": admin.email, "password": "not-the-password", "csrf_token": token}
        )
        assert response.status_code == 400
        assert "Wrong e-mail or password" in response.text
        assert "mentorq_session" not in response.headers.get("set-cookie", "")
        assert client.get("/admin").status_code == 303


def test_a_non_admin_cannot_sign_in_to_the_console(stack: Stack, client: ApiClient) -> None:
    response = console_sign_in(stack, client)
    assert response.status_code == 403
    assert "not an admin" in response.text
    assert "mentorq_session" not in response.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/admin",
        "//evil.example/admin",
        "/\\evil.example",
        "/admin/../auth/jwt/login",
        "/v1/jobs",
    ],
)
def test_next_to_anything_but_a_console_page_is_not_followed(
    stack: Stack, admin: ApiClient, next_url: str
) -> None:
    response = console_sign_in(stack, admin, next_url=next_url)
    assert (response.status_code, response.headers["location"]) == (303, "/admin")
    response.client.close()


def test_sign_in_returns_to_the_page_asked_for_and_sign_out_ends_the_session(
    stack: Stack, admin: ApiClient
) -> None:
    response = console_sign_in(stack, admin, next_url="/admin/jobs?status=failed")
    assert (response.status_code, response.headers["location"]) == (303, "/admin/jobs?status=failed")
    with closing(response.client) as client:
        session_cookie = client.cookies["mentorq_session"]
        assert client.get("/admin/jobs?status=failed").status_code == 200
        # The console's session is the API's cookie session.
        assert client.get("/users/me").json()["email"] == admin.email
        token = csrf_token(client, "/admin")
        assert client.post("/admin/logout", data={"csrf_token": token}).headers["location"] == "/admin/login"
        assert client.get("/admin").status_code == 303
    # The token itself is revoked, not only the cookie cleared.
    with browser(stack) as replay:
        replay.cookies.set("mentorq_session", session_cookie)
        assert replay.get("/admin").status_code == 303
        assert replay.get("/users/me").status_code == 401


def test_an_admin_deactivated_mid_session_is_signed_out(stack: Stack) -> None:
    with register(stack.api_url) as account:
        make_admin(stack, account)
        response = console_sign_in(stack, account)
        with closing(response.client) as client:
            assert client.get("/admin").status_code == 200
            stack.sql("UPDATE users SET is_active = false WHERE email = %s", account.email)
            assert announced(lambda: client.get("/admin").status_code == 303)


def test_an_admin_gets_every_page_or_a_404_page_for_an_unknown_id(stack: Stack, admin_browser) -> None:
    for path in PAGES:
        response = admin_browser.get(path)
        assert response.status_code in (200, 404), (path, response.status_code, response.text[-2000:])
        assert response.headers["content-type"].startswith("text/html"), path
        assert "default-src 'self'" in response.headers["content-security-policy"], path
        if response.status_code == 404:
            assert 'id="error-code">' in response.text, path
