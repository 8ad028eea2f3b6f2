"""Knowledge store queries: collections, documents and their chunks (the embeddings are db/embeddings.py)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, aliased

from db import course_scope
from db.models import Chunk, Collection, Document, DocumentBlob, Transcript, User

DEFAULT_COLLECTION = "default"


# --- collections (API) ------------------------------------------------------------------------


# Where a name is looked up, the user's own collection wins, then a course's (the oldest first, when
# two of the user's courses use one name), then the shared library's.
_NAME_ORDER = (
    Collection.owner_id.is_(None),
    Collection.course_id.is_(None),
    Collection.name,
    Collection.created_at,
)


async def visible_collections(session: AsyncSession, *, user_id: uuid.UUID) -> list[Collection]:
    """The user's own collections, their courses' and the shared ones (db/course_scope.py)."""
    result = await session.execute(
        select(Collection).where(course_scope.collection_visible(user_id)).order_by(*_NAME_ORDER)
    )
    return list(result.scalars())


async def find_collection(session: AsyncSession, *, user_id: uuid.UUID, name: str) -> Collection | None:
    """By name: the user's own collection first, else one of their courses', else a shared one."""
    result = await session.execute(
        select(Collection)
        .where(Collection.name == name, course_scope.collection_visible(user_id))
        .order_by(*_NAME_ORDER)
        .limit(1)
    )
    return result.scalar_one_or_none()


async def find_shared_collection(session: AsyncSession, *, name: str) -> Collection | None:
    """The shared library's collection of that name (no owner, no course), if there is one."""
    result = await session.execute(
        select(Collection).where(
            Collection.name == name, Collection.owner_id.is_(None), Collection.course_id.is_(None)
        )
    )
    return result.scalar_one_or_none()


async def create_collection(
    session: AsyncSession,
    *,
    name: str,
    owner_id: uuid.UUID | None,
    description: str | None = None,
    course_id: uuid.UUID | None = None,
) -> Collection | None:
    """A new collection (a course's when `course_id`); None when that name is taken (per owner, among
    shared ones, or in the course)."""
    result = await session.execute(
        insert(Collection)
        .values(id=uuid.uuid4(), name=name, owner_id=owner_id, description=description, course_id=course_id)
        .on_conflict_do_nothing()
        .returning(Collection)
    )
    return result.scalar_one_or_none()


async def get_or_create_private_collection(
    session: AsyncSession, *, user_id: uuid.UUID, name: str
) -> Collection:
    await create_collection(session, name=name, owner_id=user_id)
    result = await session.execute(
        select(Collection).where(Collection.owner_id == user_id, Collection.name == name)
    )
    return result.scalar_one()


async def collections_overview(session: AsyncSession, *, limit: int) -> list[Any]:
    """Every collection (shared ones first, then by name) with its owner's e-mail and its documents
    counted by state: rows of (Collection, owner_email, documents, ready, ingesting, failed)."""
    status = Document.status
    query = (
        select(
            Collection,
            User.email.label("owner_email"),
            func.count(Document.id).label("documents"),
            func.count(Document.id).filter(status == "ready").label("ready"),
            func.count(Document.id).filter(status.in_(("pending", "processing"))).label("ingesting"),
            func.count(Document.id).filter(status == "failed").label("failed"),
        )
        .outerjoin(User, User.id == Collection.owner_id)
        .outerjoin(Document, Document.collection_id == Collection.id)
        .group_by(Collection.id, User.email)
        .order_by(Collection.owner_id.is_not(None), Collection.name, User.email)
        .limit(limit)
    )
    return list((await session.execute(query)).all())


# --- documents (API) --------------------------------------------------------------------------


