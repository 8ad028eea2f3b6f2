"""What each metric counts, in this process (prometheus_client's default registry): the jobs counted
from committed transitions, the LLM provider's measurements, label values kept bounded, and who may
scrape. tests/metrics/test_prometheus.py shows the same figures through a real Prometheus."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr, ValidationError

from core.metrics import catalog, exposition, processes
from core.metrics.jobs import count_committed
from core.settings import Settings
from workers.llm.base import ChatResult, LLMUnavailable
from workers.llm.metered import MeteredProvider

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def job(kind: str, status: str, **fields: object) -> SimpleNamespace:
    columns = {"stage": None, "attempts": 1, "error": None, "created_at": T0, "started_at": None}
    return SimpleNamespace(kind=kind, status=status, **(columns | {"completed_at": None} | fields))


def event(type_: str) -> SimpleNamespace:
    return SimpleNamespace(type=type_)


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("llm_unavailable", "llm_unavailable"),
        ("debug.sleep", "debug.sleep"),
        (None, "none"),
        ("", "none"),
        (str(uuid.uuid4()), "other"),  # an id never becomes a series
        ("HTTP 500 from the server", "other"),
        ("x" * 60, "other"),
    ],
)
def test_label_values_stay_in_a_bounded_vocabulary(raw: str | None, label: str) -> None:
    assert catalog.bounded(raw) == label


def test_a_committed_transaction_counts_creations_first_starts_retries_and_ends() -> None:
    kind = f"kind_{uuid.uuid4().hex[:8]}"  # a kind of this test's own: exact counts
    started = T0 + timedelta(seconds=3)
    ended = started + timedelta(seconds=2)
    count_committed(
        [
            (event("queued"), job(kind, "queued")),
            (event("started"), job(kind, "running", started_at=started)),
            # A retry's start and a later stage's start waited behind the job's own work: not a queue wait.
            (event("started"), job(kind, "running", attempts=2, started_at=started)),
            (event("started"), job(kind, "running", stage="embed", started_at=started)),
            (event("retried"), job(kind, "queued")),
            (event("succeeded"), job(kind, "succeeded", started_at=started, completed_at=ended)),
            (
                event("failed"),
                job(
                    kind, "failed", error={"code": "llm_unavailable"}, started_at=started, completed_at=ended
                ),
            ),
            (event("failed"), job(kind, "failed", error={"code": "Free text, not a code"})),
            (event("canceled"), job(kind, "canceled")),  # canceled while queued: no run time
            # An event whose job has moved on since (a late output event of an ended job) is no end.
            (event("succeeded"), job(kind, "failed")),
        ],
        created=[kind, kind],
    )
    assert value("mentorq_jobs_created_total", kind=kind) == 2
    assert value("mentorq_job_queue_wait_seconds_count", kind=kind) == 1
    assert value("mentorq_job_queue_wait_seconds_sum", kind=kind) == 3.0
    assert value("mentorq_job_retries_total", kind=kind) == 1
    assert value("mentorq_jobs_ended_total", kind=kind, status="succeeded", code="none") == 1
    assert value("mentorq_jobs_ended_total", kind=kind, status="failed", code="llm_unavailable") == 1
    assert value("mentorq_jobs_ended_total", kind=kind, status="failed", code="other") == 1
    assert value("mentorq_jobs_ended_total", kind=kind, status="canceled", code="none") == 1
    assert value("mentorq_job_run_seconds_count", kind=kind, status="succeeded") == 1
    assert value("mentorq_job_run_seconds_sum", kind=kind, status="succeeded") == 2.0
    assert value("mentorq_job_run_seconds_count", kind=kind, status="canceled") == 0


class ScriptedProvider:
    name = "scripted"

    def __init__(self, tokens: list[str], error: Exception | None = None) -> None:
        self.tokens, self.error, self.calls = tokens, error, 0
        self.in_flight_seen: float | None = None

    def chat(self, messages, *, model=None, json_schema=None, options=None, on_token=None) -> ChatResult:
        self.calls += 1
        self.in_flight_seen = value("mentorq_llm_requests_in_flight", provider=self.name)
        for token in self.tokens:
            if on_token is not None:
                on_token(token)
        if self.error is not None:
            raise self.error
        return ChatResult(
            "".join(self.tokens), "m", self.name, prompt_tokens=7, completion_tokens=len(self.tokens)
        )

    def list_models(self) -> list[str]:
        return ["m"]


def test_a_metered_provider_counts_requests_tokens_and_the_first_token() -> None:
    before = {
        "ok": value("mentorq_llm_requests_total", provider="scripted", outcome="ok"),
        "in": value("mentorq_llm_input_tokens_total", provider="scripted"),
        "out": value("mentorq_llm_output_tokens_total", provider="scripted"),
        "first": value("mentorq_llm_time_to_first_token_seconds_count", provider="scripted"),
    }
    inner = ScriptedProvider(["a", "b", "c"])
    provider = MeteredProvider(inner)
    streamed: list[str] = []
    result = provider.chat([{"role": "user", "content": "hi"}], on_token=streamed.append)
    provider.chat([{"role": "user", "content": "hi"}])  # not streamed: no first token to time

    assert result.text == "abc" and streamed == ["a", "b", "c"]  # the caller's callback still gets each
    assert inner.in_flight_seen == 1  # counted while the call waits on the provider
    assert value("mentorq_llm_requests_in_flight", provider="scripted") == 0
    assert value("mentorq_llm_requests_total", provider="scripted", outcome="ok") == before["ok"] + 2
    assert value("mentorq_llm_input_tokens_total", provider="scripted") == before["in"] + 14
    assert value("mentorq_llm_output_tokens_total", provider="scripted") == before["out"] + 6
    assert value("mentorq_llm_time_to_first_token_seconds_count", provider="scripted") == before["first"] + 1
    assert provider.list_models() == ["m"] and provider.inner is inner


def test_a_failed_call_is_counted_by_its_code_and_leaves_no_call_in_flight() -> None:
    before = value("mentorq_llm_requests_total", provider="scripted", outcome="llm_unavailable")
    crashed = value("mentorq_llm_requests_total", provider="scripted", outcome="error")
    with pytest.raises(LLMUnavailable):
        MeteredProvider(ScriptedProvider([], LLMUnavailable("down"))).chat([])
    with pytest.raises(ZeroDivisionError):
        MeteredProvider(ScriptedProvider([], ZeroDivisionError())).chat([])
    assert value("mentorq_llm_requests_total", provider="scripted", outcome="llm_unavailable") == before + 1
    assert value("mentorq_llm_requests_total", provider="scripted", outcome="error") == crashed + 1
    assert value("mentorq_llm_requests_in_flight", provider="scripted") == 0


TOKEN = "a-metrics-token-long-enough-0123"


@pytest.mark.parametrize(
    ("header", "allowed"),
    [
        (f"Bearer {TOKEN}", True),
        (f"bearer {TOKEN}", True),
        (f"Bearer {TOKEN}x", False),
        (f"Basic {TOKEN}", False),
        (TOKEN, False),
        ("Bearer ", False),
        (None, False),
    ],
)
def test_only_the_token_as_a_bearer_may_scrape(header: str | None, allowed: bool) -> None:
    settings = Settings(_env_file=None, MENTORQ_METRICS_TOKEN=TOKEN)
    assert exposition.authorized(settings, header) is allowed


def test_without_a_token_nothing_is_served_and_a_short_token_is_refused() -> None:
    unset = Settings(_env_file=None)
    assert not exposition.served(unset) and not exposition.authorized(unset, "Bearer ")
    assert not exposition.served(Settings(_env_file=None, MENTORQ_METRICS_TOKEN=""))
    with pytest.raises(ValidationError, match="at least 24 characters"):
        Settings(_env_file=None, MENTORQ_METRICS_TOKEN="short-token")
    # A secret: never in a repr, and scrubbed from logs like the other secrets (core/redaction.py).
    settings = Settings(_env_file=None, MENTORQ_METRICS_TOKEN=TOKEN)
    assert TOKEN not in repr(settings) and isinstance(settings.metrics_token, SecretStr)
    from core.redaction import configured_secrets

    assert TOKEN in configured_secrets(settings)


def test_a_service_gets_a_fresh_folder_to_count_in_unless_one_is_named(tmp_path) -> None:
    env: dict[str, str] = {"MENTORQ_STATE_DIR": str(tmp_path / "state")}
    processes.share_across_processes(env)
    again = dict(env)
    del again[processes.VARIABLE]
    processes.share_across_processes(again)
    made = Path(env[processes.VARIABLE])
    assert made != Path(again[processes.VARIABLE]) and made.parent == tmp_path / "state" / "metrics"
    assert made.is_dir() and list(made.iterdir()) == []
    named = {processes.VARIABLE: str(tmp_path)}
    processes.share_across_processes(named)
    assert named[processes.VARIABLE] == str(tmp_path)


def test_only_what_a_transaction_committed_is_counted(on_the_stack) -> None:
    """Through the real unit of work: a job created in a transaction that rolls back is not counted;
    the same created and committed is."""
    from db.jobs import create_job
    from db.unit_of_work import unit_of_work
    from tasks.debug_sleep.spec import SPEC

    before = value("mentorq_jobs_created_total", kind=SPEC.name)
    with pytest.raises(RuntimeError), unit_of_work() as session:
        create_job(session, SPEC, input={"seconds": 0}, owner_id=None)
        raise RuntimeError("rolled back")
    assert value("mentorq_jobs_created_total", kind=SPEC.name) == before
    with unit_of_work() as session:
        create_job(session, SPEC, input={"seconds": 0}, owner_id=None)
    assert value("mentorq_jobs_created_total", kind=SPEC.name) == before + 1


def test_a_threads_pool_is_told_from_a_prefork_one() -> None:
    """worker_ready's sender is the consumer: its pool's class says whether children were forked
    (a threads pool warms its model, starts tracing and serves metrics in its only process)."""
    from celery.concurrency.prefork import TaskPool as PreforkPool
    from celery.concurrency.thread import TaskPool as ThreadPool

    from workers.signals import _pool_forks

    consumer = SimpleNamespace
    assert _pool_forks(consumer(pool=PreforkPool.__new__(PreforkPool)))
    assert not _pool_forks(consumer(pool=ThreadPool.__new__(ThreadPool)))
    assert _pool_forks(consumer())  # unknown: as Celery's default, prefork
