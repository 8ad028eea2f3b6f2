"""Did a page of the API's own origin send this request? The one rule behind the console's CSRF
check (api/console/csrf.py) and the cookie-session guard (api/cookie_guard.py).

A browser names where a request comes from in two headers no page can set or remove:

- `Sec-Fetch-Site` (Chromium, Firefox, Safari 16.4+; sent to HTTPS and loopback URLs). It is the
  browser's own verdict, so it decides when present: `same-origin` passes, and `none` (the user
  typed the address or chose a bookmark) passes; `same-site` (another port or subdomain of our
  host) and `cross-site` are refused. No proxy in front can spoil it: the browser compared the two
  URLs it saw.
- `Origin` (every browser, on every cross-origin POST; `null` after a cross-origin redirect or from
  a sandboxed frame). Without Sec-Fetch-Site it must equal the API's own origin exactly: scheme,
  host and port (another port of the same host is another origin). The own origin is
  MENTORQ_PUBLIC_URL when set, else the request's scheme (X-Forwarded-Proto when uvicorn trusts the
  proxy) and its Host header.

A request with neither header was not sent by a browser on another page's behalf (a browser sends
at least Origin on every cross-origin POST): curl, an SDK, a server. It passes.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import Scope

from core.settings import get_settings

ACCEPTED_FETCH_SITES = frozenset({"same-origin", "none"})
DEFAULT_PORTS = {"http": 80, "https": 443}


@lru_cache(maxsize=256)
def web_origin(url: str) -> str | None:
    """`scheme://host[:port]` of an http(s) URL, lowercased, the default port left out; None if the
    URL has no such origin (another scheme, no host, a bad port)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.username is not None:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{scheme}://{host}" if port in (None, DEFAULT_PORTS[scheme]) else f"{scheme}://{host}:{port}"


def own_origin(scope: Scope) -> str | None:
    """The origin browsers use for this API: MENTORQ_PUBLIC_URL, else this request's scheme and Host."""
    public = get_settings().public_url
    if public:
        return web_origin(public)
    host = Headers(scope=scope).get("host")
    return web_origin(f"{scope.get('scheme', 'http')}://{host}") if host else None


def foreign_origin(scope: Scope) -> str | None:
    """Why the request is not from a page of the API's own origin, or None when it is (or when no
    browser sent it)."""
    headers = Headers(scope=scope)
    site = headers.get("sec-fetch-site")
    if site is not None:
        site = site.strip().lower()
        if site in ACCEPTED_FETCH_SITES:
            return None
        where = "another site" if site == "cross-site" else "another origin"
        return f"the browser says this request was sent from {where} (Sec-Fetch-Site)"
    origin = headers.get("origin")
    if origin is None:
        return None
    if origin.strip() == "null":
        return "the request was sent from an opaque origin (Origin: null)"
    if web_origin(origin) is None or web_origin(origin) != own_origin(scope):
        return "the request was sent from another origin (its Origin is not this API's)"
    return None
