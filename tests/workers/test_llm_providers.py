"""LLM providers: Ollama through the real client against the fake server, the real local
model, structured output with its retry, `auto` selection and the model catalog."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from core import catalog
from core.settings import get_settings
from tests.support.fake_ollama import DEFAULT_REPLY, INVALID_JSON, FakeOllama, split_tokens
from workers.llm import (
    ChatResult,
    LLMInvalidOutput,
    LLMUnavailable,
    ModelNotFound,
    clear_llm_provider_cache,
    get_llm_provider,
    local,
)
from workers.llm.base import ContextTooLong
from workers.llm.local import LocalProvider
from workers.llm.ollama import OllamaProvider
from workers.llm.structured import InvalidSchema, chat_structured, jsonschema_validator

REPO = Path(__file__).resolve().parents[2]
PERSON_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "age": {"type": "integer", "minimum": 1},
        "skills": {"type": "array", "items": {"type": "string"}},
        "active": {"type": "boolean"},
    },
    "required": ["name", "age", "skills", "active"],
    "additionalProperties": False,
}
HELLO = [{"role": "user", "content": "Say hello."}]


class Cancelled(Exception):
    """Raised by a token callback to stop a generation, as the job runtime does."""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """Dev settings with no Ollama configured, and no provider left over from another test."""
    monkeypatch.setenv("MENTORQ_ENV", "dev")
    for name in ("OLLAMA_HOST", "MENTORQ_LLM_PROVIDER", "MENTORQ_LLM_MODEL", "MENTORQ_EMBED_MODEL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    clear_llm_provider_cache()
    yield
    get_settings.cache_clear()
    clear_llm_provider_cache()


@pytest.fixture
def fake():
    with FakeOllama() as server:
        yield server


def dead_url() -> str:
    """A loopback URL nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# -- Ollama -----------------------------------------------------------------------------------


def test_ollama_chat_returns_text_and_usage(fake):
    result = OllamaProvider(fake.url).chat(HELLO)

    assert result == ChatResult(
        text=DEFAULT_REPLY,
        model="llama3.2:1b",
        provider="ollama",
        prompt_tokens=2,
        completion_tokens=len(split_tokens(DEFAULT_REPLY)),
    )
    path, body = fake.bodies[-1]
    assert path == "/api/chat" and body["stream"] is False
    # The default cap, and the deployment's seed (MENTORQ_LLM_SEED, 0 unless set): same prompt, same answer.
    assert body["options"] == {"num_predict": 512, "seed": 0}


def test_the_deployments_seed_goes_with_every_generation_unless_the_job_names_one(fake, monkeypatch):
    monkeypatch.setenv("MENTORQ_LLM_SEED", "42")
    get_settings.cache_clear()
    try:
        OllamaProvider(fake.url).chat(HELLO)
        assert fake.bodies[-1][1]["options"]["seed"] == 42
        OllamaProvider(fake.url).chat(HELLO, options={"seed": 7})
        assert fake.bodies[-1][1]["options"]["seed"] == 7
        monkeypatch.setenv("MENTORQ_LLM_SEED", "-1")  # a random seed each time: none is sent
        get_settings.cache_clear()
        OllamaProvider(fake.url).chat(HELLO)
        assert "seed" not in fake.bodies[-1][1]["options"]
    finally:
        get_settings.cache_clear()


def test_ollama_maps_options_to_its_names(fake):
    OllamaProvider(fake.url).chat(
        HELLO, options={"max_tokens": 3, "temperature": 0.1, "top_p": 0.5, "seed": 7, "stop": ["\n"]}
    )

    assert fake.bodies[-1][1]["options"] == {
        "num_predict": 3,
        "temperature": 0.1,
        "top_p": 0.5,
        "seed": 7,
        "stop": ["\n"],
    }


def test_ollama_streams_token_deltas(fake):
    tokens: list[str] = []

    result = OllamaProvider(fake.url).chat(HELLO, on_token=tokens.append)

    assert tokens == split_tokens(DEFAULT_REPLY) and len(tokens) > 3
    assert result.text == DEFAULT_REPLY
    assert result.completion_tokens == len(tokens) and result.prompt_tokens > 0
    assert fake.bodies[-1][1]["stream"] is True


def test_ollama_sends_the_schema_as_format(fake):
    result = OllamaProvider(fake.url).chat(HELLO, json_schema=PERSON_SCHEMA, on_token=lambda t: None)

    assert fake.bodies[-1][1]["format"] == PERSON_SCHEMA
    jsonschema_validator(PERSON_SCHEMA)(json.loads(result.text))


