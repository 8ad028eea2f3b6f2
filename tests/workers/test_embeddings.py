"""Embedding providers: the packaged all-MiniLM-L6-v2 for real, Ollama against the fake server."""

from __future__ import annotations

import math
import re
import socket

import pytest

from core.settings import get_settings
from tests.support.fake_ollama import FakeOllama
from tests.support.stack import Stack
from workers.embeddings import clear_embedding_provider_cache, get_embedding_provider
from workers.embeddings.ollama import OllamaEmbeddings
from workers.embeddings.sentence import SentenceEmbeddings
from workers.llm.base import LLMUnavailable, ModelNotFound


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """Dev settings, default embedding model, no provider left over from another test."""
    monkeypatch.setenv("MENTORQ_ENV", "dev")
    for name in ("OLLAMA_HOST", "MENTORQ_EMBED_MODEL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    clear_embedding_provider_cache()
    yield
    get_settings.cache_clear()
    clear_embedding_provider_cache()


def norm(vector: list[float]) -> float:
    return math.sqrt(sum(x * x for x in vector))


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b))  # inputs are unit vectors


@pytest.mark.slow
def test_sentence_transformers_vectors_are_normalized_and_meaningful():
    provider = get_embedding_provider()
    assert isinstance(provider.inner, SentenceEmbeddings)

    result = provider.embed(
        [
            "How do I reverse a list in Python?",
            "Reversing a Python list",
            "The recipe needs two cups of flour.",
        ]
    )

    assert result.model == "all-MiniLM-L6-v2" and result.dim == 384
    assert len(result.vectors) == 3 and all(len(v) == 384 for v in result.vectors)
    assert all(type(x) is float for x in result.vectors[0])  # plain JSON-able floats
    assert all(abs(norm(v) - 1.0) < 1e-4 for v in result.vectors)
    question, paraphrase, unrelated = result.vectors
    assert cosine(question, paraphrase) > cosine(question, unrelated) + 0.3


def test_sentence_transformers_empty_batch_loads_nothing():
    result = SentenceEmbeddings().embed([])
    assert (result.dim, result.vectors) == (384, [])


def test_unknown_local_model_is_model_not_found():
    with pytest.raises(ModelNotFound, match="bert-base-uncased"):
        get_embedding_provider("bert-base-uncased")


def test_ollama_embeddings_are_batched_and_normalized(monkeypatch):
    with FakeOllama(embed_dim=16) as fake:
        monkeypatch.setenv("OLLAMA_HOST", fake.url)
        monkeypatch.setenv("MENTORQ_EMBED_MODEL", "ollama:nomic-embed-text")
        get_settings.cache_clear()
        provider = get_embedding_provider()
        texts = [f"text {i}" for i in range(130)]

        result = provider.embed(texts)
        again = provider.embed(["text 0"])

    assert isinstance(provider.inner, OllamaEmbeddings) and get_embedding_provider() is provider
    assert result.model == "ollama:nomic-embed-text" and result.dim == 16
    assert len(result.vectors) == 130
    assert fake.requests["/api/embed"] == 3 + 1  # 64 + 64 + 2, then one more call
    assert all(abs(norm(v) - 1.0) < 1e-9 for v in result.vectors)
    assert again.vectors[0] == result.vectors[0]  # deterministic


def test_ollama_embeddings_errors():
    with FakeOllama() as fake:
        with pytest.raises(ModelNotFound):
            OllamaEmbeddings(fake.url, "ollama:missing").embed(["x"])

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(LLMUnavailable):
        OllamaEmbeddings(f"http://127.0.0.1:{port}", "ollama:nomic-embed-text").embed(["x"])


def test_a_worker_that_embeds_imports_its_runtime_once_before_its_pool_forks(stack: Stack) -> None:
    """The prefork parent checks the model's ONNX export and imports ONNX Runtime, so its children
    start with it; sentence-transformers (10-11 s of a core at each start, before) is not imported
    on a CPU. The io worker, whose lane never embeds, does neither."""
    ready = "embedding on ONNX Runtime from "
    log = (stack.root / "worker.log").read_text(errors="replace")
    assert ready in log and "sentence-transformers imported" not in log, log[-3000:]
    assert ready not in (stack.root / "worker-io.log").read_text(errors="replace")


def test_a_worker_keeps_what_its_start_imported_out_of_the_collector(stack: Stack) -> None:
    """After the imports (the embedding runtime's among them), before the pool forks: a full
    collection no longer scans them, nor does the interpreter's last one when the worker stops
    (a stopped worker took 3-4 s to exit, nearly all of it in the collector; 1.6-2.2 s now)."""
    log = (stack.root / "worker.log").read_text(errors="replace")
    imported = log.index("embedding on ONNX Runtime from ")
    frozen = re.search(r"(\d+) objects of the worker's start kept out of the collector", log)
    assert frozen is not None and frozen.start() > imported, log[-3000:]
    assert int(frozen.group(1)) > 100_000  # torch's and transformers' objects among them
