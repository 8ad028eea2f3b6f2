"""The session cookie cannot be ridden by another page.

A browser attaches `mentorq_session` (SameSite=Lax) to every request to the API's host from a page
of the same site, and that includes another port or a subdomain of the host: a page there could
post a form to /v1 or /api and act as the signed-in admin. So every state-changing request (any
method but GET, HEAD, OPTIONS) that carries the session cookie must come from the API's own origin,
by api/same_origin.py's rule; so must every POST to the cookie login and logout (/auth/cookie/*),
which need no cookie to be abused (a forged login signs the browser in to the attacker's account).
A refusal is 403 `csrf_failed`, problem+json, before the body is read.

Not looked at:
- requests without the cookie: bearer tokens, which no page can make a browser send;
- requests a browser did not send on another page's behalf (neither Origin nor Sec-Fetch-Site);
- the console's own paths (/admin): each of its forms carries the stronger proof of a signed CSRF
  token, checked after who may post (api/console/csrf.py, same origin rule), and its refusals are
  pages;
- the exempt paths the app names: LTI's login initiation and launch, which a platform's page posts
  cross-site by design and which act on a signed id_token, a state and a nonce, not the cookie.

A request with both the cookie and an `Authorization` header is checked all the same: a browser may
add a Basic header on its own, and an invalid bearer token falls back to the cookie.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import problem_response
from api.same_origin import foreign_origin

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CONSOLE_PREFIX = "/admin"


def carries_cookie(scope: Scope, name: str) -> bool:
    """Whether any Cookie header of the request names the cookie (Starlette's own lenient parser,
    the one the authentication reads it with), whatever its value."""
    return any(name in cookie_parser(header) for header in Headers(scope=scope).getlist("cookie"))


def route_path(scope: Scope) -> str:
    """The path the app routes on: without the root path a proxy may mount the API under."""
    path, root = scope["path"], scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class CookieSessionGuard:
    """ASGI middleware: state-changing requests riding the session cookie must be same-origin."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        cookie_name: str,
        cookie_auth_prefix: str,
        exempt_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.exempt_paths = exempt_paths
        self.cookie_name = cookie_name
        self.cookie_auth_prefix = cookie_auth_prefix.rstrip("/") + "/"

    def _needs_origin_check(self, scope: Scope) -> bool:
        path = route_path(scope)
        if scope["method"] in SAFE_METHODS or path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/"):
            return False
        if path in self.exempt_paths:
            return False
        return path.startswith(self.cookie_auth_prefix) or carries_cookie(scope, self.cookie_name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._needs_origin_check(scope):
            reason = foreign_origin(scope)
            if reason is not None:
                detail = (
                    f"{reason}; a cookie-session request must come from this API's own origin "
                    "(a client elsewhere uses a bearer token)"
                )
                await problem_response(403, "csrf_failed", detail, instance=scope["path"])(
                    scope, receive, send
                )
                return
        await self.app(scope, receive, send)