def _insert_if_missing(
    *, collection_id: uuid.UUID, owner_id: uuid.UUID, source_key: str, fields: dict[str, Any]
):
    values = {"tags": [], "metadata": {}, **fields}
    return (
        insert(Document.__table__)  # the table, so `metadata` is the column name, not the ORM's attribute
        .values(
            id=uuid.uuid4(),
            collection_id=collection_id,
            owner_id=owner_id,
            source_key=source_key,
            status="pending",
            chunk_count=0,
            active_generation=0,
            **values,
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


def _decide(
    document: Document, *, content: bytes | None, content_hash: str | None, fields: dict[str, Any]
) -> str:
    """created | replaced | unchanged; applies the new fields unless unchanged."""
    fresh = document.content_hash is None and document.ingest_job_id is None
    if (
        not fresh
        and content_hash is not None
        and document.content_hash == content_hash
        and document.status != "failed"
    ):
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
        _insert_if_missing(
            collection_id=collection_id, owner_id=owner_id, source_key=source_key, fields=fields
        )
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
    session.execute(
        _insert_if_missing(
            collection_id=collection_id, owner_id=owner_id, source_key=source_key, fields=fields
        )
    )
    document = session.execute(_locked(collection_id, source_key)).scalar_one()
    action = _decide(document, content=content, content_hash=content_hash, fields=fields)
    if action != "unchanged" and content is not None:
        session.execute(_blob_upsert(document.id, content))
    return document, action


def add_archive_member(
    session: Session, *, archive: Document, member_name: str, content: bytes
) -> tuple[Document, str]:
    """A member of an archive as its own document, with the archive's metadata; returns (document, action)."""
    return upsert_document_sync(
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
            or_(
                Document.created_at < created_at,
                and_(Document.created_at == created_at, Document.id < document_id),
            )
        )
    query = query.order_by(Document.created_at.desc(), Document.id.desc()).limit(limit)
    return list((await session.execute(query)).scalars())


async def get_document(
    session: AsyncSession, *, document_id: uuid.UUID, collection_ids: Sequence[uuid.UUID]
) -> Document | None:
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


async def active_transcript(session: AsyncSession, *, document: Document) -> Transcript | None:
    """The transcript of the generation searches see (a recording's), or None."""
    return await session.get(Transcript, (document.id, document.active_generation))


async def delete_document(session: AsyncSession, *, document_id: uuid.UUID) -> None:
    """The document, its bytes, chunks and embeddings (cascades)."""
    await session.execute(delete(Document).where(Document.id == document_id))


async def has_stored_content(session: AsyncSession, *, document_id: uuid.UUID) -> bool:
    """Whether the document's bytes are stored (an upload, text, an archive member), so it can be
    ingested again without its client."""
    query = select(DocumentBlob.document_id).where(DocumentBlob.document_id == document_id)
    return (await session.execute(query)).first() is not None


async def mark_for_reingest(session: AsyncSession, *, document_id: uuid.UUID, job_id: uuid.UUID) -> None:
    """Back to `pending` under a new ingest job; its searchable chunks stay until the new ones flip."""
    await session.execute(
        update(Document)
        .where(Document.id == document_id)
        .values(status="pending", error=None, ingest_job_id=job_id, updated_at=func.now())
    )


# --- ingestion (workers) ----------------------------------------------------------------------


def load_for_ingest(session: Session, *, document_id: uuid.UUID) -> tuple[Document, bytes | None] | None:
    document = session.get(Document, document_id, populate_existing=True)
    if document is None:
        return None
    blob = session.get(DocumentBlob, document_id)
    return document, (blob.content if blob is not None else None)


def set_document_status(
    session: Session,
    *,
    document_id: uuid.UUID,
    status: str,
    error: dict[str, Any] | None = None,
    **fields: Any,
) -> None:
    values = {"status": status, "error": error, "updated_at": func.now(), **fields}
    if "metadata" in values:
        values["metadata_"] = values.pop("metadata")
    session.execute(update(Document).where(Document.id == document_id).values(**values))


def store_pending_generation(
    session: Session, *, document_id: uuid.UUID, generation: int, rows: list[dict[str, Any]], **fields: Any
) -> None:
    """Record what parsing found (`fields`, status `processing`) and write the next generation's chunks.

    The document row is updated first: inserting chunks takes a share lock on it, and upgrading
    that lock afterwards would deadlock with a DELETE of the document waiting in between."""
    set_document_status(session, document_id=document_id, status="processing", **fields)
    replace_pending_chunks(session, document_id=document_id, generation=generation, rows=rows)


def store_pending_transcript(
    session: Session, *, document_id: uuid.UUID, generation: int, fields: dict[str, Any]
) -> None:
    """Write a recording's transcript for the generation its chunks are written as (replacing
    what a crashed run left): it becomes the served one when that generation is activated."""
    values = {"document_id": document_id, "generation": generation, **fields}
    session.execute(
        insert(Transcript)
        .values(values)
        .on_conflict_do_update(index_elements=["document_id", "generation"], set_=fields)
    )


def replace_pending_chunks(
    session: Session, *, document_id: uuid.UUID, generation: int, rows: list[dict[str, Any]]
) -> None:
    """Write the chunks of a generation in one multi-row INSERT, first removing any a crashed run left."""
    session.execute(delete(Chunk).where(Chunk.document_id == document_id, Chunk.generation == generation))
    if rows:
        session.execute(
            insert(Chunk), [{"document_id": document_id, "generation": generation, **row} for row in rows]
        )


def activate_generation(session: Session, *, document_id: uuid.UUID, generation: int) -> int:
    """Make a generation the searchable one and drop the others, in the caller's one transaction."""
    count = session.execute(
        select(func.count())
        .select_from(Chunk)
        .where(Chunk.document_id == document_id, Chunk.generation == generation)
    ).scalar_one()
    session.execute(
        update(Document)
        .where(Document.id == document_id)
        .values(
            active_generation=generation, status="ready", error=None, chunk_count=count, updated_at=func.now()
        )
    )
    session.execute(delete(Chunk).where(Chunk.document_id == document_id, Chunk.generation != generation))
    session.execute(
        delete(Transcript).where(Transcript.document_id == document_id, Transcript.generation != generation)
    )
    return count


def document_heads(session: Session, *, chunk_ids: Sequence[int]) -> dict[int, str]:
    """For each chunk, the first chunk of its document's same generation (its opening lines: a
    byline, a dateline, the subject's full name), which the citation check reads beside the chunk:
    a fact stated once at the top holds for the rest of the document."""
    if not chunk_ids:
        return {}
    first = aliased(Chunk)
    rows = session.execute(
        select(Chunk.id, first.text)
        .join(
            first,
            and_(
                first.document_id == Chunk.document_id,
                first.generation == Chunk.generation,
                first.position == 0,
            ),
        )
        .where(Chunk.id.in_(list(chunk_ids)))
    )
    return {chunk_id: text for chunk_id, text in rows}
