"""Every provider's calls measured (core/metrics/catalog.py): requests by outcome, tokens in and out,
time to the first streamed token, the whole call, and the calls in flight (the slots this host keeps
busy on the model server); and each call a span (core/tracing.py) with OpenTelemetry's GenAI
attributes: the provider, the models asked and answering, the tokens, the outcome. The prompt and
the answer go into the span only where MENTORQ_TRACE_CONTENT allows. workers/llm/providers.py wraps
each provider it builds, so a route's fallbacks and the settings' provider are measured alike,
each under its own provider's name."""

from __future__ import annotations

import json
import time
from typing import Any

from opentelemetry.trace import SpanKind, Status, StatusCode

from core import tracing
from core.metrics import catalog
from workers.llm.base import ChatResult, LLMError, LLMProvider, TokenCallback

_SPANS = tracing.tracer()
_CONTENT_CHARS = 8_000  # what a span may hold of a prompt or an answer, where content is allowed


class MeteredProvider:
    """`provider` (kept as `inner`), its chat() measured; everything else is the provider's own."""

    def __init__(self, provider: LLMProvider) -> None:
        self.inner = provider
        self.name = provider.name

    def chat(
        self,
        messages: list[dict],
        *,
        model: str | None = None,
        json_schema: dict | None = None,
        options: dict | None = None,
        on_token: TokenCallback | None = None,
    ) -> ChatResult:
        began = time.perf_counter()
        relay = on_token
        if on_token is not None:
            first_token = catalog.LLM_FIRST_TOKEN.labels(self.name)
            waiting = True

            def relay(delta: str) -> None:
                nonlocal waiting
                if waiting:
                    waiting = False
                    first_token.observe(time.perf_counter() - began)
                on_token(delta)

        in_flight = catalog.LLM_IN_FLIGHT.labels(self.name)
        in_flight.inc()
        outcome = "ok"
        with _SPANS.start_as_current_span(f"chat {model or ''}".strip(), kind=SpanKind.CLIENT) as span:
            span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.provider.name": self.name})
            if model:
                span.set_attribute("gen_ai.request.model", model)
            if content := tracing.content_allowed():
                span.add_event("gen_ai.input.messages", {"content": json.dumps(messages)[:_CONTENT_CHARS]})
            try:
                result = self.inner.chat(
                    messages, model=model, json_schema=json_schema, options=options, on_token=relay
                )
            except LLMError as error:
                outcome = error.code
                raise
            except Exception:
                outcome = "error"
                raise
            finally:
                in_flight.dec()
                catalog.LLM_REQUESTS.labels(self.name, outcome).inc()
                catalog.LLM_DURATION.labels(self.name).observe(time.perf_counter() - began)
                if outcome != "ok":
                    span.set_attribute("error.type", outcome)
                    span.set_status(Status(StatusCode.ERROR, outcome))
            prompt_tokens, completion_tokens = (
                max(0, result.prompt_tokens or 0),
                max(0, result.completion_tokens or 0),
            )
            span.set_attributes(
                {
                    "gen_ai.response.model": result.model,
                    "gen_ai.usage.input_tokens": prompt_tokens,
                    "gen_ai.usage.output_tokens": completion_tokens,
                }
            )
            if content:
                span.add_event("gen_ai.output.messages", {"content": result.text[:_CONTENT_CHARS]})
        catalog.LLM_INPUT_TOKENS.labels(self.name).inc(prompt_tokens)
        catalog.LLM_OUTPUT_TOKENS.labels(self.name).inc(completion_tokens)
        return result

    def list_models(self) -> list[str]:
        return self.inner.list_models()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
