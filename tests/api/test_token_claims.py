"""Verified token claims are remembered per token, but never past the token's expiry."""

from __future__ import annotations

import time

import jwt
import pytest
from fastapi_users.jwt import generate_jwt

from api.tokens import verified_claims

KEY = "a-test-secret-of-at-least-thirty-two-bytes"
AUDIENCE = ["fastapi-users:auth"]


def token(lifetime_s: int, **claims) -> str:
    return generate_jwt({"sub": "u1", "aud": AUDIENCE, "jti": "j1", **claims}, KEY, lifetime_s)


def test_a_remembered_token_is_refused_once_expired(monkeypatch: pytest.MonkeyPatch):
    issued = token(60)
    assert verified_claims(issued, KEY, audience=AUDIENCE)["sub"] == "u1"
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(jwt.ExpiredSignatureError):
        verified_claims(issued, KEY, audience=AUDIENCE)


def test_signature_audience_and_required_claims_are_checked():
    with pytest.raises(jwt.InvalidSignatureError):
        verified_claims(token(60), "another-secret-of-at-least-thirty-two-bytes", audience=AUDIENCE)
    with pytest.raises(jwt.InvalidAudienceError):
        verified_claims(token(60), KEY, audience=["somebody-else"])
    without_jti = generate_jwt({"sub": "u1", "aud": AUDIENCE}, KEY, 60)
    with pytest.raises(jwt.MissingRequiredClaimError):
        verified_claims(without_jti, KEY, audience=AUDIENCE)


def test_callers_cannot_change_what_is_remembered():
    issued = token(60)
    verified_claims(issued, KEY, audience=AUDIENCE)["sub"] = "someone-else"
    assert verified_claims(issued, KEY, audience=AUDIENCE)["sub"] == "u1"
