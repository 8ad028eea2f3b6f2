"""A fake OpenAI-compatible server (as vLLM, llama.cpp's server or OpenAI answer) on a loopback port.

The official `openai` client talks to it over real HTTP: POST /v1/chat/completions (a JSON answer,
or server-sent events `data: {chunk}` ending in `data: [DONE]`, with the usage chunk when
stream_options.include_usage asks), GET /v1/models, Bearer keys refused with 401, and errors in
OpenAI's shape `{"error": {"message", "type", "param", "code"}}`.
Use `FakeOpenAI().start()`; the client's base URL is `fake.base_url` (with /v1).
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from tests.support.fake_llm_server import FakeHandler, FakeLLMServer

DEFAULT_MODELS = ("qwen2.5-7b-instruct", "llama-3.1-8b-instruct")
COMPLETIONS = "/v1/chat/completions"
_ids = itertools.count(1)


def openai_error(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class _Handler(FakeHandler):
    server_version = "FakeOpenAI"

    def _authorized(self) -> bool:
        missing = self.missing_credentials()
        if missing is not None:
            self.send_json(401, openai_error(f"{missing} missing", "invalid_request_error", "unauthorized"))
            return False
        expected = self.fake.api_key
        if expected is None:
            return True
        given = self.headers.get("Authorization", "")
        if given == f"Bearer {expected}":
            return True
        # OpenAI's answer to a missing or wrong key (it quotes a masked key; we need not).
        self.send_json(
            401,
            openai_error(
                "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                "invalid_api_key",
            ),
        )
        return False

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
        self.fake.record(path, {}, self.headers)
        if not self._authorized():
            return
        if path == "/v1/models":
            data = [
                {"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"}
                for m in self.fake.models
            ]
            self.send_json(200, {"object": "list", "data": data})
        else:
            self.send_json(404, openai_error(f"Unknown request URL: GET {path}", "invalid_request_error"))

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        body = self.read_json()
        self.fake.record(path, body or {}, self.headers)
        if not self._authorized():
            return
        if body is None:
            self.send_json(
                400,
                openai_error("We could not parse the JSON body of your request.", "invalid_request_error"),
            )
        elif path == COMPLETIONS:
            self._complete(body)
        else:
            self.send_json(404, openai_error(f"Unknown request URL: POST {path}", "invalid_request_error"))

    def _complete(self, body: dict) -> None:
        fake = self.fake
        model = body.get("model") or ""
        if model not in fake.models:
            self.send_json(
                404,
                openai_error(
                    f"The model `{model}` does not exist.",
                    "invalid_request_error",
                    "model_not_found",
                    "model",
                ),
            )
            return
        prompt = " ".join(str(m.get("content", "")) for m in body.get("messages") or [])
        if self.hang_if_asked(prompt):
            return
        if fake.fail_with is not None:
            status, type_, message = fake.fail_with
            self.send_json(status, openai_error(message.replace("{url}", self.requested_url()), type_))
            return
        if fake.over_context(prompt):
            self.send_json(
                400,
                openai_error(
                    f"This model's maximum context length is {fake.context_words} tokens. However, your "
                    f"messages resulted in {len(prompt.split())} tokens.",
                    "invalid_request_error",
                    "context_length_exceeded",
                    "messages",
                ),
            )
            return
        format_ = body.get("response_format") or {}
        schema = (
            (format_.get("json_schema") or {}).get("schema") if format_.get("type") == "json_schema" else None
        )
        tokens, cut = fake.tokens(fake.answer_text(schema, prompt), body.get("max_tokens"))
        finish = "length" if cut else "stop"
        usage = {
            "prompt_tokens": max(len(prompt.split()), 1),
            "completion_tokens": len(tokens),
            "total_tokens": max(len(prompt.split()), 1) + len(tokens),
        }
        base = {"id": f"chatcmpl-{next(_ids)}", "created": int(time.time()), "model": model}
        if not body.get("stream"):
            message = {"role": "assistant", "content": "".join(tokens)}
            choice = {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
            self.send_json(200, {**base, "object": "chat.completion", "choices": [choice], "usage": usage})
            return
        self._stream(
            base, tokens, finish, usage, bool((body.get("stream_options") or {}).get("include_usage"))
        )

    def _stream(self, base: dict, tokens: list[str], finish: str, usage: dict, include_usage: bool) -> None:
        import json

        def chunk(delta: dict, finish_reason: str | None) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
            payload: dict[str, Any] = {**base, "object": "chat.completion.chunk", "choices": [choice]}
            if include_usage:
                payload["usage"] = None
            return json.dumps(payload)

        self.start_sse()
        if not self.send_sse(chunk({"role": "assistant", "content": ""}, None)):
            return
        for index, token in enumerate(tokens):
            if self.drop_now(index) or not self.send_sse(chunk({"content": token}, None), delay=index > 0):
                return
        if not self.send_sse(chunk({}, finish)):
            return
        if include_usage:
            tail = {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}
            if not self.send_sse(json.dumps(tail)):
                return
        if self.send_sse("[DONE]"):
            self.end_sse()


class FakeOpenAI(FakeLLMServer):
    handler = _Handler

    def __init__(self, *, models: tuple[str, ...] | list[str] = DEFAULT_MODELS, **kwargs: Any) -> None:
        super().__init__(models=models, **kwargs)

    @property
    def base_url(self) -> str:
        """What MENTORQ_OPENAI_BASE_URL is set to (the version path included, as for vLLM)."""
        return f"{self.url}/v1"

    def generations(self) -> int:
        return self.requests[COMPLETIONS]
