"""GitHub sign-in, the whole dance against a fake GitHub on loopback: the API's authorize URL, the
browser's round trip through GitHub's authorize page, the callback exchanging the code with the real
httpx-oauth client, and what the account becomes (new, linked, taken over, never hijacked)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from itertools import count
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests.api.test_errors import assert_problem
from tests.conftest import register
from tests.support.fake_github import FakeGitHub, GitHubAccount
from tests.support.stack import Stack

PASSWORD = "correct-horse-battery"
github_ids = count(1000)


@pytest.fixture(scope="module")
def github() -> Iterator[FakeGitHub]:
    server = FakeGitHub().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def github_api(stack: Stack, github: FakeGitHub) -> Iterator[str]:
    with stack.extra_api(
        GITHUB_CLIENT_ID=github.client_id,
        GITHUB_CLIENT_SECRET=github.client_secret,
        MENTORQ_GITHUB_URL=github.url,
        MENTORQ_GITHUB_API_URL=github.url,
    ) as url:
        yield url


def account(*emails: tuple[str, bool], public: str | None = None) -> GitHubAccount:
    """A GitHub user with these (address, verified) e-mails, the first one primary."""
    number = next(github_ids)
    listed = [
        {"email": email, "verified": verified, "primary": index == 0, "visibility": None}
        for index, (email, verified) in enumerate(emails)
    ]
    return GitHubAccount(id=number, login=f"octo{number}", public_email=public, emails=listed)


def fresh_email() -> str:
    return f"person-{uuid.uuid4().hex[:10]}@example.com"


def browser(api_url: str) -> httpx.Client:
    """What the user's browser does: keeps cookies and follows GitHub's redirect to the callback."""
    return httpx.Client(base_url=api_url, timeout=30, follow_redirects=True)


def sign_in(api_url: str, github: FakeGitHub, person: GitHubAccount) -> httpx.Response:
    github.sign_in_as(person)
    with browser(api_url) as client:
        authorization_url = client.get("/auth/github/authorize").json()["authorization_url"]
        return client.get(authorization_url)


def me(api_url: str, token: str) -> httpx.Response:
    return httpx.get(f"{api_url}/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def password_login(api_url: str, email: str, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(f"{api_url}/auth/jwt/login", data={"username": email, "password": password}, timeout=30)


def test_github_sign_in_is_off_without_credentials(stack: Stack) -> None:
    assert httpx.get(f"{stack.api_url}/auth/github/authorize", timeout=30).status_code == 404
    assert httpx.get(f"{stack.api_url}/auth/github/callback?code=x&state=y", timeout=30).status_code == 404


def test_authorize_asks_for_read_only_scopes_and_sets_a_csrf_cookie(
    github_api: str, github: FakeGitHub
) -> None:
    with browser(github_api) as client:
        answer = client.get("/auth/github/authorize")
        assert answer.status_code == 200
        target = urlparse(answer.json()["authorization_url"])
        query = parse_qs(target.query)
        assert f"{target.scheme}://{target.netloc}" == github.url and target.path == "/login/oauth/authorize"
        assert query["scope"] == ["read:user user:email"]
        assert query["client_id"] == [github.client_id]
        assert query["redirect_uri"] == [f"{github_api}/auth/github/callback"]
        assert "fastapiusersoauthcsrf" in client.cookies


def test_a_new_github_user_gets_a_verified_account_with_a_profile(
    github_api: str, github: FakeGitHub
) -> None:
    email = fresh_email()
    person = account((email, True), public=email)
    answer = sign_in(github_api, github, person)
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    user = me(github_api, token).json()
    assert user["email"] == email and user["is_verified"] is True
    profile = httpx.get(
        f"{github_api}/api/profiles/me", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert profile.status_code == 200 and profile.json()["revision"] >= 0
    # Signing in again is the same account, not a second one.
    again = sign_in(github_api, github, person)
    assert me(github_api, again.json()["access_token"]).json()["id"] == user["id"]


def test_no_public_email_uses_the_primary_verified_one_from_user_emails(
    github_api: str, github: FakeGitHub
) -> None:
    secondary, primary = fresh_email(), fresh_email()
    person = account((primary, True), (secondary, True), public=None)
    answer = sign_in(github_api, github, person)
    assert answer.status_code == 200, answer.text
    assert me(github_api, answer.json()["access_token"]).json()["email"] == primary


def test_an_unverified_github_email_never_links_to_the_password_account_that_has_it(
    stack: Stack, github_api: str, github: FakeGitHub
) -> None:
    victim_email = fresh_email()
    with register(github_api, email=victim_email) as owner:
        # Someone adds the owner's address to their GitHub account without proving it (and even
        # makes it public): they must get an account of their own, not the owner's.
        intruder = account((victim_email, False), public=victim_email)
        answer = sign_in(github_api, github, intruder)
        assert answer.status_code == 200, answer.text
        theirs = me(github_api, answer.json()["access_token"]).json()
        assert theirs["id"] != owner.user_id
        assert theirs["email"] == f"{intruder.id}+{intruder.login}@users.noreply.github.com"
        assert theirs["is_verified"] is False
        linked = stack.sql("SELECT count(*) FROM oauth_accounts WHERE user_id = %s", owner.user_id)[0][0]
        assert linked == 0
        assert owner.get("/users/me").status_code == 200
        assert password_login(github_api, victim_email).status_code == 200


def test_a_noreply_address_registered_by_someone_else_is_never_linked(
    github_api: str, github: FakeGitHub
) -> None:
    person = account((fresh_email(), False))
    squatted = f"{person.id}+{person.login}@users.noreply.github.com"
    with register(github_api, email=squatted) as squatter:
        answer = sign_in(github_api, github, person)
        assert_problem(answer, 400, "oauth_user_already_exists")
        assert squatter.get("/users/me").json()["email"] == squatted


def test_a_verified_github_email_links_to_a_verified_password_account(
    stack: Stack, github_api: str, github: FakeGitHub
) -> None:
    email = fresh_email()
    with register(github_api, email=email) as owner:
        stack.sql("UPDATE users SET is_verified = true WHERE id = %s", owner.user_id)
        answer = sign_in(github_api, github, account((email, True)))
        assert answer.status_code == 200, answer.text
        assert me(github_api, answer.json()["access_token"]).json()["id"] == owner.user_id
        # The owner's own password and session go on working.
        assert owner.get("/users/me").status_code == 200
        assert password_login(github_api, email).status_code == 200


def test_a_pre_registered_unproven_account_is_taken_over_by_the_verified_owner(
    stack: Stack, github_api: str, github: FakeGitHub
) -> None:
    email = fresh_email()
    with register(github_api, email=email) as squatter:  # registered first, e-mail never proven
        answer = sign_in(github_api, github, account((email, True)))
        assert answer.status_code == 200, answer.text
        owner_token = answer.json()["access_token"]
        taken = me(github_api, owner_token).json()
        assert taken["id"] == squatter.user_id and taken["is_verified"] is True
        # Whoever registered it is out: their token and their password are refused.
        assert_problem(squatter.get("/users/me"), 401, "unauthorized")
        assert_problem(password_login(github_api, email), 400, "login_bad_credentials")


def test_a_tampered_state_or_a_missing_csrf_cookie_is_refused(github_api: str, github: FakeGitHub) -> None:
    github.sign_in_as(account((fresh_email(), True)))
    with browser(github_api) as client:
        authorization_url = client.get("/auth/github/authorize").json()["authorization_url"]
        redirect = httpx.get(authorization_url, timeout=30)
        callback = urlparse(redirect.headers["Location"])
        query = parse_qs(callback.query)
        code, state = query["code"][0], query["state"][0]
        tampered = client.get("/auth/github/callback", params={"code": code, "state": state[:-4] + "AAAA"})
        assert_problem(tampered, 400, "access_token_decode_error")
    # The same state from another browser (no CSRF cookie): a login forced on someone else.
    github.sign_in_as(account((fresh_email(), True)))
    with browser(github_api) as victim, browser(github_api) as attacker:
        authorization_url = attacker.get("/auth/github/authorize").json()["authorization_url"]
        callback = urlparse(httpx.get(authorization_url, timeout=30).headers["Location"])
        forced = victim.get(f"/auth/github/callback?{callback.query}")
        assert_problem(forced, 400, "oauth_invalid_state")


def test_a_used_or_unknown_code_and_an_error_from_github_are_400(github_api: str, github: FakeGitHub) -> None:
    github.sign_in_as(account((fresh_email(), True)))
    with browser(github_api) as client:
        authorization_url = client.get("/auth/github/authorize").json()["authorization_url"]
        callback = urlparse(httpx.get(authorization_url, timeout=30).headers["Location"])
        assert client.get(f"/auth/github/callback?{callback.query}").status_code == 200
        reused = client.get(f"/auth/github/callback?{callback.query}")
        body = assert_problem(reused, 400, "github_code_rejected")
        assert "incorrect or expired" in body["detail"]
        denied = client.get("/auth/github/callback", params={"error": "access_denied", "state": "x"})
        body = assert_problem(denied, 400, "github_authorization_failed")
        assert "access_denied" in body["detail"]


def test_github_api_down_is_503_and_creates_nothing(
    stack: Stack, github_api: str, github: FakeGitHub
) -> None:
    email = fresh_email()
    github.api_down = True
    try:
        answer = sign_in(github_api, github, account((email, True)))
    finally:
        github.api_down = False
    body = assert_problem(answer, 503, "github_unavailable")
    assert answer.headers["Retry-After"] == "5" and "502" in body["detail"]
    assert stack.sql("SELECT count(*) FROM users WHERE email = %s", email)[0][0] == 0
