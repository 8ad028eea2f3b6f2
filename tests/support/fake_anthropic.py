"""A fake Anthropic Messages API on a loopback port.

The official `anthropic` client talks to it over real HTTP: POST /v1/messages (a JSON message, or
the server-sent events message_start, content_block_start, ping, content_block_delta (text_delta),
content_block_stop, message_delta (usage), message_stop) and GET /v1/models. A key is required
(`x-api-key`, or `Authorization: Bearer` as the 2.x client sends it), and so is the
`anthropic-version` header. Errors come in Anthropic's shape `{"type": "error", "error": {"type",
"message"}}` (401 authentication_error, 404 not_found_error, 529 overloaded_error, ...).
Use `FakeAnthropic().start()`; the client's base URL is `fake.url`.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from tests.support.fake_llm_server import FakeHandler, FakeLLMServer

DEFAULT_MODELS = ("claude-sonnet-4-6", "claude-haiku-4-5")
MESSAGES = "/v1/messages"
_ids = itertools.count(1)


def anthropic_error(type_: str, message: str) -> dict:
    return {"type": "error", "error": {"type": type_, "message": message}}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(block.get("text", "")) for block in content if isinstance(block, dict))
    return ""


class _Handler(FakeHandler):
    server_version = "FakeAnthropic"

    def _authorized(self) -> bool:
        missing = self.missing_credentials()
        if missing is not None:
            self.send_json(401, anthropic_error("authentication_error", f"{missing} missing"))
            return False
        expected = self.fake.api_key
        # The API takes the key as x-api-key (its documented header, what curl and older clients
        # send) or as a Bearer token (what the anthropic client 2.x sends).
        given = {self.headers.get("x-api-key"), self.headers.get("Authorization", "").removeprefix("Bearer ")}
        if expected is not None and expected not in given:
            self.send_json(401, anthropic_error("authentication_error", "invalid x-api-key"))
            return False
        if not self.headers.get("anthropic-version"):
            self.send_json(
                400, anthropic_error("invalid_request_error", "anthropic-version: header is required")
            )
            return False
        return True

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
        self.fake.record(path, {}, self.headers)
        if not self._authorized():
            return
        if path == "/v1/models":
            data = [
                {"type": "model", "id": m, "display_name": m, "created_at": "2025-09-29T00:00:00Z"}
                for m in self.fake.models
            ]
            first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
            self.send_json(200, {"data": data, "has_more": False, "first_id": first, "last_id": last})
        else:
            self.send_json(404, anthropic_error("not_found_error", "Not Found"))

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        body = self.read_json()
        self.fake.record(path, body or {}, self.headers)
        if not self._authorized():
            return
        if body is None:
            self.send_json(400, anthropic_error("invalid_request_error", "invalid JSON body"))
        elif path == MESSAGES:
            self._messages(body)
        else:
            self.send_json(404, anthropic_error("not_found_error", "Not Found"))

    def _messages(self, body: dict) -> None:
        fake = self.fake
        if not isinstance(body.get("max_tokens"), int):
            self.send_json(400, anthropic_error("invalid_request_error", "max_tokens: Field required"))
            return
        if any(m.get("role") == "system" for m in body.get("messages") or []):
            message = 'messages: Unexpected role "system". Use the top-level `system` parameter instead.'
            self.send_json(400, anthropic_error("invalid_request_error", message))
            return
        model = body.get("model") or ""
        if model not in fake.models:
            self.send_json(404, anthropic_error("not_found_error", f"model: {model}"))
            return
        prompt = " ".join(
            [_text(body.get("system")), *(_text(m.get("content")) for m in body.get("messages") or [])]
        )
        if self.hang_if_asked(prompt):
            return
        if fake.fail_with is not None:
            status, type_, message = fake.fail_with
            self.send_json(status, anthropic_error(type_, message.replace("{url}", self.requested_url())))
            return
        if fake.over_context(prompt):
            message = f"prompt is too long: {len(prompt.split())} tokens > {fake.context_words} maximum"
            self.send_json(400, anthropic_error("invalid_request_error", message))
            return
        tokens, cut = fake.tokens(fake.answer_text(None, prompt), body["max_tokens"])
        stop = "max_tokens" if cut else "end_turn"
        input_tokens = max(len(prompt.split()), 1)
        message = {
            "id": f"msg_{next(_ids):024d}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": 1},
        }
        if not body.get("stream"):
            done = {
                **message,
                "content": [{"type": "text", "text": "".join(tokens)}],
                "stop_reason": stop,
                "usage": {"input_tokens": input_tokens, "output_tokens": len(tokens)},
            }
            self.send_json(200, done)
            return
        self._stream(message, tokens, stop)

    def _stream(self, message: dict, tokens: list[str], stop: str) -> None:
        def event(type_: str, payload: dict, *, delay: bool = False) -> bool:
            return self.send_sse(json.dumps({"type": type_, **payload}), event=type_, delay=delay)

        self.start_sse()
        steps = [
            ("message_start", {"message": message}),
            ("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
            ("ping", {}),
        ]
        for type_, payload in steps:
            if not event(type_, payload):
                return
        for index, token in enumerate(tokens):
            if self.drop_now(index) or not event(
                "content_block_delta",
                {"index": 0, "delta": {"type": "text_delta", "text": token}},
                delay=index > 0,
            ):
                return
        tail = [
            ("content_block_stop", {"index": 0}),
            (
                "message_delta",
                {
                    "delta": {"stop_reason": stop, "stop_sequence": None},
                    "usage": {"output_tokens": len(tokens)},
                },
            ),
            ("message_stop", {}),
        ]
        for type_, payload in tail:
            if not event(type_, payload):
                return
        self.end_sse()


class FakeAnthropic(FakeLLMServer):
    handler = _Handler

    def __init__(self, *, models: tuple[str, ...] | list[str] = DEFAULT_MODELS, **kwargs: Any) -> None:
        super().__init__(models=models, **kwargs)

    def generations(self) -> int:
        return self.requests[MESSAGES]
