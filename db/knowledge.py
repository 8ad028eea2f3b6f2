"""Knowledge store queries: collections, documents, chunks, embeddings and the active embedding model."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from db.models import Chunk, Collection, Document, DocumentBlob, Embedding, KnowledgeState

ACTIVE_MODEL_KEY = "active_embed_model"
DEFAULT_COLLECTION = "default"


# --- collections (API) ------------------------------------------------------------------------


async def visible_collections(session: AsyncSession, *, user_id: uuid.UUID) -> list[Collection]:
    """The user's own collections and every shared one."""
    result = await session.execute(
        select(Collection)
        .where(or_(Collection.owner_id == user_id, Collection.owner_id.is_(None)))
        .order_by(Collection.owner_id.is_(None), Collection.name)
    )
    return list(result.scalars())


async def find_collection(session: AsyncSession, *, user_id: uuid.UUID, name: str) -> Collection | None:
    """By name: the user's own collection first, else a shared one."""
    result = await session.execute(
        select(Collection)
        .where(Collection.name == name, or_(Collection.owner_id == user_id, Collection.owner_id.is_(None)))
        .order_by(Collection.owner_id.is_(None))
        .limit(1)
    )
    return result.scalar_one_or_none()


async def create_collection(
    session: AsyncSession, *, name: str, owner_id: uuid.UUID | None, description: str | None = None
) -> Collection | None:
    """A new collection; None when that name is taken (per owner, or among shared ones)."""
    result = await session.execute(
        insert(Collection)
        .values(id=uuid.uuid4(), name=name, owner_id=owner_id, description=description)
        .on_conflict_do_nothing()
        .returning(Collection)
    )
    return result.scalar_one_or_none()


async def get_or_create_private_collection(session: AsyncSession, *, user_id: uuid.UUID, name: str) -> Collection:
    await create_collection(session, name=name, owner_id=user_id)
    result = await session.execute(select(Collection).where(Collection.owner_id == user_id, Collection.name == name))
    return result.scalar_one()


# --- documents (API) --------------------------------------------------------------------------


def _insert_if_missing(*, collection_id: uuid.UUID, owner_id: uuid.UUID, source_key: str, fields: dict[str, Any]):
    values = {"tags": [], "metadata": {}, **fields}
    return (
        insert(Document.__table__)  # the table, so `metadata` is the column name, not the ORM's attribute
        .values(
            id=uuid.uuid4(), collection_id=collection_id, owner_id=owner_id, source_key=source_key,
            status="pending", chunk_count=0, active_generation=0, **values,
        )
        .on_conflict_do_nothing(index_elements=["collection_id", "source_key"])
    )


