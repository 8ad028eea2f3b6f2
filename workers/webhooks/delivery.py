"""One webhook delivery attempt: resolve and check the host, POST to the checked address, judge the answer.

Outcomes, and why (Standard Webhooks: any non-2xx answer is a failed attempt, retried on the schedule):

- `success`: a 2xx status. The body is not needed; at most `max_response_bytes` of it are kept.
- `disable`: 410 Gone. The receiver says the endpoint is gone; stop sending to it for this job.
- `retry`: 429, 5xx, connection errors, timeouts and DNS failures, which are often transient, and also
  3xx and the other 4xx. Those are failures too (a redirect is never followed), but a receiver
  mid-deploy or misconfigured for a while answers 404 or 301 as readily as 503, and retrying costs
  only a few requests on a schedule that ends after eight attempts.
- `fail`: the URL or an address it resolves to is forbidden (SSRF guard), or the receiver redirects
  to a forbidden address. Retrying cannot change that, so the message is given up at once.

The request goes through the platform's guarded client (core/net/client.py): to an address the
guard approved, never a second DNS answer, and within one deadline for the whole attempt (DNS,
connect, TLS, sending, and a receiver that drips its answer one byte at a time).
"""

from __future__ import annotations

import email.utils
import math
import socket
import time
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import httpx

from core.net.client import Broken, ConnectFailed, DeadlinePassed, pinned_stream, resolve_within
from core.net.guard import ADDRESS_FORBIDDEN, Resolver, WebhookAddressError

Outcome = Literal["success", "retry", "disable", "fail"]


@dataclass
class DeliveryResult:
    """What one attempt did: the outcome, and what the delivery log records about it."""

    outcome: Outcome
    status_code: int | None
    latency_ms: int
    error: str | None
    retry_after_s: float | None
    response_excerpt: str | None


def deliver(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout_s: float = 10.0,
    allow_private: bool,
    max_response_bytes: int = 4096,
    resolver: Resolver = socket.getaddrinfo,
) -> DeliveryResult:
    """POST `body` with `headers` to `url` once, within `timeout_s` overall, and say what happened."""
    started = time.monotonic()
    deadline = started + timeout_s

    def result(
        outcome: Outcome,
        error: str | None,
        status: int | None = None,
        *,
        retry_after_s: float | None = None,
        excerpt: str | None = None,
    ) -> DeliveryResult:
        latency_ms = round((time.monotonic() - started) * 1000)
        return DeliveryResult(outcome, status, latency_ms, error, retry_after_s, excerpt)

    try:
        addresses = resolve_within(url, deadline, allow_private=allow_private, resolver=resolver)
    except WebhookAddressError as exc:
        return result("fail", str(exc))
    except FutureTimeout:
        return result("retry", f"webhook_timeout: DNS lookup took longer than {timeout_s:g} s")
    except OSError as exc:
        return result("retry", f"webhook_dns_failed: {exc}")
    except ValueError as exc:  # e.g. a host name that cannot be IDNA-encoded
        return result("fail", f"webhook_url_invalid: {exc}")

    parsed = httpx.URL(url)
    failures: list[str] = []
    for address in addresses:
        try:
            answer = _post(parsed, address, body, headers, deadline, max_response_bytes)
        except ConnectFailed as exc:  # this address refused or unreachable: try the next one, if any
            failures.append(f"{address}: {exc}")
            continue
        except DeadlinePassed:
            return result("retry", f"webhook_timeout: no complete answer within {timeout_s:g} s")
        except Broken as exc:
            return result("retry", f"webhook_connection_error: {exc}")
        status, response_headers, excerpt = answer
        outcome, error = _judge(status, response_headers, parsed, deadline, allow_private, resolver)
        retry_after = parse_retry_after(response_headers.get("retry-after")) if outcome == "retry" else None
        return result(outcome, error, status, retry_after_s=retry_after, excerpt=excerpt)
    if time.monotonic() >= deadline:
        return result("retry", f"webhook_timeout: no connection within {timeout_s:g} s")
    return result("retry", "webhook_connect_failed: " + "; ".join(failures))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks for (delay-seconds or HTTP-date); None when absent or malformed."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _post(
    parsed: httpx.URL, address: str, body: bytes, headers: dict[str, str], deadline: float, max_bytes: int
) -> tuple[int, httpx.Headers, str]:
    """Send the request to `address` (the pinned IP) and read the status, headers and a capped body."""
    # identity: the excerpt is the bytes on the wire; no decompression bombs.
    request_headers = {**headers, "accept-encoding": "identity"}
    with pinned_stream(
        "POST", parsed, address, deadline=deadline, headers=request_headers, content=body
    ) as exchange:
        response = exchange.response
        return response.status_code, response.headers, _read_capped(response, max_bytes, deadline)


def _read_capped(response: httpx.Response, max_bytes: int, deadline: float) -> str:
    """At most `max_bytes` of the body, and only what arrives before the deadline; the rest is never read."""
    received = bytearray()
    try:
        for chunk in response.iter_raw():
            received += chunk
            if len(received) >= max_bytes or time.monotonic() >= deadline:
                break
    except httpx.TransportError:
        pass  # cut by the deadline or a broken connection: the status line already arrived and decides
    return bytes(received[:max_bytes]).decode("utf-8", errors="replace")


def _judge(
    status: int,
    response_headers: httpx.Headers,
    parsed: httpx.URL,
    deadline: float,
    allow_private: bool,
    resolver: Resolver,
) -> tuple[Outcome, str | None]:
    if 200 <= status < 300:
        return "success", None
    if status == 410:
        return "disable", "webhook_gone: the receiver answered 410 Gone"
    if 300 <= status < 400:
        location = response_headers.get("location")
        if location is not None:
            refusal = _forbidden_redirect(parsed, location, deadline, allow_private, resolver)
            if refusal is not None:
                return "fail", f"{ADDRESS_FORBIDDEN}: redirect to forbidden address refused ({refusal})"
        return (
            "retry",
            f"webhook_redirect_not_followed: HTTP {status} to {location!r}; redirects are not followed",
        )
    return "retry", f"webhook_http_status: the receiver answered HTTP {status}"


def _forbidden_redirect(
    parsed: httpx.URL, location: str, deadline: float, allow_private: bool, resolver: Resolver
) -> str | None:
    """Why a redirect target would be refused, or None; the redirect is not followed either way."""
    try:
        target = str(parsed.join(location))
    except (httpx.InvalidURL, ValueError):
        return None
    try:
        resolve_within(target, deadline, allow_private=allow_private, resolver=resolver)
    except WebhookAddressError as exc:
        return f"Location {location!r}: {exc.message}" if exc.code == ADDRESS_FORBIDDEN else None
    except (OSError, FutureTimeout):
        return None
    return None
