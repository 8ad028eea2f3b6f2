"""Embedding queries: the vectors of chunks per model, each model's HNSW index, and the active model."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from db.models import Chunk, Embedding, KnowledgeState

ACTIVE_MODEL_KEY = "active_embed_model"


# --- vectors of chunks ------------------------------------------------------------------------


def chunks_without_embedding(
    session: Session, *, document_id: uuid.UUID, generation: int, model: str, limit: int
) -> list[tuple[int, str]]:
    """(chunk id, text) of a generation's chunks that have no vector under `model` yet, shortest
    first: a batch of chunks of about one length pads little, and a forward pass costs as much as its
    longest text times the batch size."""
    result = session.execute(
        select(Chunk.id, Chunk.text, Chunk.heading_path)
        .outerjoin(Embedding, and_(Embedding.chunk_id == Chunk.id, Embedding.model == model))
        .where(Chunk.document_id == document_id, Chunk.generation == generation, Embedding.chunk_id.is_(None))
        .order_by(func.char_length(Chunk.text), Chunk.position)
        .limit(limit)
    )
    return [(row.id, embedding_text(row.text, row.heading_path)) for row in result]


def embedding_text(chunk_text: str, heading_path: list[str] | None) -> str:
    """What is embedded: the heading path as context, then the chunk."""
    return (" > ".join(heading_path) + "\n\n" + chunk_text) if heading_path else chunk_text


def store_embeddings(session: Session, *, model: str, rows: list[tuple[int, list[float]]]) -> None:
    """One multi-row INSERT; a vector already there (a re-run after a crash) is kept, and a chunk
    deleted while its vector was computed (its document deleted or re-ingested) is skipped: the
    chunks still there are locked against deletion until this transaction ends, so the insert
    cannot fail on one that goes meanwhile (a failed `reembed` job would pause re-embedding)."""
    if not rows:
        return
    still_there = set(
        session.execute(
            select(Chunk.id)
            .where(Chunk.id.in_([chunk_id for chunk_id, _ in rows]))
            .with_for_update(key_share=True)
        ).scalars()
    )
    values = [
        {"chunk_id": chunk_id, "model": model, "embedding": vector}
        for chunk_id, vector in rows
        if chunk_id in still_there
    ]
    if values:
        session.execute(insert(Embedding).on_conflict_do_nothing(), values)


# --- embedding models -------------------------------------------------------------------------


def index_name(model: str) -> str:
    """The partial HNSW index of one model: ix_embeddings_hnsw_<slug>."""
    slug = re.sub(r"[^a-z0-9]+", "_", model.lower()).strip("_")[:40]
    return f"ix_embeddings_hnsw_{slug}"


def ensure_model_index(session: Session, *, model: str, dim: int) -> None:
    """Create the model's partial HNSW index (cosine) if it is missing, as pgvector's FAQ describes.

    It looks first: CREATE INDEX IF NOT EXISTS takes a SHARE lock on embeddings even when the
    index is there, which waits on every transaction inserting vectors (and two gpu processes
    doing both at once deadlocked). The look takes no table lock."""
    name = index_name(model)
    if session.execute(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": name}).scalar_one():
        return
    literal = model.replace("'", "''")
    session.execute(
        text(
            f"CREATE INDEX IF NOT EXISTS {name} ON embeddings "
            f"USING hnsw ((embedding::vector({int(dim)})) vector_cosine_ops) WHERE model = '{literal}'"
        )
    )


def get_active_model_sync(session: Session, *, default: str) -> str:
    """The model searches use now; the first call records `default` (the configured one)."""
    session.execute(
        insert(KnowledgeState).values(key=ACTIVE_MODEL_KEY, value=default).on_conflict_do_nothing()
    )
    return session.execute(
        select(KnowledgeState.value).where(KnowledgeState.key == ACTIVE_MODEL_KEY)
    ).scalar_one()


async def get_active_model(session: AsyncSession, *, default: str) -> str:
    await session.execute(
        insert(KnowledgeState).values(key=ACTIVE_MODEL_KEY, value=default).on_conflict_do_nothing()
    )
    return (
        await session.execute(select(KnowledgeState.value).where(KnowledgeState.key == ACTIVE_MODEL_KEY))
    ).scalar_one()


def switch_active_model(session: Session, *, model: str) -> None:
    session.execute(
        update(KnowledgeState)
        .where(KnowledgeState.key == ACTIVE_MODEL_KEY)
        .values(value=model, updated_at=func.now())
    )


COVERAGE_SQL = text(
    """
    SELECT e.model, count(*) AS embedded
    FROM embeddings e
    JOIN chunks c ON c.id = e.chunk_id
    JOIN documents d ON d.id = c.document_id AND c.generation = d.active_generation
    GROUP BY e.model
    """
)
LIVE_CHUNKS_SQL = text(
    "SELECT count(*) FROM chunks c "
    "JOIN documents d ON d.id = c.document_id AND c.generation = d.active_generation"
)


def embedding_coverage_sync(session: Session | Any) -> tuple[int, dict[str, int]]:
    """(searchable chunks, embedded chunks per model)."""
    total = session.execute(LIVE_CHUNKS_SQL).scalar_one()
    return total, {row.model: row.embedded for row in session.execute(COVERAGE_SQL)}


async def embedding_coverage(session: AsyncSession) -> tuple[int, dict[str, int]]:
    total = (await session.execute(LIVE_CHUNKS_SQL)).scalar_one()
    return total, {row.model: row.embedded for row in await session.execute(COVERAGE_SQL)}


def live_chunks_missing(session: Session, *, model: str, limit: int) -> list[int]:
    """Ids of searchable chunks with no vector under `model` (what a re-embed still has to do)."""
    result = session.execute(
        text(
            """
            SELECT c.id FROM chunks c
            JOIN documents d ON d.id = c.document_id AND c.generation = d.active_generation
            WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.chunk_id = c.id AND e.model = :model)
            ORDER BY c.id LIMIT :limit
            """
        ),
        {"model": model, "limit": limit},
    )
    return [row[0] for row in result]


def chunk_texts(session: Session, *, chunk_ids: Sequence[int]) -> list[tuple[int, str]]:
    result = session.execute(
        select(Chunk.id, Chunk.text, Chunk.heading_path).where(Chunk.id.in_(list(chunk_ids)))
    )
    return [(row.id, embedding_text(row.text, row.heading_path)) for row in result]


def prune_models(session: Session, *, keep: str) -> dict[str, int]:
    """Delete the vectors of every model but `keep`, and their indexes. Returns rows deleted per model."""
    counts = {
        row.model: row.n
        for row in session.execute(
            text("SELECT model, count(*) AS n FROM embeddings WHERE model <> :keep GROUP BY model"),
            {"keep": keep},
        )
    }
    session.execute(delete(Embedding).where(Embedding.model != keep))
    for model in counts:
        session.execute(text(f"DROP INDEX IF EXISTS {index_name(model)}"))
    return counts
