"""Fixtures of the LLM routing tests: a fake OpenAI-compatible server, and (for the tests on the
session stack) workers and an API whose settings point at it.

Workers and the API read their settings once, at start: the session's worker knows only the fake
Ollama, so the routed-job tests swap it for workers started with this environment, the way
tests/test_llm_lane.py swaps in its lanes. Anthropic is left without a key on purpose: the stack's
"missing key" case (its provider is tested with a key in test_providers.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_llm_server import DEFAULT_KEY
from tests.support.fake_openai import FakeOpenAI
from tests.support.stack import Stack, free_port

OPENAI_MODEL = "qwen2.5-7b-instruct"
LLM_THREADS = 4


@pytest.fixture(scope="package")
def openai_server() -> Iterator[FakeOpenAI]:
    """A fake OpenAI-compatible server on a fixed port (it can be stopped and restarted)."""
    server = FakeOpenAI(port=free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def fresh_openai(openai_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    openai_server.reset()
    openai_server.api_key = DEFAULT_KEY
    yield openai_server
    openai_server.reset()
    openai_server.api_key = DEFAULT_KEY


@pytest.fixture(scope="package")
def routing_env(openai_server: FakeOpenAI) -> dict[str, str]:
    return {
        "MENTORQ_OPENAI_BASE_URL": openai_server.base_url,
        "MENTORQ_OPENAI_API_KEY": DEFAULT_KEY,
        "MENTORQ_OPENAI_MODEL": OPENAI_MODEL,
        "MENTORQ_ANTHROPIC_API_KEY": "",
        # A route edit applies to the next job at once (production: within 5 s).
        "MENTORQ_LLM_ROUTE_CACHE_SECONDS": "0",
    }


@pytest.fixture(scope="package")
def routing_api(stack: Stack, routing_env: dict[str, str]) -> Iterator[str]:
    """An API process with the routing settings (GET /v1/models probes the fake): its URL."""
    with stack.extra_api(**routing_env) as url:
        yield url


@pytest.fixture(scope="package")
def routing_workers(stack: Stack, routing_env: dict[str, str]) -> Iterator[Stack]:
    """The session's all-queue worker swapped for an `llm` lane worker (threads, as in production)
    and one for the other lanes, both with the routing settings."""
    stack.stop("worker")
    try:
        stack.start_worker(
            "routing-llm", queues="llm", concurrency=LLM_THREADS, pool="threads", extra_env=routing_env
        )
        stack.start_worker("routing-rest", queues="embed,query,cpu,maintenance", concurrency=1)
        yield stack
    finally:
        stack.stop("routing-llm")
        stack.stop("routing-rest")
        stack.start_worker()


@pytest.fixture
def no_routes(stack: Stack) -> Iterator[None]:
    """Every test starts and ends with the default routing (other tests share the database)."""
    stack.sql("DELETE FROM llm_routes")
    yield
    stack.sql("DELETE FROM llm_routes")
