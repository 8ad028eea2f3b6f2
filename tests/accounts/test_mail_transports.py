"""How account mail leaves, configured: STARTTLS with AUTH against a real server, a wrong password,
an untrusted certificate, token lifetimes, and no SMTP server at all (dev prints, production fails
and says so). Each test runs the io worker with its own settings."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.accounts.support import ATTEMPTS, mail_worker, smtp_env, wait_for_status, worker_log
from tests.conftest import make_admin, register
from tests.support.mail_server import MailServer, token_of
from tests.support.stack import AS_PRODUCTION, Stack
from tests.support.tls import self_signed_pair

ACCOUNT = ("mentorq-mailer", "smtp-password-4b7e1f0c")


@pytest.fixture(scope="module")
def tls_server(io_lane: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MailServer, Path]]:
    """A server for `localhost` that requires STARTTLS and AUTH, and the CA file that trusts it."""
    folder = tmp_path_factory.mktemp("smtp-tls")
    server_context, _ = self_signed_pair(folder, "localhost")
    server = MailServer(tls_context=server_context, account=ACCOUNT).start()
    yield server, folder / "cert.pem"
    server.stop()


def tls_env(server: MailServer, **more: str) -> dict[str, str]:
    return smtp_env(server.port, host="localhost", tls="starttls", MENTORQ_SMTP_USERNAME=ACCOUNT[0], **more)


def ask(stack: Stack, path: str, email: str) -> None:
    assert httpx.post(f"{stack.api_url}{path}", json={"email": email}, timeout=30).status_code == 202


def test_starttls_with_auth_delivers(stack: Stack, tls_server: tuple[MailServer, Path]) -> None:
    server, ca_file = tls_server
    env = tls_env(server, MENTORQ_SMTP_PASSWORD=ACCOUNT[1], MENTORQ_SMTP_CA_FILE=str(ca_file))
    with mail_worker(stack, **env), register(stack.api_url) as client:
        ask(stack, "/auth/request-verify-token", client.email)
        [message] = server.wait_for(client.email)
        assert server.logins and server.logins[-1] == ACCOUNT[0]
        assert wait_for_status(stack, client.user_id, "sent")[2] == 1
        verified = httpx.post(f"{stack.api_url}/auth/verify", json={"token": token_of(message)})
        assert verified.status_code == 200
    assert ACCOUNT[1] not in worker_log(stack)


def test_a_wrong_password_is_retried_then_failed(stack: Stack, tls_server: tuple[MailServer, Path]) -> None:
    server, ca_file = tls_server
    env = tls_env(server, MENTORQ_SMTP_PASSWORD="not-the-password-123", MENTORQ_SMTP_CA_FILE=str(ca_file))
    with mail_worker(stack, **env), register(stack.api_url) as client:
        ask(stack, "/auth/forgot-password", client.email)
        _, _, attempts, code = wait_for_status(stack, client.user_id, "failed")
        assert (attempts, code) == (ATTEMPTS, "smtp_auth_failed")
        assert server.to(client.email) == []
    log = worker_log(stack)
    assert "account_mail_failed" in log and "not-the-password-123" not in log


def test_an_untrusted_certificate_is_refused(stack: Stack, tls_server: tuple[MailServer, Path]) -> None:
    server, _ = tls_server
    # No CA file: the system's CAs, which never signed the server's self-signed certificate.
    with (
        mail_worker(stack, **tls_env(server, MENTORQ_SMTP_PASSWORD=ACCOUNT[1])),
        register(stack.api_url) as client,
    ):
        ask(stack, "/auth/forgot-password", client.email)
        _, _, attempts, code = wait_for_status(stack, client.user_id, "failed")
        assert (attempts, code) == (ATTEMPTS, "smtp_certificate_untrusted")
        assert server.to(client.email) == [] and server.logins.count(ACCOUNT[0]) <= 1


def test_expired_tokens_are_refused(stack: Stack, io_lane: Stack) -> None:
    server = MailServer().start()
    lifetimes = {"MENTORQ_VERIFY_TOKEN_MINUTES": "0.05", "MENTORQ_RESET_TOKEN_MINUTES": "0.05"}  # 3 s
    try:
        with mail_worker(stack, **smtp_env(server.port, **lifetimes)), register(stack.api_url) as client:
            ask(stack, "/auth/request-verify-token", client.email)
            ask(stack, "/auth/forgot-password", client.email)
            messages = server.wait_for(client.email, count=2)
            tokens = {m["Subject"]: token_of(m) for m in messages}
            time.sleep(4.5)
            verify = httpx.post(
                f"{stack.api_url}/auth/verify", json={"token": tokens["Confirm your e-mail address"]}
            )
            assert verify.status_code == 400 and verify.json()["code"] == "verify_user_bad_token"
            reset = httpx.post(
                f"{stack.api_url}/auth/reset-password",
                json={"token": tokens["Reset your password"], "password": "a-brand-new-passphrase"},
            )
            assert reset.status_code == 400 and reset.json()["code"] == "reset_password_bad_token"
    finally:
        server.stop()


def test_without_a_server_dev_prints_the_message_and_production_fails_it(
    stack: Stack, io_lane: Stack
) -> None:
    # MENTORQ_ENV=test, like `mentorq dev`: printed to the worker's log, link and all.
    with mail_worker(stack), register(stack.api_url) as client:
        ask(stack, "/auth/request-verify-token", client.email)
        wait_for_status(stack, client.user_id, "sent")
        log = worker_log(stack)
        assert "MENTORQ_SMTP_HOST is not set: the message is printed" in log and f"To: {client.email}" in log
    assert httpx.get(f"{stack.api_url}/readyz").json()["checks"]["mail"] == "ok"
    with register(stack.api_url) as someone:
        mail = make_admin(stack, someone).get("/v1/admin/health").json()["checks"]["mail"]
        assert mail == {"ok": True, "transport": "log"}

    # Production: no retry can help; failed at once, with an ERROR line that names the cause.
    with mail_worker(stack, **AS_PRODUCTION), register(stack.api_url) as client:
        ask(stack, "/auth/forgot-password", client.email)
        _, _, attempts, code = wait_for_status(stack, client.user_id, "failed")
        assert (attempts, code) == (1, "smtp_not_configured")
        assert any(
            "account_mail_failed" in line and "smtp_not_configured" in line and "ERROR" in line
            for line in worker_log(stack).splitlines()
        )
    with stack.extra_api(**AS_PRODUCTION) as url, register(stack.api_url) as someone:
        assert httpx.get(f"{url}/readyz").json()["checks"]["mail"] == "failing"
        admin = make_admin(stack, someone)
        mail = httpx.get(f"{url}/v1/admin/health", headers=admin.headers).json()["checks"]["mail"]
        assert mail == {"ok": False, "transport": "none", "error": "smtp_not_configured"}
