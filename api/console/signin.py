"""Signing in and out of the console: the same password check (per-account throttling included) and
the same `mentorq_session` cookie as POST /auth/cookie/login, from an HTML form with a CSRF token."""

from __future__ import annotations

import posixpath
from typing import Annotated
from urllib.parse import quote, unquote, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from starlette.responses import RedirectResponse, Response

from api.auth import UserManager, cookie_backend, get_user_manager
from api.console import csrf
from api.console.auth import AdminForm, cookie_user_and_token
from api.console.routing import ConsoleRoute
from api.console.templating import render
from api.errors import ProblemError
from api.tokens import RevocableJWTStrategy
from db.models import User

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

HOME = "/admin"
MAX_DECODES = 4  # a legitimate `next` is encoded once or twice; more is an attempt at confusion
Strategy = Annotated[RevocableJWTStrategy, Depends(cookie_backend.get_strategy)]


def _fully_decoded(text: str) -> str | None:
    """Percent-decoded until it no longer changes (`%252e` is `%2e` is `.`: a browser treats `%2e`
    as a dot when it resolves a path); None when still changing after MAX_DECODES rounds."""
    for _ in range(MAX_DECODES):
        decoded = unquote(text)
        if decoded == text:
            return text
        text = decoded
    return None


def safe_next(value: str | None) -> str:
    """Where to send the browser after sign-in: `next` only when it is a console page, judged on the
    path the browser will open (percent-decoded until stable, `.` and `..` segments resolved, the
    way a browser resolves them, `%2e` included), and returned in that normalized form, so what is
    checked is what is followed. Anything else (another host, a scheme, `//host`, a backslash some
    browsers read as a slash, a control character they drop, a path that leaves /admin) goes home."""
    if not value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return HOME
    parts = urlsplit(value)
    path = _fully_decoded(parts.path)
    if parts.scheme or parts.netloc or path is None or not path.startswith("/") or path.startswith("//"):
        return HOME
    if "\\" in path or any(ord(c) < 32 or ord(c) == 127 for c in path):
        return HOME
    path = posixpath.normpath(path)  # "/admin/jobs/../../v1" -> "/v1"; "//" inside -> "/"
    if not (path == HOME or path.startswith(HOME + "/")) or path in ("/admin/login", "/admin/logout"):
        return HOME
    target = quote(path, safe="/")
    if parts.query:
        target += "?" + parts.query
    if parts.fragment:
        target += "#" + parts.fragment
    return target


def _login_page(request: Request, *, next_url: str, email: str = "", error: str | None = None, status=200):
    return render(
        request,
        "login.html",
        title="Sign in",
        status_code=status,
        next_url=next_url,
        email=email,
        error=error,
    )


@router.get("/admin/login")
async def login_form(
    request: Request,
    found: Annotated[tuple[User | None, str | None], Depends(cookie_user_and_token)],
    next: str | None = None,  # noqa: A002 - the parameter's name in the URL
) -> Response:
    user, _ = found
    if user is not None and user.is_superuser:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next_url=safe_next(next))


@router.post("/admin/login")
async def login(
    request: Request,
    user_manager: Annotated[UserManager, Depends(get_user_manager)],
    strategy: Strategy,
) -> Response:
    fields = await request.form()
    csrf.check_form(request, fields)
    email = str(fields.get("email") or "").strip()
    password = str(fields.get("password") or "")
    next_url = safe_next(str(fields.get("next") or ""))
    credentials = OAuth2PasswordRequestForm(
        grant_type="password", username=email, password=password, scope="", client_id=None, client_secret=None
    )
    try:
        user = await user_manager.authenticate(credentials)
    except ProblemError as refusal:  # login_throttled
        return _login_page(
            request, next_url=next_url, email=email, error=refusal.detail, status=refusal.status
        )
    if user is None or not user.is_active:
        return _login_page(
            request, next_url=next_url, email=email, error="Wrong e-mail or password.", status=400
        )
    if not user.is_superuser:
        # No session for the console then: the account may use the API, not these pages.
        return _login_page(
            request,
            next_url=next_url,
            email=email,
            error="This account is not an admin. An admin can promote it (Users page, "
            "or `mentorq users promote EMAIL`).",
            status=403,
        )
    signed_in = await cookie_backend.login(strategy, user)
    await user_manager.on_after_login(user, request, signed_in)
    redirect = RedirectResponse(next_url, status_code=303)
    for cookie in signed_in.headers.getlist("set-cookie"):
        redirect.headers.append("set-cookie", cookie)
    return redirect


@router.post("/admin/logout")
async def logout(
    form: AdminForm,
    found: Annotated[tuple[User | None, str | None], Depends(cookie_user_and_token)],
    strategy: Strategy,
) -> Response:
    """Revokes the session's token (like /auth/cookie/logout) and clears the cookie."""
    _, token = found
    signed_out = await cookie_backend.logout(strategy, form.admin, token)
    redirect = RedirectResponse("/admin/login", status_code=303)
    for cookie in signed_out.headers.getlist("set-cookie"):
        redirect.headers.append("set-cookie", cookie)
    return redirect
