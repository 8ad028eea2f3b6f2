"""LLM providers behind one interface: Ollama (production), llama.cpp in-process (zero setup), any
OpenAI-compatible server and Anthropic; routed per job kind (workers/llm/routing.py)."""

from __future__ import annotations

import threading

from core.settings import Settings, get_settings
from workers import current_job
from workers.llm.base import (
    DEFAULT_MAX_TOKENS,
    ChatResult,
    LLMError,
    LLMInvalidOutput,
    LLMProvider,
    LLMUnavailable,
    ModelNotFound,
)
from workers.llm.providers import clear_built_providers, provider_named

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
    "settings_provider",
]

_providers: dict[tuple, LLMProvider] = {}
_lock = threading.Lock()


def get_llm_provider() -> LLMProvider:
    """The provider for the call: inside a job, its kind's route (workers/llm/routing.py: fallbacks,
    limits, and who answered noted on the job); without a route, or outside a job, the provider the
    settings ask for, built once per process (and per settings)."""
    job = current_job.current()
    if job is None:
        return settings_provider()
    from workers.llm import routing

    return routing.for_job(job, default=settings_provider)


def settings_provider() -> LLMProvider:
    """The provider the settings ask for (MENTORQ_LLM_PROVIDER), built once per process (and per settings)."""
    settings = get_settings()
    # Keyed by the relevant settings so a test that changes them (and clears get_settings)
    # gets a fresh provider; in a worker the key never changes.
    key = (settings.llm_provider, settings.ollama_host, settings.llm_model, settings.llm_identity)
    with _lock:
        provider = _providers.get(key)
        if provider is None:
            provider = _providers[key] = _build(settings)
        return provider


def clear_llm_provider_cache() -> None:
    """Forget built providers (tests; the local model itself stays loaded)."""
    with _lock:
        _providers.clear()
    clear_built_providers()


def _build(settings: Settings) -> LLMProvider:
    from workers.llm.auto import resolve_provider_name

    return provider_named(resolve_provider_name(settings), settings)
