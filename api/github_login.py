"""GitHub sign-in: fastapi-users' OAuth router around httpx-oauth's GitHub client, made safe.

- Scopes `read:user user:email` only: httpx-oauth's default `user` scope could write the profile.
- The e-mail that identifies the person is one GitHub says is verified (`/user/emails`), never
  the public profile's unchecked one. With none verified, the account gets GitHub's no-reply
  address `<id>+<login>@users.noreply.github.com`, which never links to an existing account.
- GitHub answers a bad or reused code with 200 and `{"error": ...}`: that is a 400 here, and
  GitHub unreachable is a 503, where the library would let a KeyError or a 500 through.

Linking to an existing password account (and what happens to an unproven one) is the user
manager's part: api/auth.py.
"""

from __future__ import annotations

from typing import Any, cast

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi_users import FastAPIUsers
from fastapi_users.authentication import AuthenticationBackend
from httpx_oauth.clients.github import GitHubOAuth2
from httpx_oauth.exceptions import GetProfileError
from httpx_oauth.integrations.fastapi import OAuth2AuthorizeCallbackError
from httpx_oauth.oauth2 import GetAccessTokenError, OAuth2Token

from api.errors import ProblemError, problem_response
from core.settings import Settings

SCOPES = ["read:user", "user:email"]
NOREPLY_DOMAIN = "users.noreply.github.com"
TIMEOUT_S = 10.0


def github_unavailable(why: str) -> ProblemError:
    return ProblemError(
        503, "github_unavailable", f"GitHub did not answer: {why}", headers={"Retry-After": "5"}
    )


def is_noreply(email: str) -> bool:
    """An address GitHub made up for someone with no verified e-mail: it proves no mailbox."""
    return email.lower().endswith("@" + NOREPLY_DOMAIN)


def chosen_email(profile: dict[str, Any], emails: list[dict[str, Any]]) -> str:
    """The primary verified address, else any verified one, else GitHub's no-reply address."""
    verified = [entry for entry in emails if entry.get("verified") is True and entry.get("email")]
    verified.sort(key=lambda entry: entry.get("primary") is not True)
    if verified:
        return str(verified[0]["email"])
    return f"{profile['id']}+{profile.get('login', 'user')}@{NOREPLY_DOMAIN}"


class GitHubLogin(GitHubOAuth2):
    """httpx-oauth's GitHub client on configurable hosts, with GitHub's quirks turned into problems."""

    def __init__(self, settings: Settings):
        super().__init__(
            cast(str, settings.github_client_id), cast(str, settings.github_client_secret), SCOPES
        )
        web, self.api_url = settings.github_url.rstrip("/"), settings.github_api_url.rstrip("/")
        self.authorize_endpoint = f"{web}/login/oauth/authorize"
        self.access_token_endpoint = self.refresh_token_endpoint = f"{web}/login/oauth/access_token"
        self.request_headers = {**self.request_headers, "X-GitHub-Api-Version": "2022-11-28"}

    def get_httpx_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=TIMEOUT_S)

    async def get_access_token(
        self, code: str, redirect_uri: str, code_verifier: str | None = None
    ) -> OAuth2Token:
        try:
            token = await super().get_access_token(code, redirect_uri, code_verifier)
        except GetAccessTokenError as error:
            if error.response is None or error.response.status_code >= 500:
                raise github_unavailable(error.message) from error
            raise ProblemError(
                400, "github_code_rejected", f"GitHub refused the code: {error.message}"
            ) from error
        if "error" in token or not token.get("access_token"):
            reason = token.get("error_description") or token.get("error") or "no access token"
            raise ProblemError(400, "github_code_rejected", f"GitHub refused the code: {reason}")
        return token

    async def _api(self, token: str, path: str) -> Any:
        headers = {**self.request_headers, "Authorization": f"Bearer {token}"}
        try:
            async with httpx.AsyncClient(headers=headers, timeout=TIMEOUT_S) as client:
                response = await client.get(f"{self.api_url}{path}")
        except httpx.HTTPError as error:
            raise github_unavailable(str(error)) from error
        if response.status_code >= 500:
            raise github_unavailable(f"{path} answered {response.status_code}")
        if response.status_code >= 400:
            raise GetProfileError(response=response)
        return response.json()

    async def get_profile(self, token: str) -> dict[str, Any]:
        return cast(dict[str, Any], await self._api(token, "/user"))

    async def get_emails(self, token: str) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], await self._api(token, "/user/emails"))

    async def get_id_email(self, token: str) -> tuple[str, str]:
        try:
            profile = await self.get_profile(token)
        except GetProfileError as error:
            raise ProblemError(400, "github_token_rejected", "GitHub refused the access token") from error
        try:
            emails = await self.get_emails(token)
        except GetProfileError:
            emails = []  # the user:email grant was refused: then no address counts as verified
        return str(profile["id"]), chosen_email(profile, emails)


def install_github_login(
    app: FastAPI, settings: Settings, users: FastAPIUsers[Any, Any], backend: AuthenticationBackend[Any, Any]
) -> None:
    """`/auth/github/authorize` and `/auth/github/callback` when GitHub credentials are set (else
    404). A successful callback answers like a bearer login: `{access_token, token_type}`."""
    if not (settings.github_client_id and settings.github_client_secret):
        return
    app.include_router(_router(settings, users, backend), prefix="/auth/github", tags=["auth"])

    @app.exception_handler(OAuth2AuthorizeCallbackError)
    async def _callback_refused(request: Request, exc: OAuth2AuthorizeCallbackError) -> JSONResponse:
        # GitHub sent the browser back with `error=access_denied` (the user said no) or no code.
        why = f"GitHub sign-in did not complete: {exc.detail or 'no authorization code'}"
        if exc.status_code >= 500:  # the client's own failures are already problems (above); defensive
            return problem_response(503, "github_unavailable", why, instance=request.url.path)
        return problem_response(400, "github_authorization_failed", why, instance=request.url.path)


def _router(
    settings: Settings, users: FastAPIUsers[Any, Any], backend: AuthenticationBackend[Any, Any]
) -> APIRouter:
    return users.get_oauth_router(
        GitHubLogin(settings),
        backend,
        settings.secret_key,
        redirect_url=settings.github_redirect_url,
        # Linking by e-mail is safe only because the e-mail is GitHub-verified (see chosen_email),
        # and the user manager never links a no-reply address.
        associate_by_email=True,
        is_verified_by_default=True,
        csrf_token_cookie_secure=settings.env == "production",
    )
