"""LLM provider for any server speaking OpenAI's chat completions (vLLM, llama.cpp's server,
LM Studio, xAI, OpenRouter), through the official `openai` client with a base URL."""

from __future__ import annotations

import threading
from functools import partial
from typing import Any

import httpx2
import openai

from core.llm_endpoints import credentials_conflict
from core.net.display import display_url_or_none
from core.net.endpoint_url import EndpointURL
from workers.llm.api_errors import api_errors
from workers.llm.base import (
    DEFAULT_MAX_TOKENS,
    ChatResult,
    LLMNotConfigured,
    ModelNotFound,
    TokenCallback,
    option,
    sampling_options,
)
from workers.llm.request_timeout import CONNECT_TIMEOUT_S, READ_TIMEOUT_S, httpx2_timeout, read_stream

# Servers without auth (vLLM, llama.cpp) accept any key; the client insists on one. vLLM's docs use this.
NO_KEY = "EMPTY"


def request_options(options: dict | None) -> dict[str, Any]:
    """mentorq's generation options under OpenAI's names."""
    mapped: dict[str, Any] = {"max_tokens": option(options, "max_tokens", DEFAULT_MAX_TOKENS)}
    return mapped | sampling_options(options)


def response_format(json_schema: dict) -> dict[str, Any]:
    """Ask for JSON matching the schema. Not `strict`: OpenAI's strict mode refuses schemas outside
    its subset, and the answer is validated (with one corrective retry) by structured.py anyway."""
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": json_schema, "strict": False}}


def _client(base_url: str, api_key: str | None) -> openai.OpenAI:
    """The official client on the base URL's display form: a `user:password@` in the URL is sent as
    HTTP basic auth (the Authorization header, in place of the Bearer key, which is then unset:
    core/llm_endpoints.credentials_conflict), and its query with every request."""
    where = EndpointURL.parse(base_url)
    return openai.OpenAI(
        base_url=where.base,
        api_key=api_key or NO_KEY,
        default_headers={"Authorization": where.authorization} if where.authorization else None,
        default_query=where.default_query(),
        max_retries=0,
        timeout=httpx2.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
    )


class OpenAICompatibleProvider:
    """Chat through POST {base_url}/chat/completions.

    The model is the `model` argument, else the configured default, else the server's first listed
    model (a vLLM or llama.cpp server usually serves one). The client never retries by itself: an
    outage is the job runtime's (and the route's fallbacks') to handle, within the job's deadline.
    """

    name = "openai_compatible"

    def __init__(self, base_url: str | None, api_key: str | None, default_model: str | None = None) -> None:
        self.base_url = display_url_or_none(base_url)  # what messages name; the client holds the rest
        self.default_model = default_model
        self._lock = threading.Lock()
        self._refusal = (
            credentials_conflict("openai_compatible", base_url, api_key)
            if base_url
            else "the openai_compatible provider has no MENTORQ_OPENAI_BASE_URL"
        )
        # One client for every thread: httpx2's client is thread-safe, and each request carries
        # its own timeout (the time its job has left).
        self._client = _client(base_url, api_key) if base_url and self._refusal is None else None

    @property
    def where(self) -> str:
        return f"the OpenAI-compatible server at {self.base_url}"

    def _require_client(self) -> openai.OpenAI:
        if self._client is None:
            raise LLMNotConfigured(self._refusal or "the openai_compatible provider is not configured")
        return self._client

    def _model(self, model: str | None) -> str:
        if model or self.default_model:
            return model or self.default_model or ""
        listed = self.list_models()
        if not listed:
            raise ModelNotFound(f"{self.where} lists no model, and MENTORQ_OPENAI_MODEL is not set")
        with self._lock:
            self.default_model = self.default_model or listed[0]
        return self.default_model

    def chat(
        self,
        messages: list[dict],
        *,
        model: str | None = None,
        json_schema: dict | None = None,
        options: dict | None = None,
        on_token: TokenCallback | None = None,
    ) -> ChatResult:
        """Complete `messages`, streaming deltas to `on_token` when given."""
        client = self._require_client()
        model = self._model(model)
        request: dict[str, Any] = dict(model=model, messages=messages, **request_options(options))
        if json_schema is not None:
            request["response_format"] = response_format(json_schema)
        if on_token is not None:
            return self._stream(client, request, model, on_token)
        with api_errors(openai, where=self.where, model=model):
            response = client.chat.completions.create(**request, timeout=httpx2_timeout())
        choice = response.choices[0] if response.choices else None
        usage = response.usage
        return ChatResult(
            text=(choice.message.content or "") if choice else "",
            model=response.model or model,
            provider=self.name,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
        )

    def _stream(
        self, client: openai.OpenAI, request: dict[str, Any], model: str, on_token: TokenCallback
    ) -> ChatResult:
        parts: list[str] = []
        answered_model, usage = model, None
        with api_errors(openai, where=self.where, model=model):
            stream = client.chat.completions.create(
                **request, stream=True, stream_options={"include_usage": True}, timeout=httpx2_timeout()
            )
        try:
            for chunk in read_stream(
                stream, partial(api_errors, openai, where=self.where, model=model), self.where
            ):
                answered_model = chunk.model or answered_model
                usage = chunk.usage or usage
                delta = chunk.choices[0].delta.content if chunk.choices else None
                if delta:
                    parts.append(delta)
                    on_token(delta)  # may raise to cancel: the finally closes the HTTP stream
        finally:
            stream.close()
        return ChatResult(
            text="".join(parts),
            model=answered_model,
            provider=self.name,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else len(parts),
        )

    def list_models(self) -> list[str]:
        """The model ids the server lists (GET {base_url}/models)."""
        client = self._require_client()
        with api_errors(openai, where=self.where):
            return [m.id for m in client.models.list(timeout=httpx2_timeout()) if m.id]
