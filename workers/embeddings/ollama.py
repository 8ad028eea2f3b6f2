"""Embeddings from an Ollama server's /api/embed, through the official client."""

from __future__ import annotations

from core.catalog import OLLAMA_PREFIX, embed_dim
from core.net.display import display_url
from workers.devices import EmbedPasses
from workers.embeddings.base import EmbedResult, batches, l2_normalize
from workers.llm.ollama import CLIENT_TIMEOUT, ollama_client, ollama_errors

BATCH_SIZE = 64


class OllamaEmbeddings:
    """Vectors from Ollama for model "ollama:<name>"; results are named with the prefix."""

    name = "ollama"

    def __init__(self, host: str, model: str) -> None:
        self.host = display_url(host)  # what messages name; the client alone holds the credentials
        self.model = model.removeprefix(OLLAMA_PREFIX)
        self._client = ollama_client(host, timeout=CLIENT_TIMEOUT)

    def feeding(self) -> EmbedPasses:
        """Calls of two requests, each document's own: the server's device is not known here."""
        return EmbedPasses(texts_per_pass=BATCH_SIZE, texts_per_call=2 * BATCH_SIZE, gathers=False)

    def embed(self, texts: list[str], *, model: str | None = None) -> EmbedResult:
        """Unit-length vectors for `texts`, requested 64 at a time."""
        name = model.removeprefix(OLLAMA_PREFIX) if model else self.model
        vectors: list[list[float]] = []
        with ollama_errors(self.host, name):
            for batch in batches(list(texts), BATCH_SIZE):
                response = self._client.embed(model=name, input=batch)
                # Ollama normalizes already; doing it here keeps the guarantee for any server.
                vectors.extend(l2_normalize(v) for v in response.embeddings)
        dim = len(vectors[0]) if vectors else (embed_dim(name) or 0)
        return EmbedResult(model=OLLAMA_PREFIX + name, dim=dim, vectors=vectors)
