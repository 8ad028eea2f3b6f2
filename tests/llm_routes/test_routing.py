"""The routed provider in-process, against the fakes: which target answers, when it falls back (on
llm_unavailable only, never once a token was streamed), the limits, what it notes on the job, and
the answer cache's key following the route. The same on real jobs: test_routed_jobs.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from core.settings import Settings
from db.llm_routes import RouteConfig, Target, answer_identity
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.fake_llm_server import DEFAULT_KEY
from tests.support.fake_ollama import DEFAULT_REPLY, INVALID_JSON, FakeOllama, split_tokens
from tests.support.fake_openai import FakeOpenAI
from tests.support.stack import free_port
from workers.current_job import RunningJob
from workers.llm.base import LLMInvalidOutput, LLMNotConfigured, LLMUnavailable, ModelNotFound
from workers.llm.providers import clear_built_providers, provider_named
from workers.llm.routing import RoutedProvider
from workers.llm.structured import chat_structured, jsonschema_validator

HELLO = [{"role": "user", "content": "Say hello."}]
SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
OPENAI = Target("openai_compatible", "qwen2.5-7b-instruct")
OLLAMA = Target("ollama")
ANTHROPIC = Target("anthropic")


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[FakeOpenAI, FakeAnthropic, FakeOllama]]:
    with (
        FakeOpenAI(port=free_port()) as openai_server,
        FakeAnthropic() as anthropic_server,
        FakeOllama() as ollama,
    ):
        yield openai_server, anthropic_server, ollama


@pytest.fixture
def fakes(servers) -> Iterator[tuple[FakeOpenAI, FakeAnthropic, FakeOllama]]:
    openai_server, anthropic_server, ollama = servers
    openai_server.reset()
    anthropic_server.reset()
    ollama.requests.clear()
    ollama.bodies.clear()
    clear_built_providers()
    yield servers
    clear_built_providers()


def settings_for(
    openai_server: FakeOpenAI, ollama: FakeOllama, *, anthropic: FakeAnthropic | None = None
) -> Settings:
    values = {
        "MENTORQ_ENV": "dev",
        "OLLAMA_HOST": ollama.url,
        "MENTORQ_LLM_PROVIDER": "ollama",
        "MENTORQ_OPENAI_BASE_URL": openai_server.base_url,
        "MENTORQ_OPENAI_API_KEY": DEFAULT_KEY,
    }
    if anthropic is not None:
        values |= {"MENTORQ_ANTHROPIC_BASE_URL": anthropic.url, "MENTORQ_ANTHROPIC_API_KEY": DEFAULT_KEY}
    else:
        values |= {"MENTORQ_ANTHROPIC_API_KEY": ""}
    return Settings(**values)


class Job:
    """A running job as the routing sees it, with its recorded events."""

    def __init__(self, kind: str = "chat") -> None:
        self.events: list[tuple[str, dict]] = []
        self.running = RunningJob(uuid.uuid4(), kind, lambda type_, data: self.events.append((type_, data)))


def routed(job: Job, route: RouteConfig | None, settings: Settings) -> RoutedProvider:
    return RoutedProvider(job.running, route, lambda: provider_named("ollama", settings), settings)


def ollama_saw(ollama: FakeOllama, marker: str) -> bool:
    return any(marker in str(body.get("messages")) for _, body in ollama.bodies)


def test_the_primary_answers_and_is_noted_on_the_job(fakes):
    openai_server, _, ollama = fakes
    job = Job()

    result = routed(job, RouteConfig("chat", OPENAI, (OLLAMA,)), settings_for(openai_server, ollama)).chat(
        HELLO
    )

    assert result.provider == "openai_compatible" and result.text == DEFAULT_REPLY
    assert job.running.answered_by == ("openai_compatible", "qwen2.5-7b-instruct")
    assert job.events == [] and ollama.requests["/api/chat"] == 0


def test_without_a_route_the_settings_provider_answers_and_is_noted(fakes):
    openai_server, _, ollama = fakes
    job = Job()

    result = routed(job, None, settings_for(openai_server, ollama)).chat(HELLO)

    assert result.provider == "ollama" and job.running.answered_by == ("ollama", "llama3.2:1b")
    assert openai_server.generations() == 0


def test_limits_cap_max_tokens_and_replace_temperature(fakes):
    openai_server, _, ollama = fakes
    route = RouteConfig("chat", OPENAI, max_tokens=3, temperature=0.1)
    provider = routed(Job(), route, settings_for(openai_server, ollama))

    provider.chat(HELLO, options={"max_tokens": 100, "temperature": 1.5})
    assert {k: openai_server.bodies[-1][1][k] for k in ("max_tokens", "temperature")} == {
        "max_tokens": 3,
        "temperature": 0.1,
    }
    provider.chat(HELLO)  # nothing asked: the default (512) capped
    assert openai_server.bodies[-1][1]["max_tokens"] == 3
    provider.chat(HELLO, options={"max_tokens": 2})  # under the cap: kept
    assert openai_server.bodies[-1][1]["max_tokens"] == 2


def test_a_model_the_job_asks_for_applies_to_a_primary_without_one(fakes):
    openai_server, _, ollama = fakes
    route = RouteConfig("chat", Target("openai_compatible"), (OLLAMA,))

    result = routed(Job(), route, settings_for(openai_server, ollama)).chat(
        HELLO, model="llama-3.1-8b-instruct"
    )

    assert result.model == "llama-3.1-8b-instruct"


def test_an_unavailable_primary_falls_back_in_order_with_an_event_each(fakes):
    openai_server, _, ollama = fakes
    openai_server.fail_with = (503, "server_error", "overloaded")
    job = Job()
    route = RouteConfig("chat", OPENAI, (ANTHROPIC, OLLAMA))  # anthropic has no key here

    tokens: list[str] = []
    result = routed(job, route, settings_for(openai_server, ollama)).chat(HELLO, on_token=tokens.append)

    assert result.provider == "ollama" and "".join(tokens) == DEFAULT_REPLY  # streamed once, from ollama
    assert job.running.answered_by == ("ollama", "llama3.2:1b")
    assert [(t, d["from"]["provider"], d["to"]["provider"], d["reason"]) for t, d in job.events] == [
        ("llm_fallback", "openai_compatible", "anthropic", "unavailable"),
        ("llm_fallback", "anthropic", "ollama", "not_configured"),
    ]
    assert "503" in job.events[0][1]["message"]


def test_no_fallback_on_a_bad_answer(fakes):
    openai_server, _, ollama = fakes
    openai_server.script("BADJSON", INVALID_JSON)
    job = Job()
    provider = routed(job, RouteConfig("chat", OPENAI, (OLLAMA,)), settings_for(openai_server, ollama))

    with pytest.raises(LLMInvalidOutput):
        chat_structured(
            provider,
            [{"role": "user", "content": "BADJSON"}],
            schema=SCHEMA,
            validate=jsonschema_validator(SCHEMA),
        )

    assert openai_server.generations() == 2  # the answer and its one corrective retry
    assert ollama.requests["/api/chat"] == 0 and job.events == []


def test_no_fallback_on_a_missing_model(fakes):
    openai_server, _, ollama = fakes
    route = RouteConfig("chat", Target("openai_compatible", "no-such-model"), (OLLAMA,))

    with pytest.raises(ModelNotFound):
        routed(Job(), route, settings_for(openai_server, ollama)).chat(HELLO)
    assert ollama.requests["/api/chat"] == 0


def test_no_fallback_once_a_token_was_streamed(fakes):
    openai_server, _, ollama = fakes
    openai_server.drop_after_tokens = 2  # the connection breaks off mid-answer
    job = Job()
    tokens: list[str] = []

    with pytest.raises(LLMUnavailable):
        routed(job, RouteConfig("chat", OPENAI, (OLLAMA,)), settings_for(openai_server, ollama)).chat(
            HELLO, on_token=tokens.append
        )

    assert tokens == split_tokens(DEFAULT_REPLY)[:2]  # never the start of the answer again
    assert ollama.requests["/api/chat"] == 0 and job.events == [] and job.running.answered_by is None


def test_a_refused_key_falls_back_and_with_nothing_left_is_not_configured(fakes):
    openai_server, anthropic_server, ollama = fakes
    settings = settings_for(openai_server, ollama, anthropic=anthropic_server)
    openai_server.api_key = "rotated-key"  # the configured key is no longer accepted
    try:
        job = Job()
        result = routed(job, RouteConfig("chat", OPENAI, (OLLAMA,)), settings).chat(HELLO)
        assert result.provider == "ollama" and job.events[0][1]["reason"] == "not_configured"

        anthropic_server.api_key = "rotated-too"
        with pytest.raises(LLMNotConfigured) as info:
            routed(Job(), RouteConfig("chat", OPENAI, (ANTHROPIC,)), settings).chat(HELLO)
        assert info.value.code == "llm_unavailable" and "401" in str(info.value)
        assert DEFAULT_KEY not in str(info.value)
    finally:
        openai_server.api_key = anthropic_server.api_key = DEFAULT_KEY


def test_an_outage_among_the_failures_is_an_outage_not_configuration(fakes):
    openai_server, _, ollama = fakes
    openai_server.fail_with = (502, "server_error", "bad gateway")

    with pytest.raises(LLMUnavailable) as info:
        routed(Job(), RouteConfig("chat", OPENAI, (ANTHROPIC,)), settings_for(openai_server, ollama)).chat(
            HELLO
        )

    assert type(info.value) is LLMUnavailable  # retried with backoff: the outage may end


def test_the_answer_cache_key_follows_the_route(fakes):
    openai_server, _, ollama = fakes
    settings = settings_for(openai_server, ollama)
    route = RouteConfig("ask", OPENAI, (OLLAMA,))

    assert answer_identity(None, settings) == settings.llm_identity
    keys = {
        answer_identity(None, settings),
        answer_identity(route, settings),
        answer_identity(RouteConfig("ask", OPENAI), settings),
        answer_identity(RouteConfig("ask", OPENAI, (OLLAMA,), max_tokens=64), settings),
        answer_identity(
            RouteConfig("ask", Target("openai_compatible", "llama-3.1-8b-instruct"), (OLLAMA,)), settings
        ),
    }
    assert len(keys) == 5
    assert answer_identity(RouteConfig("ask", OPENAI, (OLLAMA,)), settings) == answer_identity(
        route, settings
    )
    assert DEFAULT_KEY not in "".join(keys)
