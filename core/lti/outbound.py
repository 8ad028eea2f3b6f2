"""The tool's calls to a platform's URLs (its key set, its configuration and registration endpoint)
through the project's pinned client (core/net/client.py), as webhooks and fetched documents go: the
host is resolved once and every address checked (no second lookup for DNS rebinding to use), one
deadline bounds the whole exchange (a server sending a byte every few seconds is cut at it), and
the body is read only up to a cap (a 200 MB answer never reaches memory).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from core.lti.errors import LtiError
from core.net.client import Broken, ConnectFailed, DeadlinePassed, pinned_stream, resolve_within
from core.net.guard import WebhookAddressError
from core.settings import get_settings


@dataclass(frozen=True)
class Answer:
    status: int
    headers: httpx.Headers
    body: bytes
    too_large: bool  # the body went past the cap: `body` holds the first max_bytes only

    def as_response(self, method: str, url: str) -> httpx.Response:
        """The answer as httpx gives one (its JSON, its Link header, its URL to resolve others on)."""
        return httpx.Response(
            self.status, headers=self.headers, content=self.body, request=httpx.Request(method, url)
        )

    def json_object(self) -> dict[str, Any] | None:
        """The body as a JSON object, or None (not JSON, nested past the parser, not an object)."""
        try:
            value = json.loads(self.body)
        except (ValueError, RecursionError):
            return None
        return value if isinstance(value, dict) else None


def call(
    method: str,
    url: str,
    *,
    what: str,
    unavailable: str,
    deadline_s: float,
    max_bytes: int,
    json_body: dict[str, Any] | None = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """One request to a platform's URL. LtiError `lti_url_forbidden` (403) for an address the tool
    must never call; `unavailable` (502) when it does not answer in time or at all."""
    deadline = time.monotonic() + deadline_s
    try:
        addresses = resolve_within(url, deadline, allow_private=get_settings().lti_allow_private)
    except WebhookAddressError as error:
        raise LtiError(
            "lti_url_forbidden", f"the platform's {what} may not be called: {error.message}", status=403
        ) from None
    except (OSError, concurrent.futures.TimeoutError) as error:
        raise LtiError(unavailable, f"the platform's {what} does not resolve: {error}", status=502) from None
    request_headers = {"accept": "application/json", "accept-encoding": "identity", **(headers or {})}
    if json_body is not None:
        content = json.dumps(json_body).encode()
        request_headers["content-type"] = "application/json"
    failure = "no address"
    for address in addresses:
        try:
            with pinned_stream(
                method, httpx.URL(url), address, deadline=deadline, headers=request_headers, content=content
            ) as exchange:
                body, too_large = _read_capped(exchange.response, max_bytes)
                if exchange.cut_by_deadline:
                    raise DeadlinePassed()
                response = exchange.response
                # The raw bytes are the answer (identity was asked for): a platform that compresses
                # anyway gets its body read as it came, never inflated past the cap.
                kept = httpx.Headers([(k, v) for k, v in response.headers.items() if k != "content-encoding"])
                return Answer(response.status_code, kept, body, too_large)
        except ConnectFailed as error:
            failure = str(error)
        except DeadlinePassed:
            raise LtiError(
                unavailable, f"the platform's {what} did not answer within {deadline_s:g} s", status=502
            ) from None
        except Broken as error:
            raise LtiError(unavailable, f"the platform's {what} broke off: {error}", status=502) from None
    raise LtiError(unavailable, f"the platform's {what} did not answer: {failure}", status=502)


async def call_async(method: str, url: str, **options: Any) -> Answer:
    """`call` off the event loop (it blocks on DNS and the socket)."""
    return await asyncio.to_thread(call, method, url, **options)


def _read_capped(response: httpx.Response, max_bytes: int) -> tuple[bytes, bool]:
    received = bytearray()
    for chunk in response.iter_raw():
        received += chunk
        if len(received) > max_bytes:
            return bytes(received[:max_bytes]), True
    return bytes(received), False
