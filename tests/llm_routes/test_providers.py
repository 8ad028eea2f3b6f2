"""The hosted providers through their official clients (openai, anthropic) against fakes that speak
the real wire protocols: plain and streamed answers, JSON schemas, options, errors in the
providers' terms, a missing or wrong key, and the job's deadline."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from core.settings import get_settings
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.fake_llm_server import DEFAULT_KEY
from tests.support.fake_ollama import DEFAULT_REPLY, split_tokens
from tests.support.fake_openai import FakeOpenAI
from workers.deadline import job_deadline
from workers.llm import clear_llm_provider_cache, get_llm_provider
from workers.llm.anthropic_provider import AnthropicProvider
from workers.llm.base import (
    ContextTooLong,
    LLMError,
    LLMNotConfigured,
    LLMUnavailable,
    ModelNotFound,
    TimeLimitReached,
)
from workers.llm.openai_compatible import OpenAICompatibleProvider
from workers.llm.structured import chat_structured, jsonschema_validator

HELLO = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}]
SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 1}},
    "required": ["name", "age"],
}


class Cancelled(Exception):
    """Raised by a token callback, as the job runtime does on a cancel."""


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def anthropic_server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


def dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def openai_provider(server: FakeOpenAI, key: str | None = DEFAULT_KEY, model: str | None = None):
    return OpenAICompatibleProvider(server.base_url, key, model)


def anthropic_provider(server: FakeAnthropic, key: str | None = DEFAULT_KEY):
    return AnthropicProvider(server.url, key, "claude-sonnet-4-6")


# -- openai_compatible ----------------------------------------------------------------------------


def test_openai_chat_returns_text_usage_and_the_servers_first_model(openai_server):
    result = openai_provider(openai_server).chat(HELLO)

    assert result.text == DEFAULT_REPLY and result.provider == "openai_compatible"
    assert result.model == "qwen2.5-7b-instruct"  # no model configured: the server's first listed
    assert result.prompt_tokens > 0 and result.completion_tokens == len(split_tokens(DEFAULT_REPLY))
    path, body, headers = openai_server.bodies[-1]
    assert path == "/v1/chat/completions" and headers["authorization"] == f"Bearer {DEFAULT_KEY}"
    assert body["messages"] == HELLO and body["max_tokens"] == 512 and not body.get("stream")


def test_openai_maps_options_and_streams_deltas_with_usage(openai_server):
    tokens: list[str] = []
    options = {"max_tokens": 4, "temperature": 0.3, "top_p": 0.9, "seed": 7, "stop": ["\n"]}

    result = openai_provider(openai_server, model="llama-3.1-8b-instruct").chat(
        HELLO, options=options, on_token=tokens.append
    )

    assert tokens == split_tokens(DEFAULT_REPLY)[:4] and result.text == "".join(tokens)
    assert result.model == "llama-3.1-8b-instruct" and result.completion_tokens == 4
    body = openai_server.bodies[-1][1]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert {k: body[k] for k in options} == options


def test_openai_json_schema_goes_as_response_format(openai_server):
    result, value = chat_structured(
        openai_provider(openai_server), HELLO, schema=SCHEMA, validate=jsonschema_validator(SCHEMA)
    )

    assert value == {"name": "example", "age": 1} and json.loads(result.text) == value
    format_ = openai_server.bodies[-1][1]["response_format"]
    assert format_["type"] == "json_schema" and format_["json_schema"]["schema"] == SCHEMA


def test_openai_lists_models(openai_server):
    assert openai_provider(openai_server).list_models() == ["qwen2.5-7b-instruct", "llama-3.1-8b-instruct"]


@pytest.mark.parametrize("key", [None, "sk-wrong"])
def test_openai_missing_or_wrong_key_is_not_configured_and_never_quoted(openai_server, key):
    with pytest.raises(LLMNotConfigured) as info:
        openai_provider(openai_server, key=key, model="qwen2.5-7b-instruct").chat(HELLO)

    assert isinstance(info.value, LLMUnavailable) and info.value.code == "llm_unavailable"
    assert "401" in str(info.value) and "sk-wrong" not in str(info.value)


@pytest.mark.parametrize(
    ("status", "type_", "error"),
    [
        (503, "server_error", LLMUnavailable),
        (429, "rate_limit_exceeded", LLMUnavailable),
        (500, "server_error", LLMUnavailable),
        (400, "invalid_request_error", LLMError),
    ],
)
def test_openai_errors_in_the_providers_terms(openai_server, status, type_, error):
    openai_server.fail_with = (status, type_, "something went wrong")
    with pytest.raises(error) as info:
        openai_provider(openai_server, model="qwen2.5-7b-instruct").chat(HELLO)
    assert type(info.value) is error  # a plain 400 is no outage, and an outage is no key problem
    assert str(status) in str(info.value)


def test_openai_unknown_model_and_prompt_too_long(openai_server):
    provider = openai_provider(openai_server)
    with pytest.raises(ModelNotFound):
        provider.chat(HELLO, model="gpt-nonexistent")
    openai_server.context_words = 2
    with pytest.raises(ContextTooLong):
        provider.chat(HELLO)


def test_openai_down_is_unavailable_within_seconds():
    started = time.monotonic()
    with pytest.raises(LLMUnavailable) as info:
        OpenAICompatibleProvider(f"{dead_url()}/v1", DEFAULT_KEY, "m").chat(HELLO)
    assert type(info.value) is LLMUnavailable and time.monotonic() - started < 5


@pytest.mark.parametrize("stream", [False, True])
def test_openai_hung_server_ends_at_the_jobs_deadline(openai_server, stream):
    openai_server.hang_markers.add("HANG")
    started = time.monotonic()
    with job_deadline(1.0), pytest.raises(TimeLimitReached):
        openai_provider(openai_server, model="qwen2.5-7b-instruct").chat(
            [{"role": "user", "content": "HANG"}], on_token=(lambda _: None) if stream else None
        )
    assert time.monotonic() - started < 5


def test_openai_stream_trickling_past_the_deadline_stops_there(openai_server):
    openai_server.token_delay_s = 0.4
    tokens: list[str] = []
    with job_deadline(1.0), pytest.raises(TimeLimitReached):
        openai_provider(openai_server, model="qwen2.5-7b-instruct").chat(HELLO, on_token=tokens.append)
    assert 0 < len(tokens) < len(split_tokens(DEFAULT_REPLY))


def test_openai_cancel_from_the_callback_passes_untouched(openai_server):
    def cancel(_: str) -> None:
        raise Cancelled()

    with pytest.raises(Cancelled):
        openai_provider(openai_server, model="qwen2.5-7b-instruct").chat(HELLO, on_token=cancel)


# -- anthropic ------------------------------------------------------------------------------------


def test_anthropic_chat_puts_the_system_prompt_apart(anthropic_server):
    result = anthropic_provider(anthropic_server).chat(HELLO)

    assert result.text == DEFAULT_REPLY and result.provider == "anthropic"
    assert result.model == "claude-sonnet-4-6" and result.completion_tokens == len(
        split_tokens(DEFAULT_REPLY)
    )
    path, body, headers = anthropic_server.bodies[-1]
    assert path == "/v1/messages" and headers.get("anthropic-version")
    assert body["system"] == "Be brief." and body["messages"] == [{"role": "user", "content": "Say hello."}]
    assert body["max_tokens"] == 512  # required by the API: the default when the job asks none


def test_anthropic_streams_text_deltas_and_usage(anthropic_server):
    tokens: list[str] = []
    options = {"max_tokens": 3, "temperature": 0.2, "top_p": 0.8, "seed": 1, "stop": ["END"]}

    result = anthropic_provider(anthropic_server).chat(HELLO, options=options, on_token=tokens.append)

    assert tokens == split_tokens(DEFAULT_REPLY)[:3] and result.text == "".join(tokens)
    assert result.prompt_tokens > 0 and result.completion_tokens == 3
    body = anthropic_server.bodies[-1][1]
    assert body["stream"] is True and body["max_tokens"] == 3 and body["stop_sequences"] == ["END"]
    assert body["temperature"] == 0.2 and body["top_p"] == 0.8 and "seed" not in body


def test_anthropic_json_schema_is_asked_in_the_system_prompt_and_validated(anthropic_server):
    result, value = chat_structured(
        anthropic_provider(anthropic_server), HELLO, schema=SCHEMA, validate=jsonschema_validator(SCHEMA)
    )

    assert value == {"name": "example", "age": 1}
    body = anthropic_server.bodies[-1][1]
    assert json.dumps(SCHEMA) in body["system"] and "response_format" not in body


def test_anthropic_invalid_json_gets_one_corrective_retry(anthropic_server):
    anthropic_server.script("Say hello", '{"name": "Ada"', '{"name": "Ada", "age": 36}')

    _, value = chat_structured(
        anthropic_provider(anthropic_server), HELLO, schema=SCHEMA, validate=jsonschema_validator(SCHEMA)
    )

    assert value == {"name": "Ada", "age": 36} and anthropic_server.generations() == 2
    retry = anthropic_server.bodies[-1][1]["messages"]
    assert (
        retry[-2] == {"role": "assistant", "content": '{"name": "Ada"'} and "invalid" in retry[-1]["content"]
    )


def test_anthropic_lists_models(anthropic_server):
    assert anthropic_provider(anthropic_server).list_models() == ["claude-sonnet-4-6", "claude-haiku-4-5"]


def test_anthropic_wrong_or_missing_key(anthropic_server):
    with pytest.raises(LLMNotConfigured) as info:
        anthropic_provider(anthropic_server, key="sk-ant-wrong").chat(HELLO)
    assert "401" in str(info.value) and "sk-ant-wrong" not in str(info.value)
    with pytest.raises(LLMNotConfigured):
        anthropic_provider(anthropic_server, key=None).chat(HELLO)
    assert anthropic_server.generations() == 1  # no key: not even asked


def test_anthropic_errors_in_the_providers_terms(anthropic_server):
    provider = anthropic_provider(anthropic_server)
    with pytest.raises(ModelNotFound):
        provider.chat(HELLO, model="claude-nonexistent")
    anthropic_server.fail_with = (529, "overloaded_error", "Overloaded")
    with pytest.raises(LLMUnavailable) as info:
        provider.chat(HELLO, on_token=lambda _: None)
    assert type(info.value) is LLMUnavailable
    anthropic_server.fail_with = None
    anthropic_server.context_words = 2
    with pytest.raises(ContextTooLong):
        provider.chat(HELLO)


def test_anthropic_hung_server_ends_at_the_jobs_deadline(anthropic_server):
    anthropic_server.hang_markers.add("HANG")
    started = time.monotonic()
    with job_deadline(1.0), pytest.raises(TimeLimitReached):
        anthropic_provider(anthropic_server).chat(
            [{"role": "user", "content": "HANG"}], on_token=lambda _: None
        )
    assert time.monotonic() - started < 5


# -- the settings' provider -----------------------------------------------------------------------


@pytest.fixture
def settings_env(monkeypatch):
    monkeypatch.setenv("MENTORQ_ENV", "dev")
    for name in ("OLLAMA_HOST", "MENTORQ_LLM_MODEL", "MENTORQ_OPENAI_MODEL", "MENTORQ_ANTHROPIC_MODEL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    clear_llm_provider_cache()
    yield monkeypatch
    get_settings.cache_clear()
    clear_llm_provider_cache()


def test_the_settings_can_name_a_hosted_provider_as_the_default(
    settings_env, openai_server, anthropic_server
):
    settings_env.setenv("MENTORQ_LLM_PROVIDER", "openai_compatible")
    settings_env.setenv("MENTORQ_OPENAI_BASE_URL", openai_server.base_url)
    settings_env.setenv("MENTORQ_OPENAI_API_KEY", DEFAULT_KEY)
    settings_env.setenv("MENTORQ_OPENAI_MODEL", "llama-3.1-8b-instruct")
    get_settings.cache_clear()
    assert get_llm_provider().chat(HELLO).model == "llama-3.1-8b-instruct"
    assert DEFAULT_KEY not in repr(get_settings())  # a SecretStr

    settings_env.setenv("MENTORQ_LLM_PROVIDER", "anthropic")
    settings_env.setenv("MENTORQ_ANTHROPIC_BASE_URL", anthropic_server.url)
    settings_env.setenv("MENTORQ_ANTHROPIC_API_KEY", DEFAULT_KEY)
    get_settings.cache_clear()
    result = get_llm_provider().chat(HELLO)
    assert result.provider == "anthropic" and result.model == "claude-sonnet-4-6"
