"""The login's state and nonce, kept in Redis between the login initiation and the launch.

The state names what the tool sent the browser to the platform with (the platform, the nonce, the
target); it is taken once (GETDEL), so a replayed form finds nothing. The nonce is also spent once
per issuer for as long as a token could be accepted, so a second launch with a captured id_token
is refused even with a fresh state. The launch ticket carries a checked launch from the form POST
to the page it lands on, once, within a minute, and only in the browser that holds the login's
state cookie. A deep-linking choice (a "pick") waits here for the instructor's form.

Where the browser keeps no cookie in the platform's frame, the login records the frame the platform
named for its storage (LTI Client Side postMessage storage, `lti_storage_target`), and a checked
launch waits here as a "storage check" until the launch page has read the state and nonce back
from that frame (api/lti/routes.py, /lti/launch/verify).

What a request can make here before anyone is authenticated, and its bound:
- `state:*` (STATE_TTL_S): made by every login initiation (/lti/login) naming a registered platform,
  so anyone can make them, at the launch pages' rate limit (MENTORQ_RATE_LIMIT_LTI per address).
  The row keeps the platform's id (36 characters), the nonce (43), the target's SHA-256 (64: the
  launch compares the token's target with it, and nothing needs the target itself) and the storage
  target, never what was sent besides; the login refuses a target over 2,048 characters or not
  plain ASCII (api/lti/service.py MAX_LOGIN_FIELD_CHARS, `lti_login_field_too_long`) and a storage
  target that is not a frame's name of at most 64, so a row is at most MAX_STATE_BYTES.
- `nonce:*` (NONCE_TTL_S, one byte): only after an id_token verified with the platform's key.
- `ticket:*`, `storage:*` and `pick:*`: only after a whole launch was checked (their payloads are
  what the verified token said, bounded by the launch form's 64 KiB id_token); none is made by a
  login or a refused launch."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from redis.asyncio import Redis

STATE_TTL_S = 600  # a learner may sit on the platform's consent or login page for a while
NONCE_TTL_S = 3600 + 120  # core/lti/id_token.py's MAX_AGE_S and leeway: past it the token is refused anyway
TICKET_TTL_S = 60
_PREFIX = "mentorq:lti:"
MAX_STATE_BYTES = 300  # a login state's JSON with the longest storage target (64)


def target_digest(target_link_uri: str) -> str:
    return hashlib.sha256(target_link_uri.encode()).hexdigest()


@dataclass(frozen=True)
class LoginState:
    platform_id: str
    nonce: str
    target_digest: str  # the login's target_link_uri, by its SHA-256 (target_digest)
    # The platform's frame keeping this login's state and nonce (its `lti_storage_target`), if any.
    storage_target: str | None = None

    def targets(self, target_link_uri: str) -> bool:
        """Whether the login named this target."""
        return secrets.compare_digest(self.target_digest, target_digest(target_link_uri))


def new_secret() -> str:
    return secrets.token_urlsafe(32)


async def remember_login(redis: Redis, state: str, login: LoginState) -> None:
    await redis.set(f"{_PREFIX}state:{state}", json.dumps(asdict(login)), ex=STATE_TTL_S)


async def take_login(redis: Redis, state: str) -> LoginState | None:
    raw = await redis.getdel(f"{_PREFIX}state:{state}")
    return LoginState(**json.loads(raw)) if raw else None


async def spend_nonce(redis: Redis, issuer: str, nonce: str) -> bool:
    """True the first time this issuer's nonce is seen, False on every replay."""
    return bool(await redis.set(f"{_PREFIX}nonce:{issuer}:{nonce}", 1, nx=True, ex=NONCE_TTL_S))


async def _hold(redis: Redis, kind: str, payload: dict[str, Any], ttl_s: int) -> str:
    """`payload` kept under a new secret for `ttl_s` seconds, for whoever shows the secret once."""
    secret = new_secret()
    await redis.set(f"{_PREFIX}{kind}:{secret}", json.dumps(payload), ex=ttl_s)
    return secret


async def _take(redis: Redis, kind: str, secret: str) -> dict[str, Any] | None:
    raw = await redis.getdel(f"{_PREFIX}{kind}:{secret}")
    return json.loads(raw) if raw else None


async def issue_ticket(redis: Redis, payload: dict[str, Any]) -> str:
    return await _hold(redis, "ticket", payload, TICKET_TTL_S)


async def redeem_ticket(redis: Redis, ticket: str) -> dict[str, Any] | None:
    return await _take(redis, "ticket", ticket)


STORAGE_CHECK_TTL_S = 60  # the launch page asks the platform's frame at once


async def remember_storage_check(redis: Redis, payload: dict[str, Any]) -> str:
    """A checked launch waiting for the state and nonce its page reads from the platform's storage."""
    return await _hold(redis, "storage", payload, STORAGE_CHECK_TTL_S)


async def take_storage_check(redis: Redis, check: str) -> dict[str, Any] | None:
    return await _take(redis, "storage", check)


PICK_TTL_S = 1800  # an instructor may browse a while before placing


async def remember_pick(redis: Redis, payload: dict[str, Any]) -> str:
    """A deep-linking request waiting for the instructor's choice; the id is the form's authority."""
    return await _hold(redis, "pick", payload, PICK_TTL_S)


async def take_pick(redis: Redis, pick: str) -> dict[str, Any] | None:
    return await _take(redis, "pick", pick)
