"""LLM provider for Anthropic's Messages API, through the official `anthropic` client.

Named `anthropic_provider` so it never shadows the client package it imports.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import anthropic
import httpx2

from core.net.display import display_url
from core.net.endpoint_url import EndpointURL
from workers.llm.api_errors import api_errors
from workers.llm.base import (
    DEFAULT_MAX_TOKENS,
    ChatResult,
    LLMNotConfigured,
    TokenCallback,
    option,
)
from workers.llm.request_timeout import CONNECT_TIMEOUT_S, READ_TIMEOUT_S, httpx2_timeout, read_stream


def schema_instruction(json_schema: dict) -> str:
    """What the system prompt says when the answer must be JSON. The Messages API has no
    response_format like OpenAI's; its structured outputs (output_config.format) accept only a subset
    of JSON Schema and refuse the rest with a 400, so the schema is asked for in words, and
    structured.py validates the answer and asks once more with the error."""
    return (
        "Answer with only a JSON document (no prose, no code fence) that satisfies this JSON schema:\n"
        + json.dumps(json_schema)
    )


def split_system(messages: list[dict], json_schema: dict | None) -> tuple[str, list[dict]]:
    """The system prompt (the Messages API takes it apart from the turns) and the turns."""
    system = [str(m.get("content", "")) for m in messages if m.get("role") == "system"]
    turns = [
        {"role": m["role"], "content": str(m.get("content", ""))}
        for m in messages
        if m.get("role") != "system"
    ]
    if json_schema is not None:
        system.append(schema_instruction(json_schema))
    return "\n\n".join(part for part in system if part), turns


def request_options(options: dict | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(arguments, extra body): max_tokens is required by the API; stop is stop_sequences. This
    client no longer takes temperature and top_p as arguments, so when a job or route asks for one
    it goes in the body as the API names it. Anthropic has no seed: it is dropped."""
    arguments: dict[str, Any] = {"max_tokens": option(options, "max_tokens", DEFAULT_MAX_TOKENS)}
    if (stop := option(options, "stop")) is not None:
        arguments["stop_sequences"] = stop
    extra = {key: value for key in ("temperature", "top_p") if (value := option(options, key)) is not None}
    return arguments, extra


def _client(base_url: str, api_key: str) -> anthropic.Anthropic:
    """The official client on the base URL's display form, the URL's query sent with every request.
    A `user:password@` in the URL (a gateway in front of the API) is sent as HTTP basic auth in the
    Authorization header, where the client puts its key: the key then goes as `x-api-key`, the
    Messages API's own header for it."""
    where = EndpointURL.parse(base_url)
    headers = {"Authorization": where.authorization, "X-Api-Key": api_key} if where.authorization else None
    return anthropic.Anthropic(
        api_key=api_key,
        base_url=where.base,
        default_headers=headers,
        default_query=where.default_query(),
        max_retries=0,
        timeout=httpx2.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
    )


class AnthropicProvider:
    """Chat through POST {base_url}/v1/messages; the model is the `model` argument, else the default."""

    name = "anthropic"

    def __init__(self, base_url: str, api_key: str | None, default_model: str) -> None:
        self.base_url = display_url(base_url)  # what messages name; the client holds the rest
        self.default_model = default_model
        # One client for every thread (thread-safe); each request carries the time its job has left.
        self._client = _client(base_url, api_key) if api_key else None

    @property
    def where(self) -> str:
        return f"Anthropic at {self.base_url}"

    def _require_client(self) -> anthropic.Anthropic:
        if self._client is None:
            raise LLMNotConfigured("the anthropic provider has no key (MENTORQ_ANTHROPIC_API_KEY is not set)")
        return self._client

    def chat(
        self,
        messages: list[dict],
        *,
        model: str | None = None,
        json_schema: dict | None = None,
        options: dict | None = None,
        on_token: TokenCallback | None = None,
    ) -> ChatResult:
        """Complete `messages`, streaming text deltas to `on_token` when given."""
        client = self._require_client()
        model = model or self.default_model
        system, turns = split_system(messages, json_schema)
        arguments, extra = request_options(options)
        request: dict[str, Any] = dict(model=model, messages=turns, **arguments)
        if system:
            request["system"] = system
        if extra:
            request["extra_body"] = extra
        if on_token is not None:
            return self._stream(client, request, model, on_token)
        with api_errors(anthropic, where=self.where, model=model):
            response = client.messages.create(**request, timeout=httpx2_timeout())
        text = "".join(block.text for block in response.content if getattr(block, "type", "") == "text")
        return ChatResult(
            text=text,
            model=response.model or model,
            provider=self.name,
            prompt_tokens=response.usage.input_tokens if response.usage else 0,
            completion_tokens=response.usage.output_tokens if response.usage else 0,
        )

    def _stream(
        self, client: anthropic.Anthropic, request: dict[str, Any], model: str, on_token: TokenCallback
    ) -> ChatResult:
        parts: list[str] = []
        answered_model, prompt_tokens, completion_tokens = model, 0, 0
        with api_errors(anthropic, where=self.where, model=model):
            stream = client.messages.create(**request, stream=True, timeout=httpx2_timeout())
        try:
            for event in read_stream(
                stream, partial(api_errors, anthropic, where=self.where, model=model), self.where
            ):
                if event.type == "message_start":
                    answered_model = event.message.model or answered_model
                    prompt_tokens = event.message.usage.input_tokens or 0
                elif event.type == "message_delta" and event.usage is not None:
                    completion_tokens = event.usage.output_tokens or completion_tokens
                elif event.type == "content_block_delta" and event.delta.type == "text_delta":
                    if event.delta.text:
                        parts.append(event.delta.text)
                        on_token(event.delta.text)  # may raise to cancel: the finally closes the stream
        finally:
            stream.close()
        return ChatResult(
            text="".join(parts),
            model=answered_model,
            provider=self.name,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )

    def list_models(self) -> list[str]:
        """The model ids the API lists (GET {base_url}/v1/models)."""
        client = self._require_client()
        with api_errors(anthropic, where=self.where):
            return [m.id for m in client.models.list(timeout=httpx2_timeout()) if m.id]
