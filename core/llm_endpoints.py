"""The LLM providers a deployment can route to: which are configured, where they are, and whether
they answer now. Light on purpose (httpx and the ollama client only): the API's GET /v1/models and
the routing admin pages call it, and the workers' providers read their endpoints from it.

A provider is *configured* when its settings are present: `ollama` with OLLAMA_HOST (or named as
MENTORQ_LLM_PROVIDER, which then uses the client's default address), `local` always,
`openai_compatible` with MENTORQ_OPENAI_BASE_URL, `anthropic` with MENTORQ_ANTHROPIC_API_KEY.
Keys stay in the settings: nothing here returns or logs one. An address may carry credentials
(`user:password@`, `?api-key=`): they are sent as HTTP basic auth and as a query
(core/net/endpoint_url.py) and never shown: statuses and errors name the display form
(core/net/display.py).
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from dataclasses import dataclass, field

import httpx

from core.catalog import DEFAULT_LOCAL_LLM, DEFAULT_OLLAMA_HOST, DEFAULT_OLLAMA_LLM, packaged_gguf_path
from core.net.display import display_url_or_none
from core.net.endpoint_url import EndpointURL
from core.redaction import scrub
from core.settings import Settings

PROVIDERS = ("ollama", "local", "openai_compatible", "anthropic")
ANTHROPIC_VERSION = "2023-06-01"  # the API version header the official client sends
# A probe answers within this, however the provider behaves: /v1/models never hangs on one.
PROBE_TIMEOUT = httpx.Timeout(3.0, connect=2.0)
# Probes are cached this long per process: a console refreshing every second costs one probe.
PROBE_CACHE_S = 5.0

# Why a provider is not usable now (a provider status's `error.code`).
NOT_CONFIGURED = "not_configured"
KEY_MISSING = "key_missing"
KEY_REFUSED = "key_refused"
UNREACHABLE = "unreachable"
SERVER_ERROR = "server_error"
NOT_INSTALLED = "not_installed"


@dataclass(frozen=True)
class Endpoint:
    """Where a provider is and what answers when a route names no model. Never holds a key; its
    `base_url` is the configured one, credentials included: for the clients, never to be shown."""

    provider: str
    configured: bool
    base_url: str | None
    default_model: str | None  # None for openai_compatible without a model: the server's first
    missing: str | None = None  # what setting makes it configured, when it is not


@dataclass
class ProviderProbe:
    """One provider as GET /v1/models reports it."""

    provider: str
    configured: bool
    available: bool
    base_url: str | None
    default_model: str | None
    models: list[str] = field(default_factory=list)
    error_code: str | None = None
    error_detail: str | None = None


def _setting_model(settings: Settings, provider: str) -> str | None:
    """MENTORQ_LLM_MODEL applies to the provider it goes with (the default one)."""
    if not settings.llm_model:
        return None
    if settings.llm_provider == provider or (
        settings.llm_provider == "auto" and provider in ("ollama", "local")
    ):
        return settings.llm_model
    return None


def endpoint(settings: Settings, provider: str) -> Endpoint:
    """The endpoint of one provider (ValueError for a name that is none of PROVIDERS)."""
    model = _setting_model(settings, provider)
    if provider == "ollama":
        configured = bool(settings.ollama_host) or settings.llm_provider == "ollama"
        return Endpoint(
            provider,
            configured,
            settings.ollama_host or DEFAULT_OLLAMA_HOST,
            model or DEFAULT_OLLAMA_LLM,
            None if configured else "OLLAMA_HOST is not set",
        )
    if provider == "local":
        return Endpoint(provider, True, None, model or DEFAULT_LOCAL_LLM)
    if provider == "openai_compatible":
        url = settings.openai_base_url
        problem = (
            credentials_conflict(provider, url, api_key(settings, provider))
            if url
            else "MENTORQ_OPENAI_BASE_URL is not set"
        )
        return Endpoint(provider, problem is None, url, model or settings.openai_model, problem)
    if provider == "anthropic":
        configured = settings.anthropic_api_key is not None and bool(
            settings.anthropic_api_key.get_secret_value()
        )
        return Endpoint(
            provider,
            configured,
            settings.anthropic_base_url,
            model or settings.anthropic_model,
            None if configured else "MENTORQ_ANTHROPIC_API_KEY is not set",
        )
    raise ValueError(f"unknown LLM provider {provider!r}; providers: {', '.join(PROVIDERS)}")


def api_key(settings: Settings, provider: str) -> str | None:
    """The provider's key from the settings (None when unset); for the clients only."""
    secret = {"openai_compatible": settings.openai_api_key, "anthropic": settings.anthropic_api_key}.get(
        provider
    )
    return secret.get_secret_value() if secret is not None and secret.get_secret_value() else None


def credentials_conflict(provider: str, base_url: str, key: str | None) -> str | None:
    """Why a base URL's `user:password@` and the provider's key cannot both be sent, else None.
    The OpenAI API takes its key in the Authorization header, which basic auth needs: sending one
    would silently drop the other. (Anthropic's key has a header of its own, x-api-key.)"""
    if provider != "openai_compatible" or not key or EndpointURL.parse(base_url).basic_auth is None:
        return None
    return (
        "MENTORQ_OPENAI_BASE_URL carries user:password@ and MENTORQ_OPENAI_API_KEY is set: both would be"
        " the Authorization header; keep one"
    )


