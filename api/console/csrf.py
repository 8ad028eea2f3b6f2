"""CSRF protection for the console's forms.

The design (double submit, signed):

- Every console page makes sure the browser holds a `mentorq_csrf` cookie: 32 random bytes,
  HttpOnly, SameSite=Strict, Secure in production, scoped to /admin. A page that finds none (or a
  malformed one) sets a fresh one on its response.
- Every form carries a hidden `csrf_token` field: HMAC-SHA256 of that cookie's value under
  SECRET_KEY. A POST is accepted only when the field equals the HMAC of the cookie it came with,
  compared in constant time. A cross-site page can make the browser send the cookie, but can read
  neither the cookie nor our pages, so it cannot produce the field; and since the field is signed
  with the server's secret, a cookie planted from a sibling subdomain (which an attacker could
  pair with a field of their choosing in a plain double submit) is useless without SECRET_KEY.
- A POST that the browser says comes from another origin is refused before the token is looked
  at: Sec-Fetch-Site other than `same-origin`/`none`, or an Origin that is not the API's own
  (scheme, host and port: another port of the same host is another origin). The rule is
  api/same_origin.py's, the same that guards the API's cookie sessions (api/cookie_guard.py).
- The sign-in form is protected the same way (the cookie exists before anyone signs in), so no
  one can sign a browser into an attacker's account ("login CSRF").
- Refusals are 403 with the stable code `csrf_failed`. Who may post is decided first
  (api/console/auth.py): a signed-in non-admin gets 403 `admin_only` whatever the token.

Tokens are not tied to the session on purpose: signing in does not invalidate a form already open
in another tab, and a stolen token alone (without the HttpOnly cookie) is worthless.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from api.same_origin import foreign_origin
from core.settings import get_settings

CSRF_COOKIE = "mentorq_csrf"
CSRF_FIELD = "csrf_token"
COOKIE_PATH = "/admin"
_COOKIE_FORMAT = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)


class CsrfFailed(Exception):
    """A console form POST without a valid token, or from another origin."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _cookie_value(request: Request) -> str | None:
    value = request.cookies.get(CSRF_COOKIE)
    return value if value and _COOKIE_FORMAT.match(value) else None


def _sign(cookie: str) -> str:
    key = get_settings().secret_key.encode()
    return hmac.new(key, b"mentorq-console-csrf:" + cookie.encode(), hashlib.sha256).hexdigest()


def form_token(request: Request) -> str:
    """The value of the hidden `csrf_token` field for this browser (a new cookie is made if needed)."""
    cookie = _cookie_value(request) or getattr(request.state, "new_csrf_cookie", None)
    if cookie is None:
        cookie = secrets.token_urlsafe(32)
        request.state.new_csrf_cookie = cookie
    return _sign(cookie)


def set_cookie_if_new(request: Request, response: Response) -> None:
    """Send the cookie form_token made for this request, if it made one."""
    cookie = getattr(request.state, "new_csrf_cookie", None)
    if cookie is not None:
        response.set_cookie(
            CSRF_COOKIE,
            cookie,
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=get_settings().env == "production",
        )


def check_form(request: Request, form: FormData) -> None:
    """Refuse the POST (CsrfFailed) unless it comes from our own pages in this browser."""
    elsewhere = foreign_origin(request.scope)
    if elsewhere is not None:
        raise CsrfFailed(elsewhere)
    cookie = _cookie_value(request)
    sent = form.get(CSRF_FIELD)
    if cookie is None:
        raise CsrfFailed("this browser has no console cookie; reload the page and try again")
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), _sign(cookie).encode()):
        raise CsrfFailed("the form's token is missing or does not match; reload the page and try again")
