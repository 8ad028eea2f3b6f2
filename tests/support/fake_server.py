"""What every fake LLM server (fake_ollama.py, and through fake_llm_server.py the fake
OpenAI and Anthropic APIs) shares: a real ThreadingHTTPServer on a loopback port, served from a
thread, that can go away like a real server and come back on the same port; scripted replies; and
the credentials an auth proxy in front of it would require (`basic_auth`, `query_credentials`; each
fake refuses a request without them with a 401 in its own API's shape).

`Fake(...).start()` / `.stop()` / `.restart()`, or a `with` block.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit


class FakeServer:
    """The server's lifecycle and the scripted replies; thread-safe."""

    request_queue_size = 5  # socketserver's listen backlog

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, host: str, port: int) -> None:
        # Scripted answers: (marker, replies). A request whose prompt contains the marker gets the
        # replies in order, the last one again once the others are used.
        self.scripts: list[tuple[str, list[str]]] = []
        self._handler = handler
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server = self._bind(host, port)
        self._thread: threading.Thread | None = None
        # Credentials every request must carry, like an auth proxy in front of the server (None:
        # none asked): HTTP basic auth, and query parameters (?token=…, ?api-key=…). A request
        # whose query landed inside its path (`/v1?api-key=K/models`) lacks them, and is refused.
        self.basic_auth: tuple[str, str] | None = None
        self.query_credentials: dict[str, str] = {}
        self.targets: collections.deque[str] = collections.deque(maxlen=500)  # requests' path and query

    def _bind(self, host: str, port: int) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer((host, port), self._handler, bind_and_activate=False)
        server.daemon_threads = True
        server.request_queue_size = self.request_queue_size
        server.allow_reuse_address = True
        server.server_bind()
        server.server_activate()
        server.fake = self  # type: ignore[attr-defined]
        return server

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        """Serve on a background daemon thread."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake requests waiting on `_stopping`, drop every open connection (like a
        server that went away) and free the port."""
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            open_connections = list(self._connections)
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def restart(self) -> Self:
        """Serve again on the same address after `stop` (a server back from an outage); the knobs
        and counters carry on."""
        host, port = self._server.server_address[:2]
        self._server = self._bind(host, port)
        return self.start()

    def serve_forever(self) -> None:
        """Serve on the calling thread (a fake run as a process)."""
        self._server.serve_forever()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def script(self, marker: str, *replies: str) -> None:
        """Answer requests whose prompt contains `marker` with `replies` in order, the last again."""
        with self._lock:
            self.scripts.append((marker, list(replies)))

    def scripted(self, prompt: str) -> str | None:
        with self._lock:
            for marker, replies in self.scripts:
                if marker in prompt:
                    return replies.pop(0) if len(replies) > 1 else replies[0]
        return None


class TrackedHandler(BaseHTTPRequestHandler):
    """A quiet keep-alive handler whose open connections the fake can drop at `stop`."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the clients' httpx pools expect
    # Like the real servers: no Nagle delay on a stream's small chunks (with it, every streamed
    # answer waits ~40 ms for a delayed ACK, a cost the real servers don't have).
    disable_nagle_algorithm = True

    @property
    def fake(self) -> Any:
        return self.server.fake  # type: ignore[attr-defined]

    def missing_credentials(self) -> str | None:
        """What the request lacks of the credentials the fake asks for (None: it has them all).
        Notes the request's target (path and query) for the tests on the way."""
        fake = self.fake
        with fake._lock:
            fake.targets.append(self.path)
        if fake.basic_auth is not None:
            expected = "Basic " + base64.b64encode(":".join(fake.basic_auth).encode()).decode()
            if self.headers.get("Authorization") != expected:
                return "basic auth"
        query = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
        for name, value in fake.query_credentials.items():
            if query.get(name) != value:
                return f"query parameter {name}"
        return None

    def setup(self) -> None:
        super().setup()
        with self.fake._lock:
            self.fake._connections.add(self.connection)

    def finish(self) -> None:
        with self.fake._lock:
            self.fake._connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet under load
        pass


def serve_in_thread(handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """A ThreadingHTTPServer on a free port of `host`, serving from a daemon thread (for the tests'
    simple servers: a site, a webhook receiver). `shutdown()` and `server_close()` stop it."""
    server = ThreadingHTTPServer((host, 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