@pytest.mark.parametrize("stream", [False, True])
def test_ollama_unknown_model_is_model_not_found(fake, stream):
    on_token = (lambda t: None) if stream else None
    with pytest.raises(ModelNotFound, match="nope"):
        OllamaProvider(fake.url).chat(HELLO, model="nope", on_token=on_token)


@pytest.mark.parametrize("stream", [False, True])
def test_ollama_down_is_unavailable(stream):
    provider = OllamaProvider(dead_url())
    with pytest.raises(LLMUnavailable) as info:
        provider.chat(HELLO, on_token=(lambda t: None) if stream else None)
    assert info.value.code == "llm_unavailable"
    with pytest.raises(LLMUnavailable):
        provider.list_models()


# ConnectionError too: the callback's own errors must not be mistaken for Ollama's.
@pytest.mark.parametrize("error", [Cancelled, ConnectionError])
def test_ollama_callback_error_stops_the_stream_promptly(error):
    reply = " ".join(f"word{i}" for i in range(100))
    with FakeOllama(reply=reply, token_delay_s=0.05) as server:
        seen: list[str] = []

        def on_token(delta: str) -> None:
            seen.append(delta)
            if len(seen) == 2:
                raise error

        started = time.monotonic()
        with pytest.raises(error) as info:
            OllamaProvider(server.url).chat(HELLO, on_token=on_token)
        # 100 tokens at 50 ms would take 5 s; stopping after two must not wait for the rest.
        assert time.monotonic() - started < 1.5
        assert type(info.value) is error
        assert len(seen) == 2


def test_ollama_lists_models(fake):
    assert OllamaProvider(fake.url).list_models() == ["llama3.2:1b", "nomic-embed-text:latest"]


def test_fake_ollama_runs_as_a_subprocess():
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_ollama", "--port", "0", "--models", "m1"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("READY http://127.0.0.1:")
        url = line.split()[1]
        assert httpx.get(f"{url}/api/version", timeout=5).json()["version"]
        assert OllamaProvider(url, "m1").chat(HELLO).text == DEFAULT_REPLY
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# -- Structured output ------------------------------------------------------------------------


def test_structured_retries_once_after_invalid_json():
    with FakeOllama(invalid_json_times=1) as server:
        result, value = chat_structured(
            OllamaProvider(server.url),
            HELLO,
            schema=PERSON_SCHEMA,
            validate=jsonschema_validator(PERSON_SCHEMA),
        )
        retry = server.bodies[-1][1]["messages"]

    assert value == {"name": "example", "age": 1, "skills": ["example"], "active": True}
    assert server.requests["/api/chat"] == 2
    # The retry shows the model its bad answer and what was wrong with it.
    assert retry[-2] == {"role": "assistant", "content": INVALID_JSON}
    assert retry[-1]["role"] == "user" and "not valid JSON" in retry[-1]["content"]
    assert result.completion_tokens == len(split_tokens(INVALID_JSON)) + len(split_tokens(result.text))


def test_a_correction_too_long_for_the_context_fails_as_the_invalid_answer_it_corrects():
    """The embedded model's context is 2,048 tokens: a long bad answer quoted back with the schema
    may not fit. The job fails `llm_invalid_output` with that answer kept, not `context_too_long`."""

    class SmallContext:
        name = "local"
        calls = 0

        def chat(self, messages, **_):
            self.calls += 1
            if self.calls == 2:
                raise ContextTooLong("2040 prompt tokens leave 8 of 2048 for the answer")
            return ChatResult('{"name": "Ada", "age": "old"', "m", "local", 1, 1)

    with pytest.raises(
        LLMInvalidOutput, match="does not fit the context: the answer is not valid JSON"
    ) as info:
        chat_structured(
            SmallContext(), HELLO, schema=PERSON_SCHEMA, validate=jsonschema_validator(PERSON_SCHEMA)
        )
    assert info.value.raw_text == '{"name": "Ada", "age": "old"'


def test_structured_gives_up_after_the_second_invalid_answer():
    with FakeOllama(invalid_json_times=2) as server:
        with pytest.raises(LLMInvalidOutput) as info:
            chat_structured(
                OllamaProvider(server.url),
                HELLO,
                schema=PERSON_SCHEMA,
                validate=jsonschema_validator(PERSON_SCHEMA),
            )
    assert info.value.code == "llm_invalid_output"
    assert info.value.raw_text == INVALID_JSON
    assert server.requests["/api/chat"] == 2


