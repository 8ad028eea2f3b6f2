"""Embedding queries: the vectors of chunks per model, each model's HNSW index, and the active model."""

from __future__ import annotations

import re
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from psycopg.adapt import Dumper, PyFormat
from psycopg.pq import Format
from psycopg.types import TypeInfo
from sqlalchemy import and_, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from db.models import Chunk, Document, Embedding, KnowledgeState

ACTIVE_MODEL_KEY = "active_embed_model"


# --- vectors of chunks ------------------------------------------------------------------------


@dataclass
class Claim:
    """What an embed call holds: (chunk id, text) pairs locked until its transaction ends, and how
    many of them are the document's own."""

    chunks: list[tuple[int, str]]
    own: int


def claim_chunks_to_embed(
    session: Session, *, document_id: uuid.UUID, generation: int, model: str, limit: int, gather: bool
) -> Claim | None:
    """Up to `limit` chunks with no vector under `model` yet, locked until the caller's transaction
    ends; None once every chunk of the document's generation has its vector.

    First the generation's own chunks, shortest first (a pass of about one length pads little),
    then, with `gather`, to fill the call, the pending chunks of other documents being ingested (a GPU embeds
    one document's 68 chunks at a fifth of its rate in passes of a few hundred: workers/devices.py);
    their own jobs later find them done and only activate them. Only a call with chunks of its own
    fills up: a job ends when its document is done, and does not go on embedding the backlog while
    its own document waits to be made searchable. Chunks another embed job holds are skipped, so
    two jobs never wait on each other while either has work; when all the document's missing chunks
    are held elsewhere, this waits until that job commits and answers an empty claim: the caller
    asks again, and None comes only when nothing is missing."""
    own = list(
        session.execute(
            _missing(model=model, limit=limit)
            .where(Chunk.document_id == document_id, Chunk.generation == generation)
            .order_by(func.char_length(Chunk.text), Chunk.position)
            .with_for_update(skip_locked=True)
        )
    )
    others: list[Any] = []
    if gather and own and len(own) < limit:
        others = list(
            session.execute(
                _missing(model=model, limit=limit - len(own))
                .join(
                    Document,
                    and_(Document.id == Chunk.document_id, Chunk.generation > Document.active_generation),
                )
                .where(Document.status == "processing", Document.id != document_id)
                .order_by(Document.updated_at, Chunk.document_id, Chunk.position)
                .with_for_update(of=Chunk, skip_locked=True)
            )
        )
    if own or others:
        return Claim([(row.id, embedding_text(row.text, row.heading_path)) for row in own + others], len(own))
    held = session.execute(
        _missing(model=model, limit=limit)
        .where(Chunk.document_id == document_id, Chunk.generation == generation)
        .with_for_update()  # waits for the job that holds them
    ).all()
    return Claim([], 0) if held else None


def _missing(*, model: str, limit: int) -> Any:
    has_vector = select(Embedding.chunk_id).where(Embedding.chunk_id == Chunk.id, Embedding.model == model)
    return select(Chunk.id, Chunk.text, Chunk.heading_path).where(~has_vector.exists()).limit(limit)


def embedding_text(chunk_text: str, heading_path: list[str] | None) -> str:
    """What is embedded: the heading path as context, then the chunk."""
    return (" > ".join(heading_path) + "\n\n" + chunk_text) if heading_path else chunk_text


def store_embeddings(
    session: Session, *, model: str, rows: Sequence[tuple[int, Sequence[float] | np.ndarray]]
) -> None:
    """Insert the vectors; a vector already there (a re-run after a crash, or another embed process
    that gathered the same chunk) is kept, and a chunk deleted while its vector was computed (its
    document deleted or re-ingested) is skipped: the chunks still there are locked against deletion
    until this transaction ends, so the insert cannot fail on one that goes meanwhile (a failed
    `reembed` job would pause re-embedding).

    The vectors travel in pgvector's binary form, pipelined: as text, formatting 384 floats per
    chunk took a quarter of an embed worker's time and PostgreSQL parsed them back
    (benchmarks/README.md, ingestion)."""
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
        (chunk_id, model, _BinaryVector(vector)) for chunk_id, vector in rows if chunk_id in still_there
    ]
    if values:
        connection = _driver_connection(session)
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO embeddings (chunk_id, model, embedding) VALUES (%s, %s, %b) "
                "ON CONFLICT DO NOTHING",
                values,
            )


class _BinaryVector:
    """A vector to send as pgvector's binary `vector`: dimensions (int16), a reserved int16, then
    big-endian float32s (pgvector's vector_recv)."""

    __slots__ = ("values",)

    def __init__(self, values: Sequence[float] | np.ndarray) -> None:
        self.values = np.asarray(values, dtype=">f4")


def _driver_connection(session: Session) -> Any:
    """The session's psycopg connection (its transaction), taught to send _BinaryVector once."""
    connection = session.connection().connection.driver_connection
    adapters = connection.adapters
    try:
        adapters.get_dumper(_BinaryVector, PyFormat.BINARY)
    except psycopg.ProgrammingError:  # the first time on this connection: look up the type's oid
        info = TypeInfo.fetch(connection, "vector")
        if info is None:
            raise psycopg.ProgrammingError("the vector type (pgvector) is not in this database") from None
        adapters.register_dumper(_BinaryVector, type("_VectorDumper", (_VectorDumper,), {"oid": info.oid}))
    return connection


class _VectorDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj: _BinaryVector) -> bytes:
        return struct.pack(">HH", obj.values.shape[0], 0) + obj.values.tobytes()


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
