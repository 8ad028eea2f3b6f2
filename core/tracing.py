"""OpenTelemetry traces: one trace per job, from the request that submits it, through its message
(the trace context travels in the Celery message's headers), the claim, each stage's run, its LLM
calls and searches, to its end and the webhook delivery that reports it.

Off unless the standard variables ask for it: OTEL_EXPORTER_OTLP_ENDPOINT or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (then spans go there over OTLP/HTTP), or OTEL_TRACES_EXPORTER
(`otlp`, `console`); OTEL_SDK_DISABLED=true turns it off whatever else is set. The exporter reads
the rest of the OTEL_* variables itself (headers, timeout, compression), and
OTEL_SERVICE_NAME names the service (default mentorq-<service>). While off, the spans our code
opens are the API's no-op spans: nothing is recorded, sent or imported beyond opentelemetry-api.

No prompt, answer or learner text goes into a span unless MENTORQ_TRACE_CONTENT is true: spans
hold ids, kinds, models, token counts and timings (`content_allowed()` says which).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace

log = logging.getLogger(__name__)

TRACER_NAME = "mentorq"
_lock = threading.Lock()
_started_in: int | None = None  # the pid whose provider is set: a forked child starts its own


def wanted(env: Mapping[str, str] | None = None) -> bool:
    """Whether the OTEL_* variables ask for traces."""
    env = os.environ if env is None else env
    if (env.get("OTEL_SDK_DISABLED") or "").strip().lower() == "true":
        return False
    exporter = (env.get("OTEL_TRACES_EXPORTER") or "").strip().lower()
    if exporter == "none":
        return False
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    return bool(endpoint) or exporter in ("otlp", "console")


def content_allowed() -> bool:
    """Whether spans may carry prompt and answer text (MENTORQ_TRACE_CONTENT; off by default)."""
    from core.settings import get_settings

    return get_settings().trace_content


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def start(service: str, *, fastapi_app: Any = None) -> bool:
    """Record and export this process's spans, when the variables ask for it; once per process.
    A prefork worker calls it in each child (its exporter thread would not survive a fork), never
    in the parent. Returns whether tracing is on."""
    global _started_in
    if not wanted():
        return False
    with _lock:
        if _started_in is None:
            _started_in = os.getpid()
            _set_provider(service)
            _instrument_clients()
        elif _started_in != os.getpid():
            log.warning("traces: started before a fork; this process exports none")
            return False
    if fastapi_app is not None:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(fastapi_app, excluded_urls="healthz,readyz,metrics")
    return True


def _set_provider(service: str) -> None:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME") or f"mentorq-{service}"
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(_exporter()))
    trace.set_tracer_provider(provider)
    log.info("traces: exported as %s", name)


def _exporter() -> Any:
    if (os.environ.get("OTEL_TRACES_EXPORTER") or "").strip().lower() == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()  # reads OTEL_EXPORTER_OTLP_* itself


def _instrument_clients() -> None:
    """httpx's requests (webhooks, model servers) as client spans; Celery's publish and run, with
    the trace context in each message's headers (the API publishes too)."""
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().instrument()
    CeleryInstrumentor().instrument()


def flush() -> None:
    """Send what is recorded now (a process about to end)."""
    provider = trace.get_tracer_provider()
    if hasattr(provider, "force_flush"):
        provider.force_flush(5_000)