def test_structured_quotes_the_validators_error(fake):
    def validate(data):
        raise ValueError("age must be at least 18")

    with pytest.raises(LLMInvalidOutput, match="at least 18") as info:
        chat_structured(OllamaProvider(fake.url), HELLO, schema=PERSON_SCHEMA, validate=validate)
    assert "age must be at least 18" in fake.bodies[-1][1]["messages"][-1]["content"]
    assert json.loads(info.value.raw_text)["name"] == "example"


def test_jsonschema_validator_checks_data_and_the_schema_itself():
    validate = jsonschema_validator(PERSON_SCHEMA)
    good = {"name": "Ada", "age": 36, "skills": [], "active": True}
    assert validate(good) == good
    with pytest.raises(Exception, match="'age' is a required property"):
        validate({"name": "Ada", "skills": [], "active": True})

    with pytest.raises(InvalidSchema) as info:
        jsonschema_validator({"type": "no-such-type"})
    assert info.value.code == "invalid_schema" and isinstance(info.value, ValueError)


# -- auto selection ---------------------------------------------------------------------------


def test_auto_picks_ollama_when_it_answers(fake, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", fake.url)
    get_settings.cache_clear()

    provider = get_llm_provider()

    assert isinstance(provider.inner, OllamaProvider)
    assert get_llm_provider() is provider  # once per process
    assert fake.requests["/api/version"] == 1


def test_auto_falls_back_to_local(monkeypatch):
    assert isinstance(get_llm_provider().inner, LocalProvider)  # no OLLAMA_HOST

    clear_llm_provider_cache()
    monkeypatch.setenv("OLLAMA_HOST", dead_url())
    get_settings.cache_clear()
    started = time.monotonic()
    assert isinstance(get_llm_provider().inner, LocalProvider)
    assert time.monotonic() - started < 2


def test_explicit_provider_wins_over_auto(fake, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", fake.url)
    monkeypatch.setenv("MENTORQ_LLM_PROVIDER", "local")
    get_settings.cache_clear()

    assert isinstance(get_llm_provider().inner, LocalProvider)


# -- local llama.cpp model (real, small) -------------------------------------------------------


@pytest.mark.slow
def test_local_chat_streams_and_counts_tokens():
    provider = LocalProvider()
    options = {"max_tokens": 16, "temperature": 0.0, "seed": 1}

    plain = provider.chat(HELLO, options=options)
    tokens: list[str] = []
    streamed = provider.chat(HELLO, options=options, on_token=tokens.append)

    assert plain.text and plain.provider == "local" and plain.model == "SmolLM2-135M-Instruct"
    assert 0 < plain.completion_tokens <= 20
    assert tokens and "".join(tokens) == streamed.text
    # The streamed count renders the prompt with the model's template, like llama.cpp does.
    assert streamed.prompt_tokens == plain.prompt_tokens > 0
    assert 0 < streamed.completion_tokens <= 20


@pytest.mark.slow
def test_local_sampling_is_seeded_so_the_same_prompt_gets_the_same_answer():
    """Sampling at a temperature well above 0 (where each token is drawn at random), twice with the
    deployment's seed: the same text, so a refused answer or a failed demo can be reproduced. A job's
    own seed draws differently."""
    provider = LocalProvider()
    options = {"max_tokens": 24, "temperature": 1.5}
    first, second = (provider.chat(HELLO, options=options).text for _ in range(2))
    others = {provider.chat(HELLO, options=options | {"seed": seed}).text for seed in (1, 2, 3)}

    assert first == second
    assert len(others | {first}) > 1


@pytest.mark.slow
def test_local_json_schema_output_validates():
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    messages = [{"role": "user", "content": "Describe a person as JSON with a name and an age."}]

    result, value = chat_structured(
        LocalProvider(),
        messages,
        schema=schema,
        validate=jsonschema_validator(schema),
        options={"max_tokens": 64, "temperature": 0.0},
    )

    assert set(value) >= {"name", "age"} and isinstance(value["age"], int)


@pytest.mark.slow
def test_local_callback_error_stops_generation():
    provider = LocalProvider()
    seen: list[str] = []

    def on_token(delta: str) -> None:
        seen.append(delta)
        if len(seen) == 3:
            raise Cancelled

    with pytest.raises(Cancelled):
        provider.chat(
            [{"role": "user", "content": "Count from 1 to 100."}],
            options={"max_tokens": 200},
            on_token=on_token,
        )
    assert len(seen) == 3
    # The lock was released and the model still works.
    assert provider.chat(HELLO, options={"max_tokens": 4}).completion_tokens > 0


@pytest.mark.slow
def test_local_prompt_over_the_context_window_is_context_too_long():
    long_prompt = [{"role": "user", "content": "recall " * 3000}]
    with pytest.raises(ContextTooLong):
        LocalProvider().chat(long_prompt, options={"max_tokens": 4})
    with pytest.raises(ContextTooLong):
        LocalProvider().chat(long_prompt, options={"max_tokens": 4}, on_token=lambda delta: None)


@pytest.mark.slow
def test_local_answer_ceiling_is_lowered_to_the_room_the_prompt_leaves():
    # llama.cpp refuses prompt + max_tokens over the context; a prompt that fits must still be answered.
    messages = [{"role": "user", "content": "recall " * 1900}]
    room = local.N_CTX - local._prompt_tokens(local.load_llama(), messages)
    assert local.MIN_ANSWER_TOKENS <= room < 1024  # the prompt fits, the asked ceiling would not
    result = LocalProvider().chat(messages, options={"max_tokens": 1024})
    assert result.prompt_tokens == local.N_CTX - room and result.completion_tokens <= room
    streamed = LocalProvider().chat(messages, options={"max_tokens": 1024}, on_token=lambda delta: None)
    assert streamed.completion_tokens <= room


@pytest.mark.slow
def test_the_local_model_reads_prompts_and_writes_tokens_on_the_threads_set(monkeypatch):
    # As many threads for the prompt as for the tokens (llama-cpp-python alone reads the prompt on
    # every core of the host), and they spin only briefly: libgomp read the variables when it loaded.
    llama = local.load_llama()
    assert llama.n_threads == llama.n_threads_batch == local._n_threads()
    assert (os.environ["OMP_WAIT_POLICY"], os.environ["GOMP_SPINCOUNT"]) == ("PASSIVE", "300")

    monkeypatch.setenv("MENTORQ_LOCAL_LLM_THREADS", "3")
    get_settings.cache_clear()
    assert local._n_threads() == 3
    monkeypatch.delenv("MENTORQ_LOCAL_LLM_THREADS")
    get_settings.cache_clear()
    assert local._n_threads() == min(len(os.sched_getaffinity(0)), 8)


def test_local_refuses_other_models():
    with pytest.raises(ModelNotFound, match="llama3"):
        LocalProvider().chat(HELLO, model="llama3.2:1b")


# -- catalog ----------------------------------------------------------------------------------


def test_catalog_without_ollama_lists_packaged_models():
    listing = catalog.list_models(get_settings())

    assert listing["llm"] == [{"provider": "local", "name": "SmolLM2-135M-Instruct", "default": True}]
    assert listing["embedding"] == [
        {"provider": "sentence-transformers", "name": "all-MiniLM-L6-v2", "dim": 384, "default": True}
    ]
    assert listing["errors"] == {}
    assert catalog.packaged_gguf_path().is_file()
    assert (catalog.packaged_minilm_path() / "modules.json").is_file()


def test_catalog_with_ollama_lists_its_models(fake, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", fake.url)
    monkeypatch.setenv("MENTORQ_EMBED_MODEL", "ollama:nomic-embed-text")
    get_settings.cache_clear()

    listing = catalog.list_models(get_settings())

    assert {"provider": "ollama", "name": "llama3.2:1b", "default": True} in listing["llm"]
    assert {"provider": "local", "name": "SmolLM2-135M-Instruct", "default": False} in listing["llm"]
    assert {
        "provider": "ollama",
        "name": "ollama:nomic-embed-text:latest",
        "dim": 768,
        "default": True,
    } in listing["embedding"]
    assert listing["errors"] == {}


def test_catalog_reports_unreachable_ollama(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", dead_url())
    get_settings.cache_clear()

    listing = catalog.list_models(get_settings())

    assert "unreachable" in listing["errors"]["ollama"]
    assert listing["llm"][0]["default"] is True  # auto falls back to local


def test_catalog_imports_no_model_library():
    code = (
        "import sys, core.catalog\n"
        "from core.settings import get_settings\n"
        "core.catalog.list_models(get_settings())\n"
        "heavy = ('torch', 'sentence_transformers', 'llama_cpp', 'transformers')\n"
        "print([m for m in heavy if m in sys.modules])"
    )
    env = {**os.environ, "MENTORQ_ENV": "dev"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
