"""One trace per job across the real processes: the API's request, the message (its trace context in
the Celery headers), the worker's claim, body, LLM call (OpenTelemetry's GenAI attributes) and
finish, the webhook message and its delivery by the io worker. Each process exports over OTLP/HTTP
to a collector that speaks the real protocol (tests/support/otlp_collector.py); no prompt or answer
text is in any span while MENTORQ_TRACE_CONTENT is off."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from core.jobspec import task_name_of
from core.platform_tasks import DELIVER_WEBHOOK
from core.tracing import wanted
from tests.conftest import own_stack, register
from tests.support.fake_ollama import FakeOllama
from tests.support.otlp_collector import Collector, ReceivedSpan
from tests.support.receiver import Receiver
from tests.support.stack import wait_until

PRIVATE = "my private question about grade 4711"


@pytest.fixture(scope="module")
def traced(fake_ollama: FakeOllama) -> Iterator[tuple[str, Collector]]:
    collector = Collector()
    try:
        with own_stack(fake_ollama, "mentorq-traces-") as platform:
            platform.env["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.url
            platform.env["OTEL_BSP_SCHEDULE_DELAY"] = "100"  # export within 0.1 s, not 5
            platform.start_api()
            platform.start_worker(queues="llm,embed,query,cpu,maintenance", concurrency=2)
            platform.start_worker("worker-io", queues="io", concurrency=4, pool="threads")
            yield platform.api_url, collector
    finally:
        collector.close()


@pytest.fixture(scope="module")
def one_job(traced: tuple[str, Collector]) -> dict:
    api, collector = traced
    receiver = Receiver()
    try:
        with register(api) as client:
            submitted = client.post(
                "/v1/jobs",
                json={"kind": "chat", "input": {"prompt": PRIVATE}, "webhook": receiver.url},
                headers={"Prefer": "wait=60"},
            )
            job = submitted.json()
            assert job["status"] == "succeeded", job
        wait_until(lambda: len(receiver.received) == 1, timeout=60, message="the webhook")
        delivered = f"run/{DELIVER_WEBHOOK.name}"
        # The io worker's spans come last: its delivery's run span ends after the POST's.
        wait_until(lambda: any(s.name == delivered for s in collector.spans), timeout=60, message="spans")
        time.sleep(1)
        return {"job": job, "traceparent": receiver.received[0].headers.get("traceparent", "")}
    finally:
        receiver.close()


def the_trace(collector: Collector, job: dict) -> list[ReceivedSpan]:
    [root] = [s for s in collector.spans if s.service == "mentorq-api" and s.name == "POST /v1/jobs"]
    return collector.trace(root.trace_id)


def test_a_job_is_one_trace_from_the_request_to_its_webhook(traced, one_job) -> None:
    _, collector = traced
    job = one_job["job"]
    spans = the_trace(collector, job)
    names = {(span.service, span.name) for span in spans}
    task = task_name_of("chat")
    for expected in [
        ("mentorq-api", "POST /v1/jobs"),
        ("mentorq-api", f"apply_async/{task}"),
        ("mentorq-worker", f"run/{task}"),
        ("mentorq-worker", "job chat"),
        ("mentorq-worker", "job.claim"),
        ("mentorq-worker", "job.body"),
        ("mentorq-worker", "job.finish"),
        ("mentorq-worker", f"apply_async/{DELIVER_WEBHOOK.name}"),
        ("mentorq-worker", f"run/{DELIVER_WEBHOOK.name}"),
    ]:
        assert expected in names, (expected, sorted(names))
    # Every span but the request's hangs from another span of the same trace: no broken link.
    ids = {span.span_id for span in spans}
    roots = [span for span in spans if span.parent_id not in ids]
    assert [(r.service, r.name) for r in roots] == [("mentorq-api", "POST /v1/jobs")]
    [job_span] = [s for s in spans if s.name == "job chat"]
    assert job_span.attributes["mentorq.job.id"] == job["id"]
    assert job_span.attributes["mentorq.job.kind"] == "chat"

    # The webhook's POST is a client span of the trace, and the receiver was told the trace.
    def url(span: ReceivedSpan) -> str:  # the stable HTTP semantic conventions' name, or the old one
        return str(span.attributes.get("url.full") or span.attributes.get("http.url") or "")

    posts = [s for s in spans if s.name == "POST" and url(s).endswith("/hook")]
    assert posts, sorted(names)
    assert one_job["traceparent"].split("-")[1] == job_span.trace_id


def test_the_llm_call_carries_the_genai_attributes(traced, one_job) -> None:
    _, collector = traced
    job = one_job["job"]
    [call] = [s for s in the_trace(collector, job) if s.attributes.get("gen_ai.operation.name") == "chat"]
    assert call.attributes["gen_ai.provider.name"] == "ollama"
    assert call.attributes["gen_ai.response.model"] == job["output"]["model"]
    assert call.attributes["gen_ai.usage.input_tokens"] == job["output"]["usage"]["prompt_tokens"]
    assert call.attributes["gen_ai.usage.output_tokens"] == job["output"]["usage"]["completion_tokens"]
    assert call.kind == 3  # SPAN_KIND_CLIENT


def test_no_span_holds_the_learners_text(traced, one_job) -> None:
    _, collector = traced
    answer = one_job["job"]["output"]["text"]
    for span in collector.spans:
        values = [*span.attributes.values(), *(v for _, a in span.events for v in a.values())]
        for value in values:
            assert "4711" not in str(value), (span.name, value)
            assert not answer or answer not in str(value), (span.name, value)


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
    ],
)
def test_traces_are_off_unless_the_standard_variables_ask(env: dict[str, str], on: bool) -> None:
    assert wanted(env) is on
