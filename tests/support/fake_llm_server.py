"""What the fake hosted LLM APIs (fake_openai.py, fake_anthropic.py) share beyond the
server every fake LLM has (fake_server.py: start, stop, restart, scripted replies): an API
key it insists on, a hang marker, a forced error status, a stream that breaks off, and counters.
Each fake adds its own wire protocol (routes, bodies, SSE).
"""

from __future__ import annotations

import collections
import contextlib
import json
import socket
import time
from typing import Any

from tests.support.fake_ollama import DEFAULT_REPLY, instance_for, split_tokens
from tests.support.fake_server import FakeServer, TrackedHandler

DEFAULT_KEY = "test-key-0123456789"
# The words a provider puts before the schema when it asks for JSON in the prompt (Anthropic's
# provider and structured.py's corrective retry both do): the fake answers like a model that obeys.
SCHEMA_CUE = "satisfies this JSON schema:\n"


class FakeLLMServer(FakeServer):
    """The server, its knobs and its counters; thread-safe."""

    handler: type[FakeHandler]

    def __init__(
        self,
        *,
        api_key: str | None = DEFAULT_KEY,
        models: tuple[str, ...] | list[str] = (),
        reply: str = DEFAULT_REPLY,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(self.handler, host=host, port=port)
        self.api_key = api_key  # None: no key is asked for (a vLLM without --api-key)
        self.models = list(models)
        self.reply = reply
        self.token_delay_s = 0.0
        # Words a prompt may have before the model refuses it as over its context (None: no limit).
        self.context_words: int | None = None
        # (status, error type, message) every generation answers with instead (an outage, a 429);
        # "{url}" in the message is the URL requested, query included (servers that quote it).
        self.fail_with: tuple[int, str, str] | None = None
        self.hang_markers: set[str] = set()
        self.hang_s = 60.0
        # A streamed answer breaks off after this many tokens: the connection drops mid-answer.
        self.drop_after_tokens: int | None = None
        self.hung = 0
        self.requests: collections.Counter[str] = collections.Counter()
        self.bodies: collections.deque[tuple[str, dict, dict]] = collections.deque(maxlen=200)

    def reset(self) -> None:
        """Back to answering every request plainly (between tests)."""
        with self._lock:
            self.scripts.clear()
            self.hang_markers.clear()
            self.hang_s = 60.0
            self.hung = 0
            self.fail_with = None
            self.drop_after_tokens = None
            self.context_words = None
            self.token_delay_s = 0.0
            self.requests.clear()
            self.bodies.clear()

    # -- behaviour ------------------------------------------------------------------------------
    def record(self, path: str, body: dict, headers: Any) -> None:
        """Count a request and keep its body and headers (names lower-cased) for assertions."""
        with self._lock:
            self.requests[path] += 1
            self.bodies.append((path, body, {name.lower(): value for name, value in headers.items()}))

    def generations(self) -> int:
        """How many generation requests arrived (answered or not)."""
        raise NotImplementedError

    def answer_text(self, schema: dict | None, prompt: str) -> str:
        """The reply: a script's, else JSON valid for the schema asked for, else the plain reply."""
        scripted = self.scripted(prompt)
        if scripted is not None:
            return scripted
        if schema is None and SCHEMA_CUE in prompt:
            with contextlib.suppress(json.JSONDecodeError):
                schema, _ = json.JSONDecoder().raw_decode(prompt.rsplit(SCHEMA_CUE, 1)[1].lstrip())
        if schema is not None:
            return json.dumps(instance_for(schema))
        return self.reply

    def hang(self) -> None:
        """Send nothing for `hang_s` seconds (or until stopped), like a wedged GPU server."""
        with self._lock:
            self.hung += 1
        self._stopping.wait(self.hang_s)

    def tokens(self, text: str, limit: Any) -> tuple[list[str], bool]:
        """Word-sized deltas of `text`, cut at `limit` tokens; and whether they were cut."""
        tokens = split_tokens(text)
        if isinstance(limit, int) and 0 <= limit < len(tokens):
            return tokens[:limit], True
        return tokens, False

    def over_context(self, prompt: str) -> bool:
        return self.context_words is not None and len(prompt.split()) > self.context_words


class FakeHandler(TrackedHandler):
    """The fakes' handlers' plumbing: JSON bodies, chunked SSE, hangs and broken-off streams."""

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def read_json(self) -> dict | None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            return None
        return body if isinstance(body, dict) else None

    def start_sse(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def send_sse(self, data: str, event: str | None = None, *, delay: bool = False) -> bool:
        """One server-sent event; False when the client went away (a cancel)."""
        if delay and self.fake.token_delay_s:
            time.sleep(self.fake.token_delay_s)
        text = (f"event: {event}\n" if event else "") + f"data: {data}\n\n"
        raw = text.encode()
        try:
            self.wfile.write(f"{len(raw):X}\r\n".encode() + raw + b"\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return False
        return True

    def drop_now(self, sent_tokens: int) -> bool:
        """True (and the connection cut) when the fake is told to break off a stream here."""
        if self.fake.drop_after_tokens is None or sent_tokens < self.fake.drop_after_tokens:
            return False
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True
        return True

    def end_sse(self) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    def requested_url(self) -> str:
        """The URL the client asked for, query included (what some servers quote in their errors)."""
        return f"http://{self.headers.get('Host', '')}{self.path}"

    def hang_if_asked(self, prompt: str) -> bool:
        if any(marker in prompt for marker in self.fake.hang_markers):
            self.fake.hang()
            self.close_connection = True
            return True
        return False
