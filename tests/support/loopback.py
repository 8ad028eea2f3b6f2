"""A raw-socket HTTP/1.1 server on 127.0.0.1 that answers by a script, for tests that need a
peer able to misbehave on purpose (hang, drip, flood): URL fetching and webhook delivery."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from typing import Any

Behaviour = Callable[[socket.socket, "ScriptedServer"], None]


class ScriptedServer:
    """Records each request (line, headers, body) and hands the connection to `behaviour`."""

    def __init__(self, behaviour: Behaviour, *, tls: ssl.SSLContext | None = None):
        self.behaviour = behaviour
        self.tls = tls
        self.requests: list[dict[str, Any]] = []
        self.server_names: list[str | None] = []
        self.bytes_sent = 0
        self.stopping = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def url_for(self, path: str) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.stopping.set()
        self._thread.join(5)
        self._listener.close()

    def send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        self.bytes_sent += len(data)

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in header_lines)}
            while len(body) < int(headers.get("content-length", 0)):
                body += conn.recv(65536)
            self.requests.append({"line": request_line, "headers": headers, "body": body})
            self.behaviour(conn, self)
        except (OSError, ssl.SSLError):
            pass  # the client hung up: that is what several tests are about
        finally:
            conn.close()


def serving(server_class: type[ScriptedServer]) -> Iterator[Callable[..., Any]]:
    """Body of a fixture that starts servers on demand and stops every one afterwards."""
    started: list[ScriptedServer] = []

    def start(behaviour: Behaviour, **kwargs: Any) -> Any:
        started.append(server_class(behaviour, **kwargs))
        return started[-1]

    yield start
    for each in started:
        each.stop()


def answer(status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> Behaviour:
    def respond(conn: socket.socket, server: ScriptedServer) -> None:
        lines = [f"HTTP/1.1 {status} Whatever", f"Content-Length: {len(body)}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        server.send(conn, ("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    return respond


def hang(conn: socket.socket, server: ScriptedServer) -> None:
    server.stopping.wait(30)


def drip_head(conn: socket.socket, server: ScriptedServer) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * 1000:
        if server.stopping.wait(0.05):
            return
        server.send(conn, bytes([byte]))
