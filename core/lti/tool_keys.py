"""The tool's RSA keys: the first signs (client assertions, deep-linking responses), every one is
published at the JWKS URL. Rotating: publish the new key beside the old one
(MENTORQ_LTI_PRIVATE_KEY new, MENTORQ_LTI_RETIRING_PRIVATE_KEY the old), wait longer than the
platforms cache keys (a day is safe), then drop the old one.

A key's id is its RFC 7638 thumbprint: the same key always has the same `kid`, on every host."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from core.lti.errors import LtiError

ALGORITHM = "RS256"
MIN_KEY_BITS = 2048


@dataclass(frozen=True)
class ToolKey:
    private_key: rsa.RSAPrivateKey
    kid: str

    def public_jwk(self) -> dict[str, Any]:
        jwk = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        jwk.pop("key_ops", None)  # RFC 7517 4.3: not beside `use`, which platforms read
        return {**jwk, "kid": self.kid, "alg": ALGORITHM, "use": "sig"}


def thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638: SHA-256 over the required members (e, kty, n) in lexical order, no whitespace."""
    jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    canonical = json.dumps({name: jwk[name] for name in ("e", "kty", "n")}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def load_key(pem: str) -> ToolKey:
    """A PEM private key (PKCS#1 or PKCS#8, unencrypted); refused unless RSA of 2048 bits or more."""
    try:
        key = serialization.load_pem_private_key(pem.strip().encode(), password=None)
    except (ValueError, TypeError) as error:
        raise LtiError("lti_key_invalid", f"the LTI private key is not a PEM private key: {error}") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < MIN_KEY_BITS:
        raise LtiError("lti_key_invalid", f"the LTI private key must be RSA of {MIN_KEY_BITS} bits or more")
    return ToolKey(key, thumbprint(key.public_key()))


def generate_pem() -> str:
    """A new 2048-bit key, PKCS#8 PEM: what `mentorq lti-key` prints for MENTORQ_LTI_PRIVATE_KEY."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=MIN_KEY_BITS)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def jwks(keys: list[ToolKey]) -> dict[str, Any]:
    return {"keys": [key.public_jwk() for key in keys]}


def sign(claims: dict[str, Any], key: ToolKey) -> str:
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


_loaded: dict[tuple[str, ...], list[ToolKey]] = {}


def configured_keys(private_key: str | None, retiring_private_key: str | None) -> list[ToolKey]:
    """The signing key then the retiring one (if any), parsed once per process; [] when LTI is off."""
    pems = tuple(pem for pem in (private_key, retiring_private_key) if pem and pem.strip())
    if not private_key or not private_key.strip():
        return []
    if pems not in _loaded:
        _loaded[pems] = [load_key(pem) for pem in pems]
    return _loaded[pems]
