"""LLM providers behind one interface: Ollama (production) and llama.cpp in-process (zero setup)."""

from __future__ import annotations

import threading

from core.catalog import DEFAULT_OLLAMA_HOST
from core.settings import Settings, get_settings
from workers.llm.base import (
    DEFAULT_MAX_TOKENS,
    ChatResult,
    LLMError,
    LLMInvalidOutput,
    LLMProvider,
    LLMUnavailable,
    ModelNotFound,
)

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "ChatResult",
    "LLMError",
    "LLMInvalidOutput",
    "LLMProvider",
    "LLMUnavailable",
    "ModelNotFound",
    "clear_llm_provider_cache",
    "get_llm_provider",
]

_providers: dict[tuple, LLMProvider] = {}
_lock = threading.Lock()


def get_llm_provider() -> LLMProvider:
    """The provider the settings ask for, built once per process (and per settings)."""
    settings = get_settings()
    # Keyed by the relevant settings so a test that changes them (and clears get_settings)
    # gets a fresh provider; in a worker the key never changes.
    key = (settings.llm_provider, settings.ollama_host, settings.llm_model)
    with _lock:
        provider = _providers.get(key)
        if provider is None:
            provider = _providers[key] = _build(settings)
        return provider


def clear_llm_provider_cache() -> None:
    """Forget built providers (tests; the local model itself stays loaded)."""
    with _lock:
        _providers.clear()


def _build(settings: Settings) -> LLMProvider:
    from workers.llm.auto import resolve_provider_name

    if resolve_provider_name(settings) == "ollama":
        from workers.llm.ollama import OllamaProvider

        return OllamaProvider(settings.ollama_host or DEFAULT_OLLAMA_HOST, settings.llm_model)

    from workers.llm.local import LocalProvider

    return LocalProvider(settings.llm_model)
