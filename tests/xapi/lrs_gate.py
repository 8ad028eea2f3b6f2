"""A gate between mentorq and the Ralph LRS: it forwards every request, and a test can make it
answer 503 (the LRS down behind its load balancer) or hold a POST's answer after Ralph stored it
(to kill the worker between the LRS's write and its reply). It records what each POST carried."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


class LrsGate:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.mode = "pass"  # "pass", "unavailable", "hold"
        self.posts: list[list[str]] = []  # the statement ids of each POST that reached Ralph
        self.versions: list[str] = []  # X-Experience-API-Version of each POST
        self.held = threading.Event()  # set once a POST is stored and its answer held
        self.release = threading.Event()
        self._lock = threading.Lock()
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._relay("GET")

            def do_POST(self) -> None:
                self._relay("POST")

            def _relay(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if gate.mode == "unavailable":
                    self._answer(503, b'{"detail": "down for maintenance"}')
                    return
                headers = {
                    key: value
                    for key, value in self.headers.items()
                    if key.lower() in ("authorization", "content-type", "x-experience-api-version")
                }
                answer = httpx.request(
                    method, gate.upstream + self.path, content=body, headers=headers, timeout=30
                )
                if method == "POST" and self.path.endswith("/statements"):
                    with gate._lock:
                        gate.posts.append([statement.get("id") for statement in json.loads(body)])
                        gate.versions.append(self.headers.get("X-Experience-API-Version", ""))
                    if gate.mode == "hold":
                        gate.held.set()
                        gate.release.wait(60)
                        self.close_connection = True
                        return  # no answer: the worker dies waiting
                self._answer(answer.status_code, answer.content)

            def _answer(self, status: int, content: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def reset(self) -> None:
        self.mode = "pass"
        self.release.set()
        self.held = threading.Event()
        self.release = threading.Event()

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
