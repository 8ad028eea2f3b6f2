"""Provider addresses that carry credentials (`user:password@`, `?token=`, `?api-key=`): every client
sends them as HTTP basic auth and as a query on the right paths, and no error, status or catalog
entry shows them. The fakes require the credentials (an auth proxy in front of each server), and
quote the URL they were asked for in their errors, as some servers do."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from core.catalog import list_models
from core.llm_endpoints import endpoint, probe
from core.settings import Settings, get_settings
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.fake_ollama import DEFAULT_REPLY, FakeOllama
from tests.support.fake_openai import FakeOpenAI
from tests.support.stack import free_port
from workers.embeddings.ollama import OllamaEmbeddings
from workers.llm.anthropic_provider import AnthropicProvider
from workers.llm.base import LLMError, LLMNotConfigured, LLMUnavailable
from workers.llm.ollama import OllamaProvider
from workers.llm.openai_compatible import OpenAICompatibleProvider

PASSWORD = "pw-9c1e5b7a"
TOKEN = "tok-40d2f8e6"
KEY = "key-7b3a91c0"
HELLO = [{"role": "user", "content": "Say hello."}]


def guarded(fake, query_name: str):
    """Ask `fake` for basic auth (user, PASSWORD) and the query credential; the URL that has both."""
    fake.basic_auth = ("proxy-user", PASSWORD)
    fake.query_credentials = {query_name: TOKEN}
    return f"http://proxy-user:{PASSWORD}@{fake.url.removeprefix('http://')}"


def shown_nowhere(*texts: object) -> None:
    for text in texts:
        assert PASSWORD not in str(text) and TOKEN not in str(text) and KEY not in str(text), text


@pytest.fixture
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        yield server


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=None) as server:
        yield server


@pytest.fixture
def anthropic_server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key=KEY) as server:
        yield server


@pytest.fixture
def process_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings read again per test (and once more after it)."""
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


# -- ollama ---------------------------------------------------------------------------------------


def test_ollama_sends_the_hosts_credentials_as_basic_auth_and_query(ollama: FakeOllama) -> None:
    host = guarded(ollama, "token") + f"/?token={TOKEN}"
    provider = OllamaProvider(host)

    assert provider.chat(HELLO).text == DEFAULT_REPLY
    assert "".join(provider.chat(HELLO, on_token=lambda _: None).text) == DEFAULT_REPLY
    assert provider.list_models() == ["llama3.2:1b", "nomic-embed-text:latest"]
    assert OllamaEmbeddings(host, "ollama:nomic-embed-text").embed(["x"]).dim == 384
    assert f"/api/chat?token={TOKEN}" in ollama.targets and f"/api/tags?token={TOKEN}" in ollama.targets
    shown_nowhere(provider.host)


def test_ollama_refusing_the_credentials_names_the_address_without_them(
    ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch, process_settings: None
) -> None:
    ollama.basic_auth = ("proxy-user", "another-password")
    ollama.query_credentials = {"token": "another-token"}
    host = f"http://proxy-user:{PASSWORD}@{ollama.url.removeprefix('http://')}/?token={TOKEN}"
    monkeypatch.setenv("OLLAMA_HOST", host)  # the deployment's settings: the token is a known secret

    with pytest.raises(LLMNotConfigured) as refused:
        OllamaProvider(host).chat(HELLO)

    # The proxy's answer quotes the request's path and query: the token is in the server's words.
    assert f"Ollama at {ollama.url}/ refused the request (401)" in str(refused.value)
    shown_nowhere(refused.value)


def test_ollama_down_names_the_address_without_its_credentials() -> None:
    host = f"http://proxy-user:{PASSWORD}@127.0.0.1:{free_port()}/?token={TOKEN}"

    with pytest.raises(LLMUnavailable) as down:
        OllamaProvider(host).chat(HELLO)
    assert "is unreachable" in str(down.value)
    shown_nowhere(down.value)


def test_the_catalog_lists_a_guarded_ollama_and_reports_a_down_one_without_credentials(
    ollama: FakeOllama,
) -> None:
    host = guarded(ollama, "token") + f"?token={TOKEN}"
    listed = list_models(Settings(env="test", ollama_host=host, llm_provider="ollama"))
    assert "ollama" not in listed["errors"], listed["errors"]
    assert {"provider": "ollama", "name": "llama3.2:1b", "default": True} in listed["llm"]

    port = free_port()  # nothing listens there
    down = f"http://proxy-user:{PASSWORD}@127.0.0.1:{port}/?token={TOKEN}"
    failed = list_models(Settings(env="test", ollama_host=down, llm_provider="ollama"))
    assert failed["errors"]["ollama"].startswith(f"Ollama at http://127.0.0.1:{port}/ is unreachable")
    shown_nowhere(failed)


