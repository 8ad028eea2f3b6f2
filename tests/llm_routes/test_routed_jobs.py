"""Real jobs on the session stack, routed by the table: the routed provider answers and is recorded
on the job; an unavailable provider falls back (with an event) and a bad answer does not; a missing
or refused key falls back, or fails `llm_unavailable` at once without retries; a hung provider ends
at the job's time limit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import ApiClient, make_admin, register
from tests.llm_routes.conftest import OPENAI_MODEL
from tests.support.fake_ollama import DEFAULT_REPLY, INVALID_JSON, FakeOllama, split_tokens
from tests.support.fake_openai import FakeOpenAI
from tests.support.stack import Stack, wait_until

ROUTES = "/v1/admin/llm-routes"
FINISHED = {"succeeded", "failed", "canceled"}
SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


@pytest.fixture
def admin(routing_workers: Stack, no_routes: None) -> Iterator[ApiClient]:
    with register(routing_workers.api_url) as client:
        yield make_admin(routing_workers, client)


@pytest.fixture
def user(routing_workers: Stack) -> Iterator[ApiClient]:
    with register(routing_workers.api_url) as client:
        yield client


def route(admin: ApiClient, kind: str, **body: object) -> None:
    response = admin.put(f"{ROUTES}/{kind}", json=body)
    assert response.status_code == 200, response.text


def run(client: ApiClient, kind: str, input: dict, *, timeout: float = 30) -> dict:
    """Submit a job and wait for its end (the timeout is far under the 30 min an outage may last)."""
    response = client.post("/v1/jobs", json={"kind": kind, "input": input})
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    wait_until(
        lambda: client.get(f"/v1/jobs/{job_id}").json()["status"] in FINISHED,
        timeout=timeout,
        interval=0.2,
        message=f"{kind} job {job_id} to end",
    )
    return client.get(f"/v1/jobs/{job_id}").json()


def events(stack: Stack, job_id: str, type_: str) -> list[dict]:
    rows = stack.sql("SELECT data FROM job_events WHERE job_id = %s AND type = %s ORDER BY id", job_id, type_)
    return [row[0] for row in rows]


def ollama_saw(fake_ollama: FakeOllama, marker: str) -> bool:
    return any(marker in str(body.get("messages")) for _, body in fake_ollama.bodies)


def test_a_routed_job_is_answered_by_the_route_and_records_it(
    admin: ApiClient, user: ApiClient, fresh_openai: FakeOpenAI, routing_workers: Stack
) -> None:
    route(admin, "chat", provider="openai_compatible", max_tokens=3, temperature=0.1)

    job = run(user, "chat", {"prompt": "routed please", "options": {"max_tokens": 50, "temperature": 1.0}})

    assert job["status"] == "succeeded", job["error"]
    assert job["llm"] == {"provider": "openai_compatible", "model": OPENAI_MODEL}
    assert job["output"]["provider"] == "openai_compatible"
    assert job["output"]["text"] == "".join(split_tokens(DEFAULT_REPLY)[:3])  # the route's cap
    body = fresh_openai.bodies[-1][1]
    assert body["max_tokens"] == 3 and body["temperature"] == 0.1 and body["stream"] is True
    assert routing_workers.sql("SELECT llm_provider, llm_model FROM jobs WHERE id = %s", job["id"]) == [
        ("openai_compatible", OPENAI_MODEL)
    ]


def test_without_a_route_the_settings_provider_answers_and_is_recorded(
    admin: ApiClient, user: ApiClient, fresh_openai: FakeOpenAI
) -> None:
    job = run(user, "chat", {"prompt": "default route"})
    assert job["status"] == "succeeded" and job["llm"] == {"provider": "ollama", "model": "llama3.2:1b"}
    assert fresh_openai.generations() == 0

    no_llm = run(user, "debug.sleep", {"seconds": 0})
    assert no_llm["status"] == "succeeded" and no_llm["llm"] is None


def test_an_unavailable_provider_falls_back_to_the_next_and_says_so(
    admin: ApiClient, user: ApiClient, fresh_openai: FakeOpenAI, routing_workers: Stack
) -> None:
    route(admin, "chat", provider="openai_compatible", fallbacks=[{"provider": "ollama"}])
    fresh_openai.stop()
    try:
        job = run(user, "chat", {"prompt": "primary is down"})
    finally:
        fresh_openai.restart()

    assert job["status"] == "succeeded", job["error"]
    assert (
        job["llm"] == {"provider": "ollama", "model": "llama3.2:1b"}
        and job["output"]["text"] == DEFAULT_REPLY
    )
    (fallback,) = events(routing_workers, job["id"], "llm_fallback")
    assert fallback["from"] == {"provider": "openai_compatible", "model": None}
    assert fallback["to"] == {"provider": "ollama", "model": None} and fallback["reason"] == "unavailable"
    assert job["attempts"] == 1 and events(routing_workers, job["id"], "retried") == []


def test_a_bad_answer_fails_the_job_without_trying_the_fallback(
    admin: ApiClient,
    user: ApiClient,
    fresh_openai: FakeOpenAI,
    fake_ollama: FakeOllama,
    routing_workers: Stack,
) -> None:
    route(admin, "chat", provider="openai_compatible", fallbacks=[{"provider": "ollama"}])
    fresh_openai.script("BADJSON-7", INVALID_JSON)

    job = run(user, "chat", {"prompt": "BADJSON-7", "format": SCHEMA})

    assert job["status"] == "failed" and job["error"]["code"] == "llm_invalid_output"
    assert job["error"]["details"]["raw_text"] == INVALID_JSON
    assert job["llm"] == {"provider": "openai_compatible", "model": OPENAI_MODEL}  # it did answer
    assert fresh_openai.generations() == 2  # the answer and its one corrective retry
    assert not ollama_saw(fake_ollama, "BADJSON-7")
    assert events(routing_workers, job["id"], "llm_fallback") == []


def test_a_missing_key_falls_back_or_fails_at_once_without_retries(
    admin: ApiClient, user: ApiClient, routing_workers: Stack
) -> None:
    # Anthropic has no key in these workers' settings.
    route(admin, "chat", provider="anthropic", fallbacks=[{"provider": "ollama"}])
    job = run(user, "chat", {"prompt": "no anthropic key"})
    assert job["status"] == "succeeded" and job["llm"]["provider"] == "ollama"
    (fallback,) = events(routing_workers, job["id"], "llm_fallback")
    assert fallback["reason"] == "not_configured" and "MENTORQ_ANTHROPIC_API_KEY" in fallback["message"]

    route(admin, "chat", provider="anthropic")
    failed = run(user, "chat", {"prompt": "no anthropic key, no fallback"})
    assert failed["status"] == "failed" and failed["error"]["code"] == "llm_unavailable"
    assert "anthropic" in failed["error"]["message"] and failed["llm"] is None
    assert failed["attempts"] == 1 and events(routing_workers, failed["id"], "retried") == []


def test_a_refused_key_falls_back_or_fails_at_once_without_retries(
    admin: ApiClient,
    user: ApiClient,
    fresh_openai: FakeOpenAI,
    fake_ollama: FakeOllama,
    routing_workers: Stack,
) -> None:
    fresh_openai.api_key = "rotated-key"  # the workers' key is refused (401)

    route(admin, "chat", provider="openai_compatible", fallbacks=[{"provider": "ollama"}])
    job = run(user, "chat", {"prompt": "key refused, fallback"})
    assert job["status"] == "succeeded" and job["llm"]["provider"] == "ollama"
    (fallback,) = events(routing_workers, job["id"], "llm_fallback")
    assert fallback["reason"] == "not_configured" and "401" in fallback["message"]

    route(admin, "chat", provider="openai_compatible")
    failed = run(user, "chat", {"prompt": "REFUSED-NO-FALLBACK"})
    assert failed["status"] == "failed" and failed["error"]["code"] == "llm_unavailable"
    assert "refused the key (401)" in failed["error"]["message"]
    assert failed["attempts"] == 1 and events(routing_workers, failed["id"], "retried") == []
    assert not ollama_saw(fake_ollama, "REFUSED-NO-FALLBACK")


@pytest.mark.parametrize("stream", [False, True])
def test_a_hung_provider_ends_at_the_jobs_time_limit(
    admin: ApiClient, user: ApiClient, fresh_openai: FakeOpenAI, fake_ollama: FakeOllama, stream: bool
) -> None:
    fresh_openai.hang_markers.add("HANG")
    fresh_openai.hang_s = 120  # far past the test: only the job's time limit (3 s) can end the call
    route(admin, "debug.llm", provider="openai_compatible", fallbacks=[{"provider": "ollama"}])

    job = run(user, "debug.llm", {"prompt": "HANG here", "stream": stream})

    assert job["status"] == "failed" and job["error"]["code"] == "timeout", job["error"]
    assert "time limit" in job["error"]["message"] and "OpenAI-compatible" in job["error"]["message"]
    assert fresh_openai.hung == 1
    assert not ollama_saw(fake_ollama, "HANG here")  # a timeout is no outage: no fallback
