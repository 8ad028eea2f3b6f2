"""A platform's id_token, checked: RS256 only, the key the header's `kid` names in the platform's
JWKS, the platform's issuer, this tool's client id as audience, not expired, issued recently.

The algorithm is fixed before the token is read: `alg: none` and HS256 (with the platform's public
key as the HMAC secret, the classic confusion attack) are refused by the header, never tried. The
nonce and the message's own claims are core/lti/claims.py's and the caller's (single use)."""

from __future__ import annotations

import time
from typing import Any

import jwt

from core.lti.errors import LtiError

ALGORITHMS = ["RS256"]
LEEWAY_S = 60  # clocks disagree; a minute is what OpenID providers commonly allow
MAX_AGE_S = 3600  # an id_token issued longer ago than this is refused even if it has not expired
REQUIRED = ["iss", "aud", "exp", "iat", "nonce"]


def key_id(token: str) -> str | None:
    """The header's `kid` (None when absent), once the header is one this tool accepts at all."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise LtiError("lti_token_invalid", f"the id_token is not a JWT: {error}") from None
    if header.get("alg") not in ALGORITHMS:
        raise LtiError(
            "lti_bad_algorithm", f"id_token algorithm {header.get('alg')!r} is not RS256", status=403
        )
    kid = header.get("kid")
    return kid if isinstance(kid, str) else None


def unverified_issuer(token: str) -> str:
    """The `iss` a token claims, to find its platform's keys; nothing else is trusted before the check."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise LtiError("lti_token_invalid", f"the id_token is not a JWT: {error}") from None
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise LtiError("lti_claim_missing", "the id_token names no issuer")
    return issuer


def verify(token: str, key: Any, *, issuer: str, client_id: str, now: float | None = None) -> dict[str, Any]:
    """The token's claims when `key` signed it for this tool from `issuer`; LtiError otherwise."""
    key_id(token)  # the algorithm, first
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            audience=client_id,
            issuer=issuer,
            leeway=LEEWAY_S,
            options={"require": REQUIRED},
        )
    except jwt.ExpiredSignatureError:
        raise LtiError("lti_token_expired", "the id_token has expired", status=403) from None
    except jwt.InvalidAudienceError:
        raise LtiError(
            "lti_wrong_audience", "the id_token is not for this tool's client id", status=403
        ) from None
    except jwt.InvalidIssuerError:
        raise LtiError(
            "lti_wrong_issuer", "the id_token's issuer is not the platform's", status=403
        ) from None
    except jwt.InvalidSignatureError:
        raise LtiError("lti_bad_signature", "the id_token's signature does not verify", status=403) from None
    except jwt.MissingRequiredClaimError as error:
        raise LtiError("lti_claim_missing", f"the id_token has no {error.claim!r} claim") from None
    except jwt.PyJWTError as error:
        raise LtiError("lti_token_invalid", f"the id_token was refused: {error}", status=403) from None
    # A multi-audience token must name this tool as its authorized party (OpenID Connect Core 3.1.3.7).
    audience = claims["aud"]
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != client_id:
        raise LtiError(
            "lti_wrong_audience", "a token for several audiences must name this tool as azp", status=403
        )
    if claims["iat"] < (now or time.time()) - MAX_AGE_S - LEEWAY_S:
        raise LtiError("lti_token_expired", "the id_token was issued too long ago", status=403)
    return claims
