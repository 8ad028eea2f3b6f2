"""A configured service URL taken apart for an HTTP client: where to connect, and the credentials
an operator put in it, sent the way HTTP sends them.

`http://user:password@gpu-box:8000/v1?api-key=K` becomes the base `http://gpu-box:8000/v1` (its
display form, core/net/display.py: the only form a client, a message or a log line ever holds),
HTTP basic auth `(user, password)`, and the query `[("api-key", "K")]`, sent with every request
as a query, so a request to `models` goes to `/v1/models?api-key=K`, never `/v1?api-key=K/models`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from core.net.display import display_url, url_parts


@dataclass(frozen=True)
class EndpointURL:
    """A service's base URL without credentials, and the credentials apart."""

    base: str
    basic_auth: tuple[str, str] | None
    query: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, url: str) -> EndpointURL:
        """Take `url` apart; userinfo and query are percent-decoded, as a URL's reader would."""
        parts = url_parts(url)
        auth = None
        if parts.userinfo is not None:
            user, _, password = parts.userinfo.partition(":")
            auth = (unquote(user), unquote(password))
        return cls(display_url(url), auth, tuple(parse_qsl(parts.query, keep_blank_values=True)))

    @property
    def authorization(self) -> str | None:
        """The basic auth as an Authorization header value (for clients that take headers only)."""
        if self.basic_auth is None:
            return None
        user, password = self.basic_auth
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")

    def url(self, path: str) -> str:
        """The base with `path` joined under it (the query stays apart: see `httpx_options`)."""
        return f"{self.base.rstrip('/')}/{path.lstrip('/')}"

    def httpx_options(self) -> dict[str, Any]:
        """`auth` and `params` for an httpx (or httpx2) client or request; empty when there are none."""
        options: dict[str, Any] = {}
        if self.basic_auth is not None:
            options["auth"] = self.basic_auth
        if self.query:
            options["params"] = list(self.query)
        return options

    def default_query(self) -> dict[str, str] | None:
        """The query as the openai and anthropic clients take it (a mapping: a repeated name keeps
        its last value), or None."""
        return dict(self.query) or None
