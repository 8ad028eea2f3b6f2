"""Standard Webhooks 1.0 signatures: `whsec_` secrets, `v1,` HMAC-SHA256 signatures, the three headers."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from secrets import token_bytes, token_urlsafe

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
USER_AGENT = "mentorq-webhooks/1"


def new_secret() -> str:
    """A fresh signing secret: `whsec_` followed by the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(token_bytes(SECRET_BYTES)).decode("ascii")


def new_message_id() -> str:
    """A webhook-id for a new message; a retry of the same message reuses it, so receivers can deduplicate."""
    return "msg_" + token_urlsafe(18)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "{msg_id}.{timestamp}." + body>` keyed with the secret's decoded bytes."""
    if not msg_id:
        raise ValueError("a webhook message id may not be empty")
    signed = f"{msg_id}.{int(timestamp)}.".encode() + body
    digest = hmac.new(_secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature value: one signature per secret, space-separated (both during rotation)."""
    if not secrets:
        raise ValueError("at least one webhook secret is needed to sign")
    signatures = [sign(secret, msg_id, timestamp, body) for secret in dict.fromkeys(secrets)]
    return " ".join(signatures)


def webhook_headers(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """All request headers of one delivery attempt, signature included."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": signature_header(secrets, msg_id, timestamp, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def _secret_key(secret: str) -> bytes:
    """The HMAC key: the base64-decoded part after `whsec_` (optional, as in the reference library)."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret must be whsec_ followed by base64") from None
    if not key:
        raise ValueError("a webhook secret may not be empty")
    return key
