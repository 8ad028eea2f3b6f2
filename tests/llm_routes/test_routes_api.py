"""The routing table through the API (/v1/admin/llm-routes): admins only, every refusal with its
own code and nothing stored, availability of each target; and GET /v1/models reporting each
provider, configured or not, answering or not (a missing key, a refused key, a server down),
never a key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import ApiClient, make_admin, register
from tests.llm_routes.conftest import OPENAI_MODEL
from tests.support.fake_llm_server import DEFAULT_KEY
from tests.support.fake_openai import FakeOpenAI
from tests.support.stack import Stack, wait_until

ROUTES = "/v1/admin/llm-routes"


@pytest.fixture
def admin(stack: Stack, routing_api: str, no_routes: None) -> Iterator[ApiClient]:
    with register(routing_api) as client:
        yield make_admin(stack, client)


@pytest.fixture
def user(routing_api: str) -> Iterator[ApiClient]:
    with register(routing_api) as client:
        yield client


def providers(client: ApiClient) -> dict[str, dict]:
    response = client.get("/v1/models")
    assert response.status_code == 200, response.text
    assert DEFAULT_KEY not in response.text
    return {p["name"]: p for p in response.json()["providers"]}


def test_only_admins_see_or_edit_routes(user: ApiClient, no_routes: None) -> None:
    for method, path, body in [
        ("GET", ROUTES, None),
        ("GET", f"{ROUTES}/chat", None),
        ("PUT", f"{ROUTES}/chat", {"provider": "ollama"}),
        ("DELETE", f"{ROUTES}/chat", None),
    ]:
        response = user.request(method, path, json=body)
        assert response.status_code == 403, (method, path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "admin_only"


@pytest.mark.parametrize(
    ("kind", "body", "status", "code"),
    [
        ("no.such.kind", {"provider": "ollama"}, 404, "unknown_kind"),
        ("embed", {"provider": "ollama"}, 422, "not_an_llm_kind"),
        ("chat", {"provider": "openai"}, 422, "unknown_provider"),
        ("chat", {"provider": "ollama", "fallbacks": [{"provider": "gemini"}]}, 422, "unknown_provider"),
        ("chat", {"provider": "ollama", "model": ""}, 422, "invalid_model"),
        ("chat", {"provider": "ollama", "model": "m" * 201}, 422, "invalid_model"),
        ("chat", {"provider": "ollama", "fallbacks": [{"provider": "ollama"}]}, 422, "duplicate_fallback"),
        (
            "chat",
            {"provider": "ollama", "fallbacks": [{"provider": "local"}, {"provider": "local"}]},
            422,
            "duplicate_fallback",
        ),
        (
            "chat",
            {"provider": "ollama", "fallbacks": [{"provider": "local", "model": str(i)} for i in range(5)]},
            422,
            "too_many_fallbacks",
        ),
        ("chat", {"provider": "ollama", "max_tokens": 0}, 422, "invalid_max_tokens"),
        ("chat", {"provider": "ollama", "max_tokens": 32769}, 422, "invalid_max_tokens"),
        ("chat", {"provider": "ollama", "temperature": 2.5}, 422, "invalid_temperature"),
        ("chat", {"provider": "ollama", "temperature": -0.1}, 422, "invalid_temperature"),
    ],
)
def test_a_bad_route_is_refused_with_its_code_and_nothing_is_stored(
    admin: ApiClient, kind: str, body: dict, status: int, code: str
) -> None:
    response = admin.put(f"{ROUTES}/{kind}", json=body)

    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert admin.get(ROUTES).json()["items"] == []


def test_an_admin_sets_reads_and_removes_a_route(
    admin: ApiClient, stack: Stack, fresh_openai: FakeOpenAI
) -> None:
    listing = admin.get(ROUTES).json()
    assert {"chat", "ask", "tutor", "grade", "profile_ingest", "debug.llm"} <= set(listing["routable_kinds"])
    assert "embed" not in listing["routable_kinds"] and "ingest" not in listing["routable_kinds"]
    assert listing["default"] == {"provider": "ollama", "model": "llama3.2:1b"}  # the stack's settings

    body = {
        "provider": "openai_compatible",
        "model": None,
        "fallbacks": [{"provider": "anthropic"}, {"provider": "ollama", "model": "llama3.2:1b"}],
        "max_tokens": 256,
        "temperature": 0.2,
    }
    response = admin.put(f"{ROUTES}/chat", json=body)
    assert response.status_code == 200, response.text
    route = response.json()
    stored = [{"provider": "anthropic", "model": None}, {"provider": "ollama", "model": "llama3.2:1b"}]
    assert {k: route[k] for k in body} == body | {"fallbacks": stored}
    assert route["updated_by"] == admin.user_id
    targets = [(t["provider"], t["configured"], t["available"], t["model_listed"]) for t in route["targets"]]
    assert targets == [
        ("openai_compatible", True, True, True),  # its default model (MENTORQ_OPENAI_MODEL) is listed
        ("anthropic", False, False, None),
        ("ollama", True, True, True),
    ]
    assert route["targets"][1]["error"]["code"] == "key_missing"
    assert stack.sql("SELECT provider, model, fallbacks FROM llm_routes WHERE kind = 'chat'") == [
        ("openai_compatible", None, stored)
    ]

    # Replacing it is a PUT again; reading one kind shows the same.
    replaced = admin.put(f"{ROUTES}/chat", json={"provider": "ollama", "model": "no-such-model"}).json()
    assert replaced["fallbacks"] == [] and replaced["targets"][0]["model_listed"] is False
    assert admin.get(f"{ROUTES}/chat").json()["model"] == "no-such-model"
    assert [item["kind"] for item in admin.get(ROUTES).json()["items"]] == ["chat"]

    assert admin.delete(f"{ROUTES}/chat").status_code == 204
    missing = admin.get(f"{ROUTES}/chat")
    assert missing.status_code == 404 and missing.json()["code"] == "llm_route_not_found"
    assert admin.delete(f"{ROUTES}/chat").status_code == 204  # back to the default already: idempotent


def test_models_lists_every_provider_and_why_one_is_not_usable(
    user: ApiClient, fresh_openai: FakeOpenAI
) -> None:
    listed = providers(user)

    assert set(listed) == {"ollama", "local", "openai_compatible", "anthropic"}
    openai = listed["openai_compatible"]
    assert openai["configured"] and openai["available"] and openai["error"] is None
    assert openai["models"] == ["qwen2.5-7b-instruct", "llama-3.1-8b-instruct"]
    assert openai["default_model"] == OPENAI_MODEL and openai["base_url"] == fresh_openai.base_url
    assert listed["ollama"]["available"] and "llama3.2:1b" in listed["ollama"]["models"]
    anthropic = listed["anthropic"]
    assert not anthropic["configured"] and not anthropic["available"]
    assert (
        anthropic["error"]["code"] == "key_missing"
        and "MENTORQ_ANTHROPIC_API_KEY" in anthropic["error"]["detail"]
    )
    # The catalog of before is still there, beside the providers.
    body = user.get("/v1/models").json()
    assert {"llm", "embedding", "errors"} <= set(body)


def test_a_refused_key_or_a_server_down_shows_as_unavailable(
    admin: ApiClient, user: ApiClient, fresh_openai: FakeOpenAI
) -> None:
    admin.put(f"{ROUTES}/chat", json={"provider": "openai_compatible", "fallbacks": [{"provider": "ollama"}]})
    fresh_openai.api_key = "rotated-key"  # the deployment's key is no longer accepted

    def refused() -> bool:
        return providers(user)["openai_compatible"]["error"]["code"] == "key_refused"

    wait_until(refused, timeout=20, interval=0.5, message="the refused key reported")  # probes are cached 5 s
    status = providers(user)["openai_compatible"]
    assert status["configured"] and not status["available"] and status["models"] == []
    (route,) = admin.get(ROUTES).json()["items"]
    assert route["targets"][0]["available"] is False and route["targets"][0]["error"]["code"] == "key_refused"
    assert route["targets"][1]["available"] is True

    fresh_openai.api_key = DEFAULT_KEY
    fresh_openai.stop()
    try:
        wait_until(
            lambda: providers(user)["openai_compatible"]["error"]["code"] == "unreachable",
            timeout=20,
            interval=0.5,
            message="the server down reported",
        )
    finally:
        fresh_openai.restart()
    wait_until(
        lambda: providers(user)["openai_compatible"]["available"], timeout=20, interval=0.5, message="back"
    )
