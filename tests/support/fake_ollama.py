"""A fake Ollama server speaking Ollama's HTTP API on a loopback port.

Ollama cannot run here, so the Ollama paths are tested against this: the real `ollama`
client talks to it over real HTTP (NDJSON streaming with chunked encoding, the error
bodies Ollama sends). In-process: `FakeOllama(...).start()` / `.stop()` or a `with` block.
As a process: `python -m tests.support.fake_ollama --port N` prints "READY <url>" when serving.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.support.fake_server import FakeServer, TrackedHandler

DEFAULT_MODELS = ("llama3.2:1b", "nomic-embed-text:latest")
DEFAULT_REPLY = "The quick brown fox jumps over the lazy dog."
VERSION = "0.12.6"
INVALID_JSON = '{"answer": "this JSON is cut'


def _norm(name: str) -> str:
    # Ollama treats "name" and "name:latest" as one model.
    return name if ":" in name else f"{name}:latest"


def split_tokens(text: str) -> list[str]:
    """Word-sized stream deltas that join back to `text`."""
    return re.findall(r"\s*\S+|\s+$", text) or [text]


def embed_vector(text: str, dim: int) -> list[float]:
    """A deterministic unit vector for `text` (seeded by its hash)."""
    raw: list[float] = []
    counter = 0
    while len(raw) < dim:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        raw.extend((b - 127.5) / 127.5 for b in digest)
        counter += 1
    raw = raw[:dim]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


def instance_for(schema: Any, root: dict | None = None) -> Any:
    """A small JSON value valid for simple schemas (objects, scalars, arrays, enums, local $refs)."""
    if not isinstance(schema, dict):
        return {}
    root = root if root is not None else schema
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return instance_for(target, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return instance_for(schema[key][0], root)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        return {name: instance_for(sub, root) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        count = max(schema.get("minItems", 1), 1)
        if "maxItems" in schema:
            count = min(count, schema["maxItems"])
        return [instance_for(schema.get("items", {}), root) for _ in range(count)]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1)
        return int(math.ceil(low)) if kind == "integer" else float(low)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    text = "example"
    low, high = schema.get("minLength", 0), schema.get("maxLength", len(text))
    return (text * (low // len(text) + 1))[: max(low, min(len(text), high))]


class FakeOllama(FakeServer):
    """The server and its knobs; thread-safe, fit for many concurrent clients."""

    request_queue_size = 512  # a benchmark opens 100+ connections at once

    def __init__(
        self,
        *,
        models: tuple[str, ...] | list[str] = DEFAULT_MODELS,
        reply: str = DEFAULT_REPLY,
        token_delay_s: float = 0.0,
        embed_dim: int = 384,
        invalid_json_times: int = 0,
        slots: int | None = None,
        prefill_delay_s: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        record_to: Path | None = None,
    ) -> None:
        super().__init__(_Handler, host=host, port=port)
        self.models = list(models)
        # Like a GPU server (Ollama with OLLAMA_NUM_PARALLEL=slots): at most `slots` generations at
        # once, each paying `prefill_delay_s` then `token_delay_s` per token, streamed or not;
        # requests past the slots wait their turn. None: every request at once (the old fake).
        self.slots = slots
        self.prefill_delay_s = prefill_delay_s
        self._slot_gate = threading.BoundedSemaphore(slots) if slots else None
        self.running = 0
        self.peak_running = 0
        self.generated_tokens = 0
        self.busy_s = 0.0  # summed over slots: how long generations held one
        self.waits_s: collections.deque[float] = collections.deque(maxlen=10_000)
        self.reply = reply
        self.token_delay_s = token_delay_s
        self.embed_dim = embed_dim
        self.invalid_json_times = invalid_json_times
        # Words a prompt may have before the model refuses it as over its context (None: no limit).
        self.context_words: int | None = None
        # A request whose prompt contains one of these hangs: no byte for `hang_s` seconds (a stuck
        # GPU, a wedged server), then the connection closes with no answer.
        self.hang_markers: set[str] = set()
        self.hang_s = 60.0
        self.hung = 0
        # A prompt containing one of these keys streams at that key's delay per token instead:
        # one long job among short ones (past Redis's visibility timeout, say).
        self.slow_markers: dict[str, float] = {}
        # A request whose prompt contains one of these keys waits for its event (at most `hang_s`),
        # then answers as usual: a test orders its own step before the model's answer (`hold`).
        self.holds: dict[str, threading.Event] = {}
        self.requests: collections.Counter[str] = collections.Counter()
        self.bodies: collections.deque[tuple[str, dict]] = collections.deque(maxlen=200)
        # The prompt of every generation sent to its end: the side effects a test counts (a job
        # generated twice shows here twice). With `record_to`, each is also appended to that file as
        # a JSON line, for a test whose fake runs in another process and may be killed (tests/hosts/).
        self.generations: list[str] = []
        self.record_to = record_to

    def hold(self, marker: str) -> threading.Event:
        """Hold every generation whose prompt has `marker` until the returned event is set."""
        released = threading.Event()
        self.holds[marker] = released
        return released

    def has_model(self, name: str) -> bool:
        """Whether `name` is one of the served models."""
        return _norm(name) in {_norm(m) for m in self.models}

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one generation slot (a no-op without `slots`), counting waits and the peak."""
        waited = time.monotonic()
        if self._slot_gate is not None:
            self._slot_gate.acquire()
        with self._lock:
            self.waits_s.append(time.monotonic() - waited)
            self.running += 1
            self.peak_running = max(self.peak_running, self.running)
        began = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self.running -= 1
                self.busy_s += time.monotonic() - began
            if self._slot_gate is not None:
                self._slot_gate.release()

    def record(self, path: str, body: dict) -> None:
        """Count a request and keep its body for assertions."""
        with self._lock:
            self.requests[path] += 1
            self.bodies.append((path, body))

    def answer_text(self, fmt: Any, prompt: str = "") -> str:
        """The full reply for a request with this `format` (None, "json" or a schema)."""
        scripted = self.scripted(prompt)
        if scripted is not None:
            return scripted
        if not fmt:
            return self.reply
        with self._lock:
            if self.invalid_json_times > 0:
                self.invalid_json_times -= 1
                return INVALID_JSON
        if fmt == "json":
            return json.dumps({"response": self.reply})
        return json.dumps(instance_for(fmt))