# -- openai_compatible ----------------------------------------------------------------------------


def test_openai_compatible_sends_basic_auth_and_keeps_the_query_a_query(openai_server: FakeOpenAI) -> None:
    base = guarded(openai_server, "api-key") + f"/v1?api-key={TOKEN}"
    provider = OpenAICompatibleProvider(base, None)

    assert provider.chat(HELLO).text == DEFAULT_REPLY
    assert provider.chat(HELLO, on_token=lambda _: None).text == DEFAULT_REPLY
    assert provider.list_models()[0] == "qwen2.5-7b-instruct"
    # The paths are the API's, the query after them (not /v1?api-key=…/models).
    assert f"/v1/models?api-key={TOKEN}" in openai_server.targets
    assert f"/v1/chat/completions?api-key={TOKEN}" in openai_server.targets
    shown_nowhere(provider.where)


def test_an_openai_server_quoting_the_url_in_its_error_shows_no_credential(
    openai_server: FakeOpenAI,
) -> None:
    base = guarded(openai_server, "api-key") + f"/v1?api-key={TOKEN}"
    openai_server.fail_with = (500, "server_error", "upstream failed for {url}")

    with pytest.raises(LLMUnavailable) as failing:
        OpenAICompatibleProvider(base, None, "qwen2.5-7b-instruct").chat(HELLO)

    message = str(failing.value)
    assert f"the OpenAI-compatible server at {openai_server.url}/v1 is busy or failing (500)" in message
    assert f"upstream failed for {openai_server.url}/v1/chat/completions" in message  # display form
    shown_nowhere(message)


def test_a_password_in_the_url_and_a_key_cannot_both_be_sent(openai_server: FakeOpenAI) -> None:
    base = guarded(openai_server, "api-key") + "/v1"
    settings = Settings(env="test", openai_base_url=base, openai_api_key=KEY)

    where = endpoint(settings, "openai_compatible")
    assert not where.configured and "keep one" in (where.missing or "")
    with pytest.raises(LLMNotConfigured, match="both would be the Authorization header"):
        OpenAICompatibleProvider(base, KEY).chat(HELLO)
    assert openai_server.generations() == 0


# -- anthropic ------------------------------------------------------------------------------------


def test_anthropic_sends_basic_auth_the_query_and_its_key_as_x_api_key(
    anthropic_server: FakeAnthropic,
) -> None:
    base = guarded(anthropic_server, "api-key") + f"/?api-key={TOKEN}"
    provider = AnthropicProvider(base, KEY, "claude-sonnet-4-6")

    assert provider.chat(HELLO).text == DEFAULT_REPLY
    assert provider.chat(HELLO, on_token=lambda _: None).text == DEFAULT_REPLY
    assert "claude-haiku-4-5" in provider.list_models()
    assert f"/v1/messages?api-key={TOKEN}" in anthropic_server.targets
    _, _, headers = anthropic_server.bodies[-1]
    assert headers["x-api-key"] == KEY and headers["authorization"].startswith("Basic ")

    anthropic_server.fail_with = (400, "invalid_request_error", "bad request to {url}")
    with pytest.raises(LLMError) as refused:
        provider.chat(HELLO)
    assert f"bad request to {anthropic_server.url}/v1/messages" in str(refused.value)
    shown_nowhere(refused.value, provider.where)


# -- the probes of GET /v1/models and the routing page --------------------------------------------


def test_probes_reach_guarded_providers_and_show_no_credential(
    ollama: FakeOllama, openai_server: FakeOpenAI, anthropic_server: FakeAnthropic
) -> None:
    settings = Settings(
        env="test",
        ollama_host=guarded(ollama, "token") + f"?token={TOKEN}",
        openai_base_url=guarded(openai_server, "api-key") + f"/v1?api-key={TOKEN}",
        anthropic_base_url=guarded(anthropic_server, "api-key") + f"?api-key={TOKEN}",
        anthropic_api_key=KEY,
    )

    async def probed(name: str):
        async with httpx.AsyncClient(timeout=5.0) as client:
            return await probe(settings, name, client)

    for name, server in (
        ("ollama", ollama),
        ("openai_compatible", openai_server),
        ("anthropic", anthropic_server),
    ):
        found = asyncio.run(probed(name))
        assert found.available, (name, found.error_code, found.error_detail)
        assert found.base_url is not None and found.base_url.startswith(server.url)
        shown_nowhere(found)
    assert f"/v1/models?api-key={TOKEN}" in openai_server.targets
    assert f"/v1/models?api-key={TOKEN}" in anthropic_server.targets
