"""Embedding providers behind one interface: sentence-transformers in-process, or Ollama."""

from __future__ import annotations

import threading

from core.catalog import DEFAULT_OLLAMA_HOST, OLLAMA_PREFIX
from core.metrics import catalog
from core.settings import get_settings
from workers.embeddings.base import EmbeddingProvider, EmbedResult

__all__ = ["EmbedResult", "EmbeddingProvider", "clear_embedding_provider_cache", "get_embedding_provider"]

_providers: dict[tuple, EmbeddingProvider] = {}
_lock = threading.Lock()


def get_embedding_provider(model: str | None = None) -> EmbeddingProvider:
    """The provider for `model` (default MENTORQ_EMBED_MODEL), built once per process.

    "ollama:<name>" is Ollama's embed endpoint; any other name is sentence-transformers,
    where only the packaged all-MiniLM-L6-v2 exists (others raise ModelNotFound).
    """
    settings = get_settings()
    model = model or settings.embed_model
    is_ollama = model.startswith(OLLAMA_PREFIX)
    key = (model, settings.ollama_host if is_ollama else None)
    with _lock:
        provider = _providers.get(key)
        if provider is None:
            provider = _providers[key] = _Counted(_build(model, settings.ollama_host))
        return provider


def clear_embedding_provider_cache() -> None:
    """Forget built providers (tests; a loaded model stays loaded)."""
    with _lock:
        _providers.clear()


class _Counted:
    """A provider whose embedded texts are counted (mentorq_embedded_texts_total, by model); `inner`
    is the provider itself."""

    def __init__(self, provider: EmbeddingProvider) -> None:
        self.inner = provider

    def embed(self, texts: list[str], *, model: str | None = None) -> EmbedResult:
        result = self.inner.embed(texts, model=model)
        # The model is the operator's setting, never a learner's: a bounded label as it is.
        catalog.EMBEDDED_TEXTS.labels(result.model[:64]).inc(len(texts))
        return result

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def _build(model: str, ollama_host: str | None) -> EmbeddingProvider:
    if model.startswith(OLLAMA_PREFIX):
        from workers.embeddings.ollama import OllamaEmbeddings

        return OllamaEmbeddings(ollama_host or DEFAULT_OLLAMA_HOST, model)

    from workers.embeddings.sentence import SentenceEmbeddings

    return SentenceEmbeddings(model)
