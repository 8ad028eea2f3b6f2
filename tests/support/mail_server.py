"""A real SMTP server on loopback (aiosmtpd) that keeps every message it receives: plain, or with
STARTTLS required and AUTH (LOGIN, PLAIN) checked against one account. It can be stopped and started
again on the same port, for a server that goes away and comes back."""

from __future__ import annotations

import re
import ssl
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.stack import free_port

TOKEN = re.compile(r"#token=([A-Za-z0-9_.-]+)")


class MailServer:
    def __init__(
        self,
        *,
        tls_context: ssl.SSLContext | None = None,
        account: tuple[str, str] | None = None,
        hostname: str = "127.0.0.1",
    ):
        self.port = free_port()
        self.hostname = hostname
        self.tls_context = tls_context
        self.account = account
        self.messages: list[EmailMessage] = []
        self.logins: list[str] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> MailServer:
        kwargs: dict = {}
        if self.tls_context is not None:
            kwargs |= {"tls_context": self.tls_context, "require_starttls": True}
        if self.account is not None:
            kwargs |= {"authenticator": self._authenticate, "auth_required": True, "auth_require_tls": True}
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and self.account == (
            auth_data.login.decode(),
            auth_data.password.decode(),
        )
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)  # aiosmtpd answers 535 itself on a failure

    def to(self, address: str) -> list[EmailMessage]:
        """The messages received for `address`."""
        with self._lock:
            return [m for m in self.messages if m["To"] == address]

    def wait_for(self, address: str, *, count: int = 1, timeout: float = 20.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(found := self.to(address)) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no message for {address} within {timeout} s")
            time.sleep(0.05)
        return found


def token_of(message: EmailMessage) -> str:
    """The token in a received account message's link."""
    body = message.get_body(("plain",))
    assert body is not None
    found = TOKEN.search(body.get_content())
    assert found, "no link with a token in the message"
    return found.group(1)