def refused_key_code(status: int) -> bool:
    """401 (no or wrong key) and 403 (a key without access): configuration, not an outage."""
    return status in (401, 403)


# --- probing ------------------------------------------------------------------------------------


async def _list_ollama(end: Endpoint) -> list[str]:
    import ollama  # the client only: pydantic + httpx

    where = EndpointURL.parse(end.base_url or "")
    client = ollama.AsyncClient(host=where.base, timeout=PROBE_TIMEOUT, **where.httpx_options())
    async with client:
        listing = await client.list()
    return [m.model for m in listing.models if m.model and "embed" not in m.model]


async def _get_models(client: httpx.AsyncClient, base_url: str, path: str, headers: dict) -> list[str]:
    where = EndpointURL.parse(base_url)
    response = await client.get(where.url(path), headers=headers, **where.httpx_options())
    response.raise_for_status()
    return [item["id"] for item in response.json().get("data", []) if item.get("id")]


async def _list_openai(settings: Settings, end: Endpoint, client: httpx.AsyncClient) -> list[str]:
    key = api_key(settings, end.provider)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return await _get_models(client, end.base_url or "", "models", headers)


async def _list_anthropic(settings: Settings, end: Endpoint, client: httpx.AsyncClient) -> list[str]:
    headers = {"x-api-key": api_key(settings, end.provider) or "", "anthropic-version": ANTHROPIC_VERSION}
    return await _get_models(client, end.base_url or "", "v1/models", headers)


def _local_problem() -> str | None:
    try:
        packaged_gguf_path()
    except RuntimeError as exc:
        return str(exc)
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed"
    return None


async def probe(settings: Settings, provider: str, client: httpx.AsyncClient) -> ProviderProbe:
    """Ask one provider for its models now; never raises: a failure is the probe's error."""
    end = endpoint(settings, provider)
    shown = display_url_or_none(end.base_url)
    found = ProviderProbe(provider, end.configured, False, shown, end.default_model)
    if not end.configured:
        code = KEY_MISSING if provider == "anthropic" else NOT_CONFIGURED
        found.error_code, found.error_detail = code, end.missing
        return found
    if provider == "local":
        problem = _local_problem()
        if problem:
            found.error_code, found.error_detail = NOT_INSTALLED, problem
        else:
            found.available, found.models = True, [DEFAULT_LOCAL_LLM]
        return found
    try:
        if provider == "ollama":
            found.models = await _list_ollama(end)
        elif provider == "openai_compatible":
            found.models = await _list_openai(settings, end, client)
        else:
            found.models = await _list_anthropic(settings, end, client)
    except httpx.HTTPStatusError as exc:
        status = exc.response.status_code
        if refused_key_code(status):
            found.error_code = KEY_REFUSED
            found.error_detail = f"{shown} refused the key ({status})"
        else:
            found.error_code, found.error_detail = SERVER_ERROR, f"{shown} answered {status}"
        return found
    except Exception as exc:  # noqa: BLE001 - refused, timed out, not JSON: all mean "not usable now"
        status = getattr(exc, "status_code", None)  # the ollama client's ResponseError
        if isinstance(status, int) and status >= 0 and not isinstance(exc, httpx.TransportError):
            found.error_code, found.error_detail = SERVER_ERROR, f"{shown} answered {status}"
        else:
            found.error_code = UNREACHABLE
            found.error_detail = scrub(f"{shown} is unreachable: {type(exc).__name__}: {exc}")[:300]
        return found
    found.available = True
    if found.default_model is None and found.models:
        found.default_model = found.models[0]  # what the openai_compatible provider will use
    return found


_cache: dict[tuple, tuple[float, list[ProviderProbe]]] = {}


def _cache_key(settings: Settings) -> tuple:
    # The keys are part of what a probe's answer depends on (a wrong key is refused); kept in memory only.
    return (
        settings.llm_provider,
        settings.llm_model,
        settings.ollama_host,
        settings.openai_base_url,
        settings.openai_model,
        api_key(settings, "openai_compatible"),
        settings.anthropic_base_url,
        settings.anthropic_model,
        api_key(settings, "anthropic"),
    )


async def probe_all(settings: Settings, *, fresh: bool = False) -> list[ProviderProbe]:
    """Every provider's probe, asked concurrently, cached PROBE_CACHE_S seconds per process."""
    key = _cache_key(settings)
    cached = _cache.get(key)
    if cached is not None and not fresh and time.monotonic() - cached[0] < PROBE_CACHE_S:
        return cached[1]
    async with httpx.AsyncClient(timeout=PROBE_TIMEOUT) as client:
        probes = await asyncio.gather(*(probe(settings, name, client) for name in PROVIDERS))
    _cache.clear()  # one deployment's settings per process: keep only the latest
    _cache[key] = (time.monotonic(), list(probes))
    return list(probes)