def _locked(collection_id: uuid.UUID, source_key: str):
    return (
        select(Document)
        .where(Document.collection_id == collection_id, Document.source_key == source_key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _blob_upsert(document_id: uuid.UUID, content: bytes):
    return (
        insert(DocumentBlob)
        .values(document_id=document_id, content=content)
        .on_conflict_do_update(index_elements=["document_id"], set_={"content": content})
    )


def _decide(document: Document, *, content: bytes | None, content_hash: str | None, fields: dict[str, Any]) -> str:
    """created | replaced | unchanged; applies the new fields unless unchanged."""
    fresh = document.content_hash is None and document.ingest_job_id is None
    if not fresh and content_hash is not None and document.content_hash == content_hash and document.status != "failed":
        return "unchanged"
    for key, value in fields.items():
        setattr(document, "metadata_" if key == "metadata" else key, value)
    document.content_hash = content_hash
    document.byte_size = len(content) if content is not None else None
    document.status = "pending"
    document.error = None
    document.updated_at = func.now()
    return "created" if fresh else "replaced"


async def upsert_document(
    session: AsyncSession,
    *,
    collection_id: uuid.UUID,
    owner_id: uuid.UUID,
    source_key: str,
    content: bytes | None,
    content_hash: str | None,
    fields: dict[str, Any],
) -> tuple[Document, str]:
    """Record a document to ingest. Returns (document, action): `created`, `replaced` (new content for
    the same source) or `unchanged` (the same content is already there: nothing to do)."""
    await session.execute(
        _insert_if_missing(collection_id=collection_id, owner_id=owner_id, source_key=source_key, fields=fields)
    )
    document = (await session.execute(_locked(collection_id, source_key))).scalar_one()
    action = _decide(document, content=content, content_hash=content_hash, fields=fields)
    if action != "unchanged" and content is not None:
        await session.execute(_blob_upsert(document.id, content))
    return document, action


def upsert_document_sync(
    session: Session,
    *,
    collection_id: uuid.UUID,
    owner_id: uuid.UUID,
    source_key: str,
    content: bytes | None,
    content_hash: str | None,
    fields: dict[str, Any],
) -> tuple[Document, str]:
    """upsert_document for workers (archive members)."""
    session.execute(_insert_if_missing(collection_id=collection_id, owner_id=owner_id, source_key=source_key, fields=fields))
    document = session.execute(_locked(collection_id, source_key)).scalar_one()
    action = _decide(document, content=content, content_hash=content_hash, fields=fields)
    if action != "unchanged" and content is not None:
        session.execute(_blob_upsert(document.id, content))
    return document, action


def add_archive_member(
    session: Session, *, archive: Document, member_name: str, content: bytes, kind: Any, insert_job: Any
) -> tuple[Document, Any]:
    """A member of an archive as its own document (with the archive's metadata), and its ingest job."""
    document, action = upsert_document_sync(
        session,
        collection_id=archive.collection_id,
        owner_id=archive.owner_id,
        source_key=f"{archive.source_key}!/{member_name}",
        content=content,
        content_hash=hashlib.sha256(content).hexdigest(),
        fields={
            "filename": member_name.rsplit("/", 1)[-1],
            "title": None,
            "tags": archive.tags,
            "resource_type": archive.resource_type,
            "level": archive.level,
            "parent_id": archive.id,
            "metadata": {"archive": archive.filename, "member": member_name},
        },
    )
    if action == "unchanged":
        return document, None
    job = insert_job(
        session, kind=kind.name, owner_id=archive.owner_id, input={"document_id": str(document.id)},
        max_attempts=kind.max_attempts, queue=kind.queue, priority=0,
    )
    document.ingest_job_id = job.id
    return document, job


async def list_documents(
    session: AsyncSession,
    *,
    collection_ids: Sequence[uuid.UUID],
    limit: int,
    before: tuple[datetime, uuid.UUID] | None,
) -> list[Document]:
    query = select(Document).where(Document.collection_id.in_(collection_ids))
    if before is not None:
        created_at, document_id = before
        query = query.where(
            or_(Document.created_at < created_at, and_(Document.created_at == created_at, Document.id < document_id))
        )
    query = query.order_by(Document.created_at.desc(), Document.id.desc()).limit(limit)
    return list((await session.execute(query)).scalars())


async def get_document(session: AsyncSession, *, document_id: uuid.UUID, collection_ids: Sequence[uuid.UUID]) -> Document | None:
    result = await session.execute(
        select(Document)
        .where(Document.id == document_id, Document.collection_id.in_(collection_ids))
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def document_chunks(session: AsyncSession, *, document: Document) -> list[Chunk]:
    result = await session.execute(
        select(Chunk)
        .where(Chunk.document_id == document.id, Chunk.generation == document.active_generation)
        .order_by(Chunk.position)
    )
    return list(result.scalars())


async def delete_document(session: AsyncSession, *, document_id: uuid.UUID) -> None:
    """The document, its bytes, chunks and embeddings (cascades)."""
    await session.execute(delete(Document).where(Document.id == document_id))


# --- ingestion (workers) ----------------------------------------------------------------------


def load_for_ingest(session: Session, *, document_id: uuid.UUID) -> tuple[Document, bytes | None] | None:
    document = session.get(Document, document_id, populate_existing=True)
    if document is None:
        return None
    blob = session.get(DocumentBlob, document_id)
    return document, (blob.content if blob is not None else None)


def set_document_status(
    session: Session, *, document_id: uuid.UUID, status: str, error: dict[str, Any] | None = None, **fields: Any
) -> None:
    values = {"status": status, "error": error, "updated_at": func.now(), **fields}
    if "metadata" in values:
        values["metadata_"] = values.pop("metadata")
    session.execute(update(Document).where(Document.id == document_id).values(**values))


def replace_pending_chunks(session: Session, *, document_id: uuid.UUID, generation: int, rows: list[dict[str, Any]]) -> None:
    """Write the chunks of a generation in one multi-row INSERT, first removing any a crashed run left."""
    session.execute(delete(Chunk).where(Chunk.document_id == document_id, Chunk.generation == generation))
    if rows:
        session.execute(insert(Chunk), [{"document_id": document_id, "generation": generation, **row} for row in rows])


def chunks_without_embedding(
    session: Session, *, document_id: uuid.UUID, generation: int, model: str, limit: int
) -> list[tuple[int, str]]:
    """(chunk id, text) of a generation's chunks that have no vector under `model` yet."""
    result = session.execute(
        select(Chunk.id, Chunk.text, Chunk.heading_path)
        .outerjoin(Embedding, and_(Embedding.chunk_id == Chunk.id, Embedding.model == model))
        .where(Chunk.document_id == document_id, Chunk.generation == generation, Embedding.chunk_id.is_(None))
        .order_by(Chunk.position)
        .limit(limit)
    )
    return [(row.id, embedding_text(row.text, row.heading_path)) for row in result]


def embedding_text(chunk_text: str, heading_path: list[str] | None) -> str:
    """What is embedded: the heading path as context, then the chunk."""
    return (" > ".join(heading_path) + "\n\n" + chunk_text) if heading_path else chunk_text


def store_embeddings(session: Session, *, model: str, rows: list[tuple[int, list[float]]]) -> None:
    """One multi-row INSERT; a vector already there (a re-run after a crash) is kept."""
    if rows:
        session.execute(
            insert(Embedding).on_conflict_do_nothing(),
            [{"chunk_id": chunk_id, "model": model, "embedding": vector} for chunk_id, vector in rows],
        )


def activate_generation(session: Session, *, document_id: uuid.UUID, generation: int) -> int:
    """Make a generation the searchable one and drop the others, in the caller's one transaction."""
    count = session.execute(
        select(func.count()).select_from(Chunk).where(Chunk.document_id == document_id, Chunk.generation == generation)
    ).scalar_one()
    session.execute(
        update(Document)
        .where(Document.id == document_id)
        .values(active_generation=generation, status="ready", error=None, chunk_count=count, updated_at=func.now())
    )
    session.execute(delete(Chunk).where(Chunk.document_id == document_id, Chunk.generation != generation))
    return count


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


def get_active_model(session: Session, *, default: str) -> str:
    """The model searches use now; the first call records `default` (the configured one)."""
    session.execute(insert(KnowledgeState).values(key=ACTIVE_MODEL_KEY, value=default).on_conflict_do_nothing())
    return session.execute(select(KnowledgeState.value).where(KnowledgeState.key == ACTIVE_MODEL_KEY)).scalar_one()


async def get_active_model_async(session: AsyncSession, *, default: str) -> str:
    await session.execute(insert(KnowledgeState).values(key=ACTIVE_MODEL_KEY, value=default).on_conflict_do_nothing())
    return (
        await session.execute(select(KnowledgeState.value).where(KnowledgeState.key == ACTIVE_MODEL_KEY))
    ).scalar_one()


def switch_active_model(session: Session, *, model: str) -> None:
    session.execute(
        update(KnowledgeState).where(KnowledgeState.key == ACTIVE_MODEL_KEY).values(value=model, updated_at=func.now())
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
    "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id AND c.generation = d.active_generation"
)


def embedding_coverage(session: Session | Any) -> tuple[int, dict[str, int]]:
    """(searchable chunks, embedded chunks per model)."""
    total = session.execute(LIVE_CHUNKS_SQL).scalar_one()
    return total, {row.model: row.embedded for row in session.execute(COVERAGE_SQL)}


async def embedding_coverage_async(session: AsyncSession) -> tuple[int, dict[str, int]]:
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
    result = session.execute(select(Chunk.id, Chunk.text, Chunk.heading_path).where(Chunk.id.in_(list(chunk_ids))))
    return [(row.id, embedding_text(row.text, row.heading_path)) for row in result]


def prune_models(session: Session, *, keep: str) -> dict[str, int]:
    """Delete the vectors of every model but `keep`, and their indexes. Returns rows deleted per model."""
    counts = {
        row.model: row.n
        for row in session.execute(
            text("SELECT model, count(*) AS n FROM embeddings WHERE model <> :keep GROUP BY model"), {"keep": keep}
        )
    }
    session.execute(delete(Embedding).where(Embedding.model != keep))
    for model in counts:
        session.execute(text(f"DROP INDEX IF EXISTS {index_name(model)}"))
    return counts
