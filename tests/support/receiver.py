"""A webhook receiver on 127.0.0.1 for tests: records what arrives, answers as scripted."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.support.fake_server import serve_in_thread


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """`statuses` answered in order (the last repeats); `hang_s` delays every answer; `headers` go on each."""

    statuses: list[int] = field(default_factory=lambda: [200])
    hang_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"  # another address of this machine's: the rehearsal's client host
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self
        self._lock = threading.Lock()
        self._release = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver._lock:
                    receiver.received.append(Received(self.path, dict(self.headers), body, time.monotonic()))
                    index = len(receiver.received) - 1
                if receiver.hang_s:
                    receiver._release.wait(receiver.hang_s)
                status = receiver.statuses[min(index, len(receiver.statuses) - 1)]
                try:
                    self.send_response(status)
                    self.send_header("content-length", "2")
                    for name, value in receiver.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the sender gave up on us

            def log_message(self, *args: object) -> None:
                pass

        self._server = serve_in_thread(Handler, self.host)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._server.server_address[1]}/hook"

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
