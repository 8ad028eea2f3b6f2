"""Our signatures, checked by the reference Standard Webhooks library rather than by our own code."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from core.webhook_signing import new_message_id, new_secret, sign, signature_header, webhook_headers

BODY = json.dumps(
    {"type": "job.succeeded", "timestamp": "2026-01-01T00:00:00Z", "data": {"id": "j1"}}
).encode()


def test_a_new_secret_is_whsec_and_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert new_secret() != secret


def test_signature_matches_the_reference_library_byte_for_byte() -> None:
    secret, timestamp = new_secret(), 1614265330
    expected = Webhook(secret).sign(
        "msg_p5jXN8AQM9LWM0D4loKWxJek", datetime.fromtimestamp(timestamp, UTC), BODY.decode()
    )
    assert sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp, BODY) == expected


def test_headers_verify_with_the_reference_library() -> None:
    secret, msg_id = new_secret(), new_message_id()
    headers = webhook_headers([secret], msg_id, int(time.time()), BODY)
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)
    assert headers["webhook-id"] == msg_id
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "mentorq-webhooks/1"
    assert headers["webhook-signature"].startswith("v1,") and " " not in headers["webhook-signature"]


def test_during_rotation_both_secrets_sign_and_each_verifies() -> None:
    new, previous = new_secret(), new_secret()
    headers = webhook_headers([new, previous], "msg_rotation", int(time.time()), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new, previous):
        Webhook(secret).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)


def test_a_tampered_body_id_or_timestamp_fails_verification() -> None:
    secret, now = new_secret(), int(time.time())
    headers = webhook_headers([secret], "msg_1", now, BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"j1", b"j2"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, {**headers, "webhook-id": "msg_2"})
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, {**headers, "webhook-timestamp": str(now - 1)})


def test_signature_header_deduplicates_and_needs_a_secret() -> None:
    secret = new_secret()
    assert signature_header([secret, secret], "msg_1", 1, b"{}") == sign(secret, "msg_1", 1, b"{}")
    with pytest.raises(ValueError):
        signature_header([], "msg_1", 1, b"{}")


@pytest.mark.parametrize("secret", ["whsec_", "whsec_not base64!", ""])
def test_a_malformed_secret_is_refused(secret: str) -> None:
    with pytest.raises(ValueError):
        sign(secret, "msg_1", 1, b"{}")
