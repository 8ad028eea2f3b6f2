"""Helpers for the account mail tests: an io worker configured for a test's SMTP server, and the
rows and log lines that say how a message went."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.stack import Stack

MAIL_WORKER = "worker-mail"
# Four attempts about a second apart: a down server fails a message in a few seconds.
RETRY_SCHEDULE = "[1, 1.5, 1.5]"
ATTEMPTS = 4


@contextmanager
def mail_worker(stack: Stack, **env: str) -> Iterator[None]:
    """An io worker whose settings (MENTORQ_SMTP_*, ...) are `env`; stopped on the way out."""
    stack.start_worker(
        MAIL_WORKER,
        queues="io",
        concurrency=4,
        pool="threads",
        extra_env={"MENTORQ_MAIL_RETRY_SCHEDULE": RETRY_SCHEDULE, **env},
    )
    try:
        yield
    finally:
        stack.stop(MAIL_WORKER)


def smtp_env(port: int, *, host: str = "127.0.0.1", tls: str = "none", **more: str) -> dict[str, str]:
    return {
        "MENTORQ_SMTP_HOST": host,
        "MENTORQ_SMTP_PORT": str(port),
        "MENTORQ_SMTP_TLS": tls,
        "MENTORQ_SMTP_TIMEOUT_SECONDS": "3",
        "MENTORQ_MAIL_FROM": "mentorq <no-reply@learn.example.com>",
        **more,
    }


def mail_rows(stack: Stack, user_id: str) -> list[tuple]:
    """(kind, status, attempts, error_code) of the user's messages, oldest first."""
    return stack.sql(
        "SELECT kind, status, attempts, error_code FROM account_mails WHERE user_id = %s ORDER BY created_at",
        user_id,
    )


def wait_for_status(stack: Stack, user_id: str, status: str, *, timeout: float = 30.0) -> tuple:
    """The user's last message once it reaches `status`."""
    deadline = time.monotonic() + timeout
    while True:
        rows = mail_rows(stack, user_id)
        if rows and rows[-1][1] == status:
            return rows[-1]
        if time.monotonic() > deadline:
            raise TimeoutError(f"message not {status} within {timeout} s: {rows}")
        time.sleep(0.1)


def worker_log(stack: Stack) -> str:
    return (stack.root / f"{MAIL_WORKER}.log").read_text(errors="replace")
