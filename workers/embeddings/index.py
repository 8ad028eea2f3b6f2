"""Each embedding model's HNSW index, made sure of once per worker process before its first vectors go in."""

from __future__ import annotations

from db import embeddings
from db.unit_of_work import unit_of_work

_indexed: set[str] = set()


def ensure_index_once(*, model: str, dim: int) -> None:
    """Make sure a model's partial HNSW index exists, the first time this process stores its
    vectors. In its own transaction: a CREATE INDEX lock must not be held while vectors go in."""
    if model in _indexed:
        return
    with unit_of_work() as session:
        embeddings.ensure_model_index(session, model=model, dim=dim)
    _indexed.add(model)
