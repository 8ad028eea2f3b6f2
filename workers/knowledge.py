"""Worker-side helpers of the knowledge store."""

from __future__ import annotations

from db import knowledge
from db.session import session_scope

_indexed: set[str] = set()


def ensure_index_once(*, model: str, dim: int) -> None:
    """Make sure a model's partial HNSW index exists, the first time this process stores its
    vectors. In its own transaction: a CREATE INDEX lock must not be held while vectors go in."""
    if model in _indexed:
        return
    with session_scope() as session:
        knowledge.ensure_model_index(session, model=model, dim=dim)
    _indexed.add(model)
