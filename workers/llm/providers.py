"""Each provider by name, built once per process from the settings' endpoint of it
(core/llm_endpoints.py: where it is, its default model, whether it is configured)."""

from __future__ import annotations

import threading

from core.llm_endpoints import PROVIDERS, api_key, endpoint
from core.settings import Settings
from workers.llm.base import LLMProvider
from workers.llm.metered import MeteredProvider

_built: dict[tuple, LLMProvider] = {}
_lock = threading.Lock()


def provider_named(name: str, settings: Settings) -> LLMProvider:
    """The provider `name` (one of PROVIDERS) as the settings configure it. An unconfigured hosted
    provider is still built: its chat() raises LLMNotConfigured, which a route skips past."""
    end = endpoint(settings, name)
    # Keyed by the endpoint and key, so a test that changes the settings gets a fresh provider.
    key = (end, api_key(settings, name))
    with _lock:
        provider = _built.get(key)
        if provider is None:
            provider = _built[key] = MeteredProvider(_build(name, settings))
        return provider


def clear_built_providers() -> None:
    with _lock:
        _built.clear()


def _build(name: str, settings: Settings) -> LLMProvider:
    end = endpoint(settings, name)
    if name == "ollama":
        from workers.llm.ollama import OllamaProvider

        return OllamaProvider(end.base_url or "", end.default_model)
    if name == "local":
        from workers.llm.local import LocalProvider

        return LocalProvider(end.default_model)
    if name == "openai_compatible":
        from workers.llm.openai_compatible import OpenAICompatibleProvider

        return OpenAICompatibleProvider(end.base_url, api_key(settings, name), end.default_model)
    if name == "anthropic":
        from workers.llm.anthropic_provider import AnthropicProvider

        return AnthropicProvider(end.base_url or "", api_key(settings, name), end.default_model or "")
    raise ValueError(f"unknown LLM provider {name!r}; providers: {', '.join(PROVIDERS)}")
