"""Helpers for the console tests: browser-like httpx clients, the CSRF token of a page, the routes."""

from __future__ import annotations

import re
import uuid

import httpx
from fastapi.routing import iter_route_contexts

from tests.conftest import ApiClient
from tests.support.stack import Stack

PASSWORD = "correct-horse-battery"  # what tests.conftest.register signs up with
TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')
PATH_VALUES = {"kind": "ask"}


def csrf_token(client: httpx.Client, path: str = "/admin/login") -> str:
    """The form token a page of the console hands this client (its CSRF cookie is set on the way)."""
    page = client.get(path)
    found = TOKEN.search(page.text)
    assert found, f"no CSRF field on {path} ({page.status_code})"
    return found.group(1)


def post_form(client: httpx.Client, path: str, **fields: str) -> httpx.Response:
    """A console form as a browser posts it: with the token of the client's CSRF cookie."""
    return client.post(path, data={"csrf_token": csrf_token(client, "/admin"), **fields})


def browser(stack: Stack, base_url: str | None = None) -> httpx.Client:
    """A client without cookies, on the session's API (or another API process of the stack)."""
    return httpx.Client(base_url=base_url or stack.api_url, timeout=60, follow_redirects=False)


def signed_in(stack: Stack, account: ApiClient) -> httpx.Client:
    """A client holding the account's `mentorq_session` cookie from /auth/cookie/login (the API's
    own cookie login, so a non-admin can be signed in too)."""
    client = browser(stack)
    response = client.post("/auth/cookie/login", data={"username": account.email, "password": PASSWORD})
    assert response.status_code == 204, response.text
    return client


def console_sign_in(
    stack: Stack, account: ApiClient, *, next_url: str | None = None, base_url: str | None = None
) -> httpx.Response:
    """Sign in through the console's form; the client is the response's `.client` attribute."""
    client = browser(stack, base_url)
    token = csrf_token(client)
    fields = {"email": account.email, "password": PASSWORD, "csrf_token": token}
    if next_url is not None:
        fields["next"] = next_url
    response = client.post("/admin/login", data=fields)
    response.client = client  # type: ignore[attr-defined]
    return response


def console_routes() -> list[tuple[str, str]]:
    """(method, path) of every console page and form in the app's route table, path parameters
    filled with ids that exist nowhere: access is decided before anything is looked up."""
    from api.main import app

    routes = []
    for context in iter_route_contexts(app.routes):
        path = context.path or ""
        if not path.startswith("/admin") or path.startswith("/admin/static"):
            continue
        for method in sorted(getattr(context.original_route, "methods", None) or ()):
            # Anything else would escape the access tests, which try every page and every form.
            assert method in ("GET", "POST"), f"{method} {path}: a console route is a page or a form"
            filled = re.sub(r"{(\w+)}", lambda m: PATH_VALUES.get(m.group(1), str(uuid.uuid4())), path)
            routes.append((method, filled))
    return routes


def forged_posts_refused(
    console: httpx.Client, token: str, path: str, fields: dict[str, str], files: object = None
) -> list[httpx.Response]:
    """POST `fields` to `path` without its CSRF token, with a wrong one, with an empty one, and with
    the right one from another origin (an `Origin` header, a cross-site fetch): each must be refused
    403 `csrf_failed`. Returns the answers, for what else a caller checks in them."""
    wrong = ("0" if token[0] != "0" else "1") + token[1:]
    answers = []
    for sent in ({}, {"csrf_token": wrong}, {"csrf_token": ""}):
        answers.append(console.post(path, data={**fields, **sent}, files=files))
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        answers.append(console.post(path, data={"csrf_token": token, **fields}, files=files, headers=headers))
    for answer in answers:
        assert answer.status_code == 403, (path, answer.request.headers, answer.text[:200])
        assert 'id="error-code">csrf_failed<' in answer.text, (path, answer.request.headers)
    return answers
