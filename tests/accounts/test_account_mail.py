"""Verification and password reset end to end: the API records a message, the io worker sends it
over SMTP to a real server on loopback, and the test completes the flow with the token it reads
out of the received message, through the real API."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.accounts.support import ATTEMPTS, mail_rows, mail_worker, smtp_env, wait_for_status, worker_log
from tests.conftest import announced, register
from tests.support.mail_server import MailServer, token_of
from tests.support.stack import Stack

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def smtp(io_lane: Stack) -> Iterator[MailServer]:
    """A plain SMTP server, and the io worker sending to it."""
    server = MailServer().start()
    try:
        with mail_worker(io_lane, **smtp_env(server.port)):
            yield server
    finally:
        server.stop()


@pytest.fixture
def anonymous(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=30) as http:
        yield http


def fresh_email() -> str:
    return f"learner-{uuid.uuid4().hex[:12]}@example.com"


def test_verification_link_verifies_once(stack: Stack, smtp: MailServer, anonymous: httpx.Client) -> None:
    with register(stack.api_url) as client:
        asked = anonymous.post("/auth/request-verify-token", json={"email": client.email})
        assert asked.status_code == 202 and asked.json() == {"status": "accepted"}
        [message] = smtp.wait_for(client.email)
        assert message["Subject"] == "Confirm your e-mail address"
        assert message["From"] == "mentorq <no-reply@learn.example.com>"
        token = token_of(message)
        # The row says a message was owed and went; it never held the token.
        assert wait_for_status(stack, client.user_id, "sent")[:3] == ("verify", "sent", 1)
        rows = stack.sql(
            "SELECT row_to_json(m)::text FROM account_mails m WHERE user_id = %s", client.user_id
        )
        assert token not in rows[0][0]

        verified = anonymous.post("/auth/verify", json={"token": token})
        assert verified.status_code == 200 and verified.json()["is_verified"] is True
        again = anonymous.post("/auth/verify", json={"token": token})
        assert again.status_code == 400 and again.json()["code"] == "verify_user_already_verified"
        forged = anonymous.post("/auth/verify", json={"token": token[:-4] + "AAAA"})
        assert forged.status_code == 400 and forged.json()["code"] == "verify_user_bad_token"

        # A verified account is sent nothing more, and the answer says nothing of it.
        assert anonymous.post("/auth/request-verify-token", json={"email": client.email}).status_code == 202
        time.sleep(1)
        assert len(smtp.to(client.email)) == 1 and len(mail_rows(stack, client.user_id)) == 1


def test_a_reset_works_once_and_signs_the_account_out_everywhere(
    stack: Stack, smtp: MailServer, anonymous: httpx.Client
) -> None:
    with register(stack.api_url) as client:
        cookie = httpx.Client(base_url=stack.api_url, timeout=30)
        assert cookie.post(
            "/auth/cookie/login", data={"username": client.email, "password": PASSWORD}
        ).status_code in (200, 204)
        assert cookie.get("/users/me").status_code == 200 and client.get("/users/me").status_code == 200

        assert (
            anonymous.post("/auth/forgot-password", json={"email": client.email.upper()}).status_code == 202
        )
        [message] = smtp.wait_for(client.email)
        assert message["Subject"] == "Reset your password"
        token = token_of(message)

        reset = anonymous.post(
            "/auth/reset-password", json={"token": token, "password": "a-brand-new-passphrase"}
        )
        assert reset.status_code == 200, reset.text
        # Every token and session issued before the reset is refused from now on.
        assert announced(lambda: client.get("/users/me").status_code == 401)
        assert announced(lambda: cookie.get("/users/me").status_code == 401)
        cookie.close()

        used = anonymous.post(
            "/auth/reset-password", json={"token": token, "password": "yet-another-passphrase"}
        )
        assert used.status_code == 400 and used.json()["code"] == "reset_password_bad_token"
        old = anonymous.post("/auth/jwt/login", data={"username": client.email, "password": PASSWORD})
        assert old.status_code == 400
        new = anonymous.post(
            "/auth/jwt/login", data={"username": client.email, "password": "a-brand-new-passphrase"}
        )
        assert new.status_code == 200
        fresh = {"Authorization": f"Bearer {new.json()['access_token']}"}
        assert anonymous.get("/users/me", headers=fresh).status_code == 200  # issued after the reset


def test_the_answers_say_nothing_of_the_account(
    stack: Stack, smtp: MailServer, anonymous: httpx.Client
) -> None:
    with register(stack.api_url) as active, register(stack.api_url) as inactive:
        stack.sql("UPDATE users SET is_active = false WHERE id = %s", inactive.user_id)
        unknown = fresh_email()
        for path in ("/auth/forgot-password", "/auth/request-verify-token"):
            answers = [
                anonymous.post(path, json={"email": email})
                for email in (active.email, unknown, inactive.email)
            ]
            assert {(a.status_code, a.content, a.headers["content-type"]) for a in answers} == {
                (202, b'{"status":"accepted"}', "application/json")
            }, path
        smtp.wait_for(active.email, count=2)
        time.sleep(1)
        assert smtp.to(unknown) == [] and smtp.to(inactive.email) == []
        assert mail_rows(stack, inactive.user_id) == []


def test_requests_are_limited_per_address_and_per_client(stack: Stack, smtp: MailServer) -> None:
    email = fresh_email()  # no account: limits count whether or not one exists
    with httpx.Client(base_url=stack.api_url, timeout=30) as http:
        answers = [http.post("/auth/forgot-password", json={"email": email}).status_code for _ in range(5)]
        assert answers == [202] * 5  # MENTORQ_ACCOUNT_MAIL_PER_ADDRESS: 5 an hour
        refused = http.post("/auth/request-verify-token", json={"email": email.upper()})
        assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) > 0

    with stack.extra_api(MENTORQ_ACCOUNT_MAIL_PER_CLIENT="3/hour") as url, httpx.Client(base_url=url) as http:
        answers = [
            http.post("/auth/forgot-password", json={"email": fresh_email()}).status_code for _ in range(3)
        ]
        assert answers == [202] * 3
        refused = http.post("/auth/forgot-password", json={"email": fresh_email()})
        assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) > 0


def test_a_server_that_stays_down_fails_the_message_and_says_so(
    stack: Stack, smtp: MailServer, anonymous: httpx.Client
) -> None:
    with register(stack.api_url) as client:
        smtp.stop()  # the port is closed now
        try:
            assert anonymous.post("/auth/forgot-password", json={"email": client.email}).status_code == 202
            kind, _, attempts, code = wait_for_status(stack, client.user_id, "failed")
        finally:
            smtp.start()
        assert (kind, attempts, code) == ("reset", ATTEMPTS, "smtp_unreachable")
        [mail_id] = stack.sql("SELECT id::text FROM account_mails WHERE user_id = %s", client.user_id)[0]
        lines = [line for line in worker_log(stack).splitlines() if mail_id in line]
        failed = [line for line in lines if "account_mail_failed" in line]
        assert len(failed) == 1 and "smtp_unreachable" in failed[0] and "ERROR" in failed[0]
        assert "eyJ" not in worker_log(stack)  # no token (a JWT) in any line
        time.sleep(1.5)
        assert smtp.to(client.email) == []


def test_a_server_back_within_the_retries_gets_the_message_once(
    stack: Stack, smtp: MailServer, anonymous: httpx.Client
) -> None:
    with register(stack.api_url) as client:
        smtp.stop()
        try:
            assert (
                anonymous.post("/auth/request-verify-token", json={"email": client.email}).status_code == 202
            )
            deadline = time.monotonic() + 15
            while not (rows := mail_rows(stack, client.user_id)) or rows[0][2] < 2:
                assert time.monotonic() < deadline, rows
                time.sleep(0.05)
        finally:
            smtp.start()
        [message] = smtp.wait_for(client.email)
        kind, status, attempts, code = wait_for_status(stack, client.user_id, "sent")
        assert 2 <= attempts <= ATTEMPTS and code is None
        time.sleep(3)  # nothing left to retry: exactly one copy
        assert len(smtp.to(client.email)) == 1
        assert anonymous.post("/auth/verify", json={"token": token_of(message)}).status_code == 200
