"""LLM provider backed by an Ollama server, through the official `ollama` client."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import httpx
import ollama

from core.catalog import DEFAULT_OLLAMA_LLM
from core.net.display import display_url
from core.net.endpoint_url import EndpointURL
from workers import deadline
from workers.llm.base import (
    DEFAULT_MAX_TOKENS,
    ChatResult,
    ContextTooLong,
    LLMError,
    LLMNotConfigured,
    LLMUnavailable,
    ModelNotFound,
    TimeLimitReached,
    TokenCallback,
    option,
    sampling_options,
)
from workers.llm.request_timeout import CONNECT_TIMEOUT_S, READ_TIMEOUT_S, read_stream, timeout_seconds

# A read timeout bounds the silence between two chunks (or a whole non-streamed answer); inside a
# job it is never longer than the time the job has left, and a stream stops at the job's deadline.
CLIENT_TIMEOUT = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
_RETRYABLE_STATUS = {502, 503, 504}


def ollama_client(host: str, **options: object) -> ollama.Client:
    """The official client for an OLLAMA_HOST value. The client itself would drop a `user:password@`
    and a `?token=` in silence (its host parsing keeps scheme, host, port and path): they are sent
    as HTTP basic auth and as every request's query, for an auth proxy in front of Ollama."""
    where = EndpointURL.parse(host)
    return ollama.Client(host=where.base, **where.httpx_options(), **options)  # type: ignore[arg-type]


@contextmanager
def ollama_errors(host: str, model: str | None = None) -> Iterator[None]:
    """Translate the client's and httpx's exceptions into the provider errors; `host` is the
    address's display form (messages name it; the errors scrub whatever else they quote)."""
    try:
        yield
    except ollama.ResponseError as exc:
        message = str(exc.error)
        if exc.status_code in (401, 403):  # an auth proxy in front of Ollama: configuration, not an outage
            raise LLMNotConfigured(
                f"Ollama at {host} refused the request ({exc.status_code}): {message}"
            ) from exc
        if exc.status_code == 404 or "not found" in message.lower():
            raise ModelNotFound(f"Ollama has no model {model!r}: {message}") from exc
        if exc.status_code in _RETRYABLE_STATUS:
            raise LLMUnavailable(f"Ollama at {host} is busy or failing: {message}") from exc
        if "context length" in message.lower() or "context window" in message.lower():
            raise ContextTooLong(f"the prompt does not fit {model!r}'s context: {message}") from exc
        raise LLMError(f"Ollama error: {message}") from exc
    # The client wraps ConnectError as ConnectionError for plain requests only; a stream raises
    # httpx's own errors, and timeouts are never wrapped.
    except (ConnectionError, httpx.TransportError) as exc:
        if isinstance(exc, httpx.TimeoutException) and deadline.passed():
            raise TimeLimitReached(
                f"Ollama at {host} had not answered when the job's time limit came"
            ) from exc
        raise LLMUnavailable(f"Ollama at {host} is unreachable: {exc}") from exc


def request_timeout() -> httpx.Timeout:
    """The client's timeout, cut to the time the running job has left."""
    read, connect = timeout_seconds()
    return httpx.Timeout(read, connect=connect)


def ollama_options(options: dict | None) -> dict:
    """Map mentorq's generation options to Ollama's names (max_tokens is num_predict)."""
    mapped = {"num_predict": option(options, "max_tokens", DEFAULT_MAX_TOKENS)}
    return mapped | sampling_options(options)


class OllamaProvider:
    """Chat through Ollama's /api/chat.

    The model is the `model` argument, else MENTORQ_LLM_MODEL, else "llama3.2:1b".
    """

    name = "ollama"

    def __init__(self, host: str, default_model: str | None = None) -> None:
        self._configured_host = host  # may carry credentials: given to the client only
        self.host = display_url(host)
        self.default_model = default_model or DEFAULT_OLLAMA_LLM
        # One client per thread: the `llm` lane's threads call at once, and each request's timeout
        # is set on its own thread's client (the job's time left).
        self._local = threading.local()

    @property
    def _client(self) -> ollama.Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = ollama_client(self._configured_host, timeout=CLIENT_TIMEOUT)
        client._client.timeout = request_timeout()  # the client's httpx.Client (keeps its connections)
        return client

    def chat(
        self,
        messages: list[dict],
        *,
        model: str | None = None,
        json_schema: dict | None = None,
        options: dict | None = None,
        on_token: TokenCallback | None = None,
    ) -> ChatResult:
        """Complete `messages` with Ollama, streaming deltas to `on_token` when given."""
        model = model or self.default_model
        request = dict(model=model, messages=messages, format=json_schema, options=ollama_options(options))
        if on_token is not None:
            return self._stream(request, model, on_token)
        with ollama_errors(self.host, model):
            response = self._client.chat(**request, stream=False)
        return self._result(response.message.content or "", response, model)

    def _stream(self, request: dict, model: str, on_token: TokenCallback) -> ChatResult:
        parts: list[str] = []
        last = None
        with ollama_errors(self.host, model):
            stream = self._client.chat(**request, stream=True)
        try:
            for chunk in read_stream(
                stream, partial(ollama_errors, self.host, model), f"Ollama at {self.host}"
            ):
                last = chunk
                delta = chunk.message.content or ""
                if delta:
                    parts.append(delta)
                    on_token(delta)  # may raise to cancel: the finally closes the HTTP stream
        finally:
            stream.close()
        return self._result("".join(parts), last, model)

    def _result(self, text: str, final, model: str) -> ChatResult:
        return ChatResult(
            text=text,
            model=(final.model if final is not None and final.model else model),
            provider=self.name,
            prompt_tokens=(final.prompt_eval_count or 0) if final is not None else 0,
            completion_tokens=(final.eval_count or 0) if final is not None else 0,
        )

    def list_models(self) -> list[str]:
        """Names of the models the Ollama server has pulled."""
        with ollama_errors(self.host):
            return [m.model for m in self._client.list().models if m.model]
