"""Worker-side helpers of the knowledge store."""

from __future__ import annotations

from sqlalchemy.orm import Session

from db import knowledge

_indexed: set[str] = set()


def ensure_index_once(session: Session, *, model: str, dim: int) -> None:
    """Create a model's partial HNSW index the first time this process stores its vectors."""
    if model in _indexed:
        return
    knowledge.ensure_model_index(session, model=model, dim=dim)
    _indexed.add(model)