class _Handler(TrackedHandler):
    server_version = "FakeOllama"

    @property
    def fake(self) -> FakeOllama:
        return self.server.fake  # type: ignore[attr-defined]

    # -- plumbing -------------------------------------------------------------------------
    def _send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        self._send_json(status, {"error": message})

    def _read_body(self) -> dict | None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._error(400, "invalid JSON body")
            return None
        return body if isinstance(body, dict) else {}

    def _model_or_error(self, body: dict) -> str | None:
        model = body.get("model") or ""
        if not model:
            self._error(400, "model is required")
            return None
        if not self.fake.has_model(model):
            self._error(404, f'model "{model}" not found, try pulling it first')
            return None
        return model

    def _stream(self, chunks: list[dict], token_delay_s: float | None = None) -> None:
        # NDJSON over chunked transfer encoding, like Ollama's streaming answers.
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            delay = self.fake.token_delay_s if token_delay_s is None else token_delay_s
            for i, chunk in enumerate(chunks):
                if i and delay:
                    time.sleep(delay)
                line = json.dumps(chunk).encode() + b"\n"
                self.wfile.write(f"{len(line):X}\r\n".encode() + line + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client hung up mid-stream (a cancel)

    # -- routes ---------------------------------------------------------------------------
    def _refused(self) -> bool:
        """401 when the request lacks the credentials the fake asks for; like some auth proxies,
        the answer quotes the request's target (its query included)."""
        missing = self.missing_credentials()
        if missing is None:
            return False
        self._error(401, f"unauthorized: {missing} missing from {self.path}")
        return True

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
        self.fake.record(path, {})
        if self._refused():
            return
        if path == "/api/version":
            self._send_json(200, {"version": VERSION})
        elif path == "/api/tags":
            self._send_json(200, {"models": [_tag(m) for m in self.fake.models]})
        elif path == "/":
            body = b"Ollama is running"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self._error(404, "404 page not found")

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        body = self._read_body()
        if body is None:
            return
        self.fake.record(path, body)
        if self._refused():
            return
        handler = {
            "/api/chat": self._chat,
            "/api/generate": self._generate,
            "/api/embed": self._embed,
            "/api/show": self._show,
        }.get(path)
        if handler is None:
            self._error(404, "404 page not found")
        else:
            handler(body)

    def _chat(self, body: dict) -> None:
        model = self._model_or_error(body)
        if model is None:
            return
        prompt = " ".join(str(m.get("content", "")) for m in body.get("messages") or [])
        self._complete(
            body, model, prompt, lambda delta: {"message": {"role": "assistant", "content": delta}}
        )

    def _generate(self, body: dict) -> None:
        model = self._model_or_error(body)
        if model is None:
            return
        prompt = f"{body.get('system') or ''} {body.get('prompt') or ''}"
        self._complete(body, model, prompt, lambda delta: {"response": delta})

    def _complete(self, body: dict, model: str, prompt: str, content) -> None:
        if any(marker in prompt for marker in self.fake.hang_markers):
            with self.fake._lock:
                self.fake.hung += 1
            time.sleep(self.fake.hang_s)
            self.close_connection = True
            return
        for marker, released in list(self.fake.holds.items()):
            if marker in prompt:
                released.wait(self.fake.hang_s)
        limit_words = self.fake.context_words
        if limit_words is not None and len(prompt.split()) > limit_words:
            self._error(400, "the input length exceeds the context length")
            return
        text = self.fake.answer_text(body.get("format"), prompt)
        tokens = split_tokens(text)
        limit = (body.get("options") or {}).get("num_predict")
        if isinstance(limit, int) and limit >= 0:
            tokens = tokens[:limit]  # like Ollama, stop at num_predict tokens
        done_reason = "length" if len(tokens) < len(split_tokens(text)) else "stop"
        created = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        final = {
            "model": model,
            "created_at": created,
            **content(""),
            "done": True,
            "done_reason": done_reason,
            "total_duration": 1_000_000,
            "load_duration": 100_000,
            "prompt_eval_count": max(len(prompt.split()), 1),
            "prompt_eval_duration": 100_000,
            "eval_count": len(tokens),
            "eval_duration": 800_000,
        }
        with self.fake.slot():
            if self.fake.slots:
                time.sleep(self.fake.prefill_delay_s)
            if body.get("stream", True):  # Ollama streams unless told not to
                head = [{"model": model, "created_at": created, **content(t), "done": False} for t in tokens]
                slow = [delay for marker, delay in self.fake.slow_markers.items() if marker in prompt]
                self._stream([*head, final], max(slow) if slow else None)
            else:
                if self.fake.slots:
                    time.sleep(self.fake.token_delay_s * len(tokens))
                self._send_json(200, {**final, **content("".join(tokens))})
            with self.fake._lock:
                self.fake.generated_tokens += len(tokens)
                self.fake.generations.append(prompt)
                if self.fake.record_to is not None:
                    with open(self.fake.record_to, "a") as record:
                        record.write(json.dumps(prompt) + "\n")

    def _embed(self, body: dict) -> None:
        model = self._model_or_error(body)
        if model is None:
            return
        texts = body.get("input", "")
        texts = [texts] if isinstance(texts, str) else list(texts)
        dim = int(body.get("dimensions") or self.fake.embed_dim)
        self._send_json(
            200,
            {
                "model": model,
                "embeddings": [embed_vector(t, dim) for t in texts],
                "total_duration": 1_000_000,
                "load_duration": 100_000,
                "prompt_eval_count": sum(len(t.split()) for t in texts),
            },
        )

    def _show(self, body: dict) -> None:
        if self._model_or_error(body) is None:
            return
        name = body["model"]
        embedding = _is_embedding(name)
        self._send_json(
            200,
            {
                "modelfile": f"FROM {name}",
                "parameters": 'stop "<|eot_id|>"',
                "template": "{{ .Prompt }}",
                "details": _details(name),
                "model_info": {"general.architecture": _details(name)["family"]},
                "capabilities": ["embedding"] if embedding else ["completion"],
                "modified_at": "2025-01-01T00:00:00Z",
            },
        )


def _is_embedding(name: str) -> bool:
    return "embed" in name or "minilm" in name


def _details(name: str) -> dict:
    family = "nomic-bert" if _is_embedding(name) else "llama"
    return {
        "parent_model": "",
        "format": "gguf",
        "family": family,
        "families": [family],
        "parameter_size": "137M" if _is_embedding(name) else "1.2B",
        "quantization_level": "Q4_K_M",
    }


def _tag(name: str) -> dict:
    return {
        "name": _norm(name),
        "model": _norm(name),
        "modified_at": "2025-01-01T00:00:00Z",
        "size": 1_000_000,
        "digest": hashlib.sha256(name.encode()).hexdigest(),
        "details": _details(name),
    }


def main(argv: list[str] | None = None) -> None:
    """Run the fake server in the foreground until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated names")
    parser.add_argument("--reply", default=DEFAULT_REPLY)
    parser.add_argument("--token-delay-s", type=float, default=0.0)
    parser.add_argument("--embed-dim", type=int, default=384)
    parser.add_argument("--invalid-json-times", type=int, default=0)
    parser.add_argument(
        "--slots", type=int, default=None, help="parallel generations, like OLLAMA_NUM_PARALLEL"
    )
    parser.add_argument("--prefill-delay-s", type=float, default=0.0)
    parser.add_argument("--record-to", type=Path, default=None, help="append each finished prompt here")
    parser.add_argument(
        "--slow",
        action="append",
        default=[],
        metavar="MARKER=SECONDS",
        help="stream prompts containing MARKER at SECONDS a token (repeatable)",
    )
    args = parser.parse_args(argv)
    fake = FakeOllama(
        models=[m for m in args.models.split(",") if m],
        reply=args.reply,
        token_delay_s=args.token_delay_s,
        embed_dim=args.embed_dim,
        invalid_json_times=args.invalid_json_times,
        slots=args.slots,
        prefill_delay_s=args.prefill_delay_s,
        host=args.host,
        port=args.port,
        record_to=args.record_to,
    )
    for slow in args.slow:
        marker, _, seconds = slow.partition("=")
        fake.slow_markers[marker] = float(seconds)
    print(f"READY {fake.url}", flush=True)
    try:
        fake.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
