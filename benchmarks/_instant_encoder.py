"""The platform's Celery app with an embedding step that costs nothing: `celery -A
benchmarks._instant_encoder worker ...` runs the real workers, tasks, queues and database writes,
but all-MiniLM-L6-v2's forward pass is replaced by a deterministic unit vector per text (a hash of
the text seeds it). What is left is the platform's own cost per chunk: the ceiling it puts on a GPU
that embeds as fast as the benchmark can feed it (benchmarks.ingestion --instant).

Benchmarks only: nothing in the platform imports this module.
"""

from __future__ import annotations

import hashlib

import numpy as np

from core.catalog import DEFAULT_EMBED_MODEL, EMBED_DIMS
from workers.celery_app import app
from workers.embeddings import sentence

__all__ = ["app", "instant_vectors"]

DIM = EMBED_DIMS[DEFAULT_EMBED_MODEL]


def instant_vectors(texts: list[str]) -> np.ndarray:
    """One unit vector per text, the same for the same text, spread over the sphere like real ones
    are not (the HNSW inserts cost about the same: a graph search per vector either way)."""
    seeds = [int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little") for t in texts]
    matrix = np.stack([np.random.default_rng(seed).standard_normal(DIM, dtype=np.float32) for seed in seeds])
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


class _InstantModel:
    """Stands where the SentenceTransformer stands: the provider's own batching, locking and
    result-building stay in the path."""

    def encode(self, texts: list[str], **_: object) -> np.ndarray:
        return instant_vectors(list(texts)) if texts else np.zeros((0, DIM), dtype=np.float32)


def _load_instant_model() -> _InstantModel:
    return _InstantModel()


sentence.load_model = _load_instant_model
