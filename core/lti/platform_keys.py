"""Each platform's public keys, fetched from its JWKS URL and kept per process.

A token whose `kid` the cached set lacks makes one fetch at once (the platform rotated its key),
but such fetches come at most once every REFETCH_AFTER_S per URL: a flood of tokens with made-up
key ids costs the platform one request in that time. A set is kept for CACHE_S at most, and an
unreachable JWKS URL is a clear refusal (`lti_platform_keys_unavailable`), not a 500. The URL is
checked like every address a platform names (core/net/guard.py: never cloud metadata or
link-local, private addresses only with MENTORQ_LTI_ALLOW_PRIVATE): `lti_url_forbidden`.

An RSA key under MIN_KEY_BITS (RFC 7518 3.3: a key of 2,048 bits or more MUST be used with RS256)
verifies nothing: a launch signed with one is refused (`lti_weak_key`, 403), and a registration
whose key set holds one is refused too (`weak_keys`)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import jwt

from core.lti.errors import LtiError
from core.lti.outbound import Answer, call_async

CACHE_S = 3600.0
REFETCH_AFTER_S = 10.0
TIMEOUT_S = 10.0
MAX_JWKS_BYTES = 256 * 1024
MIN_KEY_BITS = 2048


@dataclass
class _KeySet:
    keys: dict[str, Any]
    fetched_at: float
    lone_key: Any = None  # a set of one key answers a token with no kid
    refetched_for_unknown_at: float = float("-inf")


@dataclass
class PlatformKeys:
    _sets: dict[str, _KeySet] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def key(self, jwks_url: str, kid: str | None) -> Any:
        """The public key `kid` names in the platform's set; LtiError when it has none such."""
        cached = self._sets.get(jwks_url)
        now = time.monotonic()
        unknown = cached is not None and self._unknown(cached, kid)
        if (
            cached is None
            or now - cached.fetched_at > CACHE_S
            or (unknown and now - cached.refetched_for_unknown_at > REFETCH_AFTER_S)
        ):
            lock = self._locks.setdefault(jwks_url, asyncio.Lock())
            async with lock:
                latest = self._sets.get(jwks_url)
                if latest is cached:  # nobody fetched while this request waited
                    latest = await _fetch(jwks_url)
                    if unknown:
                        latest.refetched_for_unknown_at = now
                    self._sets[jwks_url] = latest
                cached = latest
        assert cached is not None
        if kid is None:
            if cached.lone_key is None:
                raise LtiError(
                    "lti_unknown_key",
                    "the id_token names no key id and the platform has several keys",
                    status=403,
                )
            return _strong(cached.lone_key, None)
        if kid not in cached.keys:
            raise LtiError("lti_unknown_key", f"the platform publishes no key {kid!r}", status=403)
        return _strong(cached.keys[kid], kid)

    @staticmethod
    def _unknown(cached: _KeySet, kid: str | None) -> bool:
        return kid not in cached.keys if kid is not None else cached.lone_key is None

    def forget(self) -> None:
        self._sets.clear()


def _strong(key: Any, kid: str | None) -> Any:
    if key.key_size < MIN_KEY_BITS:
        raise LtiError(
            "lti_weak_key",
            f"the platform's key {kid or '(no kid)'} is RSA of {key.key_size} bits: "
            f"RS256 needs {MIN_KEY_BITS} or more",
            status=403,
        )
    return key


def weak_keys(jwks: dict[str, Any]) -> list[str]:
    """The signing keys in a platform's key set (a JWKS read at registration) under MIN_KEY_BITS,
    each as "kid (bits)"; LtiError `lti_platform_keys_unavailable` when it is not a key set."""
    return [
        f"{jwk.key_id or 'without kid'} ({jwk.key.key_size} bits)"
        for jwk in _signing_keys(jwks)
        if jwk.key.key_size < MIN_KEY_BITS
    ]


async def fetch_jwks(jwks_url: str) -> dict[str, Any] | None:
    """The platform's JWKS as JSON, fetched once (a registration's check), or None when it cannot
    be read; `lti_url_forbidden` for an address no platform may name."""
    try:
        answer = await _get(jwks_url)
    except LtiError as error:
        if error.code == "lti_platform_keys_unavailable":
            return None
        raise
    return answer.json_object() if answer.status == 200 and not answer.too_large else None


async def _get(jwks_url: str) -> Answer:
    return await call_async(
        "GET",
        jwks_url,
        what="JWKS URL",
        unavailable="lti_platform_keys_unavailable",
        deadline_s=TIMEOUT_S,
        max_bytes=MAX_JWKS_BYTES,
    )


async def _fetch(jwks_url: str) -> _KeySet:
    answer = await _get(jwks_url)
    if answer.status != 200 or answer.too_large:
        raise LtiError(
            "lti_platform_keys_unavailable",
            f"the platform's JWKS URL answered {answer.status}"
            + (f" with over {MAX_JWKS_BYTES} bytes" if answer.too_large else ""),
            status=502,
        )
    usable = _signing_keys(answer.json_object())
    keys = {jwk.key_id: jwk.key for jwk in usable if jwk.key_id}
    lone = usable[0].key if len(usable) == 1 else None
    return _KeySet(keys=keys, fetched_at=time.monotonic(), lone_key=lone)


def _signing_keys(body: dict[str, Any] | None) -> list[jwt.PyJWK]:
    try:
        if body is None:
            raise ValueError("not a JSON object")
        found = jwt.PyJWKSet.from_dict(body)
    except (ValueError, jwt.PyJWTError) as error:
        raise LtiError(
            "lti_platform_keys_unavailable", f"the platform's JWKS is not a key set: {error}", status=502
        ) from None
    # Only RSA signing keys count: a symmetric key in a JWKS must never verify anything.
    return [jwk for jwk in found.keys if jwk.key_type == "RSA" and (jwk.public_key_use in (None, "sig"))]


PLATFORM_KEYS = PlatformKeys()
