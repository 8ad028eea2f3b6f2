"""Fair use: request rate limits, login throttling and hourly quotas, counted by `limits` in the
state Redis (never the broker's: core/redis_clients.py).

Every request but the probes and the API's own documentation is counted, per user when it
carries a valid token (bearer or session cookie), else per client address: that is what limits
the unauthenticated routes (login, register, profile creation) per IP. Past the limit the answer
is 429 `rate_limited`, problem+json, with `Retry-After` and the IETF draft's `RateLimit-Policy`
and `RateLimit` fields (draft-ietf-httpapi-ratelimit-headers). The counters are sliding-window
counters (two Redis keys per caller and limit, one round trip per request).

Limits protect the platform; they must not become an outage. With Redis unreachable the request
goes through (the outbox keeps accepting jobs then too), and the failure is logged.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from functools import lru_cache

import jwt
from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import ProblemError, problem_response
from api.tokens import verified_claims
from core.redis_clients import get_async_state_redis
from core.settings import get_settings

log = logging.getLogger(__name__)

# Probes and the metrics scrape (its own token, from the private network) spend no one's allowance,
# nor the tool's public keys, which an LMS fetches at every launch it checks (served from memory).
NOT_COUNTED = frozenset(
    {
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/lti/jwks",
    }
)
# The pages of an LTI launch: a whole class comes from one school address at once, so they count
# against MENTORQ_RATE_LIMIT_LTI per address, not the anonymous limit meant for logins.
LTI_LAUNCH_PATHS = ("/lti/login", "/lti/launch", "/lti/home", "/lti/exercises/", "/lti/deep-link")
SESSION_COOKIE = "mentorq_session"
TOKEN_AUDIENCE = ["fastapi-users:auth"]
# A caller's key longer than this (a login's user name is whatever the form says, up to the body
# limit) is counted under its SHA-256: the counters' keys stay short whatever a client sends.
MAX_KEY_CHARS = 64


@lru_cache
def _limiter() -> SlidingWindowCounterRateLimiter:
    # The API's own pool to the state Redis (never the broker's); the URI only names the storage type.
    storage = RedisStorage(
        "async+redis://localhost:6379",
        implementation="redispy",
        connection_pool=get_async_state_redis().connection_pool,
        key_prefix="mentorq:limits",
    )
    return SlidingWindowCounterRateLimiter(storage)


@lru_cache
def limit(expression: str) -> RateLimitItem:
    """'600/minute' as a `limits` item (settings validate the notation at start)."""
    return parse(expression)


def _bounded(key: str) -> str:
    if len(key) <= MAX_KEY_CHARS:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


async def spend(item: RateLimitItem, policy: str, key: str) -> dict[str, str] | None:
    """Count one use; None when allowed, else the headers of the 429 (Retry-After and RateLimit)."""
    key = _bounded(key)
    try:
        if await _limiter().hit(item, policy, key):
            return None
        return await _refusal_headers(item, policy, key)
    except Exception:  # noqa: BLE001 - Redis down or failing: let the request through
        log.warning("rate limit %s not checked (Redis unavailable)", policy, exc_info=True)
        return None


async def exhausted(item: RateLimitItem, policy: str, key: str) -> dict[str, str] | None:
    """Without counting: None while uses are left, else the headers of the 429."""
    key = _bounded(key)
    try:
        if await _limiter().test(item, policy, key):
            return None
        return await _refusal_headers(item, policy, key)
    except Exception:  # noqa: BLE001
        log.warning("rate limit %s not checked (Redis unavailable)", policy, exc_info=True)
        return None


async def count(item: RateLimitItem, policy: str, key: str) -> None:
    """Count one use without asking (a failed login)."""
    key = _bounded(key)
    try:
        await _limiter().hit(item, policy, key)
    except Exception:  # noqa: BLE001
        log.warning("rate limit %s not counted (Redis unavailable)", policy, exc_info=True)


async def forget(item: RateLimitItem, policy: str, key: str) -> None:
    """Reset a caller's count (a successful login clears its failures)."""
    key = _bounded(key)
    try:
        await _limiter().clear(item, policy, key)
    except Exception:  # noqa: BLE001
        log.warning("rate limit %s not reset (Redis unavailable)", policy, exc_info=True)


async def _refusal_headers(item: RateLimitItem, policy: str, key: str) -> dict[str, str]:
    stats = await _limiter().get_window_stats(item, policy, key)
    retry_after = max(1, math.ceil(stats.reset_time - time.time()))
    return {
        "Retry-After": str(retry_after),
        "RateLimit-Policy": f'"{policy}";q={item.amount};w={item.get_expiry()}',
        "RateLimit": f'"{policy}";r={stats.remaining};t={retry_after}',
    }


async def charge_quota(*, policy: str, key: str, per_hour: int, code: str, what: str) -> None:
    """Count one use of an hourly quota; raise 429 `code` past it."""
    headers = await spend(limit(f"{per_hour}/hour"), policy, key)
    if headers is not None:
        raise ProblemError(429, code, f"at most {per_hour} {what} per hour", headers=headers)


def caller(scope: Scope) -> tuple[str, str]:
    """("user", id) for a request with a valid token (not checked for revocation: a revoked token
    is refused by the route anyway), else ("address", the client's IP)."""
    headers = dict(scope.get("headers") or [])
    token = None
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    if authorization[:7].lower() == "bearer ":
        token = authorization[7:].strip()
    elif b"cookie" in headers:
        for part in headers[b"cookie"].decode("latin-1").split(";"):
            name, _, value = part.strip().partition("=")
            if name == SESSION_COOKIE:
                token = value
    if token:
        try:
            claims = verified_claims(token, get_settings().secret_key, audience=TOKEN_AUDIENCE)
            return "user", str(claims["sub"])
        except (jwt.PyJWTError, KeyError):
            pass
    client = scope.get("client")
    return "address", client[0] if client else "unknown"


class RateLimits:
    """Pure ASGI middleware: one count per request, 429 past the caller's limit."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in NOT_COUNTED:
            await self.app(scope, receive, send)
            return
        kind, key = caller(scope)
        settings = get_settings()
        item = limit(settings.rate_limit_user if kind == "user" else settings.rate_limit_anonymous)
        policy = "user" if kind == "user" else "address"
        if kind == "address" and str(scope.get("path", "")).startswith(LTI_LAUNCH_PATHS):
            item, policy = limit(settings.rate_limit_lti), "lti-address"
        headers = await spend(item, policy, key)
        if headers is None:
            await self.app(scope, receive, send)
            return
        per = f"{item.amount} requests per {item.get_expiry()} s"
        response = problem_response(
            429,
            "rate_limited",
            f"too many requests ({per} per {'user' if kind == 'user' else 'client address'}); retry later",
            headers=headers,
            instance=scope.get("path"),
        )
        await response(scope, receive, send)
