"""The knowledge store: collections, documents and their bytes, chunks, embeddings, the active model."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR, UUID
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class Collection(Base):
    """A named set of documents: a user's private one (owner set), a shared library (owner and course
    NULL, every user reads it) or a course's library (course set: only that course's members and
    admins read it, its instructors write it). Names are unique per owner, among the shared
    libraries, and per course."""

    __tablename__ = "collections"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The LTI course (db/models/lti.py) whose members alone read it; removing the course removes it.
    course_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("lti_contexts.id", ondelete="CASCADE"))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index(
            "uq_collections_owner_name",
            "owner_id",
            "name",
            unique=True,
            postgresql_where=text("owner_id IS NOT NULL"),
        ),
        Index(
            "uq_collections_shared_name",
            "name",
            unique=True,
            postgresql_where=text("owner_id IS NULL AND course_id IS NULL"),
        ),
        Index(
            "uq_collections_course_name",
            "course_id",
            "name",
            unique=True,
            postgresql_where=text("course_id IS NOT NULL"),
        ),
        # A collection is a user's or a course's, never both.
        CheckConstraint("owner_id IS NULL OR course_id IS NULL", name="private_or_course"),
    )
    __mapper_args__ = {"eager_defaults": True}

    @property
    def shared(self) -> bool:
        """A library every user reads (neither a user's nor a course's)."""
        return self.owner_id is None and self.course_id is None


class Document(Base):
    """One source (a file, a URL, a text) in a collection; its chunks are replaced as a whole."""

    __tablename__ = "documents"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    collection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # What makes "the same document" in a collection: its source URL, else its file name, else its title.
    source_key: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    source_url: Mapped[str | None] = mapped_column(Text)
    filename: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(String(200))
    format: Mapped[str | None] = mapped_column(String(16))
    tags: Mapped[list[str]] = mapped_column(JSONB, default=list)
    resource_type: Mapped[str | None] = mapped_column(String(16))
    level: Mapped[str | None] = mapped_column(String(16))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    byte_size: Mapped[int | None] = mapped_column(BigInteger)
    # pending -> processing -> ready | failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    # Searches see only chunks of the active generation; a re-ingest writes the next one and flips it.
    active_generation: Mapped[int] = mapped_column(Integer, default=0)
    ingest_job_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    # The scheduled source that brought it in (db/models/sources.py); NULL once that source is deleted.
    source_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index("uq_documents_collection_source", "collection_id", "source_key", unique=True),
        Index("ix_documents_owner_created", "owner_id", "created_at"),
        Index(
            "ix_documents_ingest_job_id", "ingest_job_id", postgresql_where=text("ingest_job_id IS NOT NULL")
        ),
        Index("ix_documents_source", "source_id", postgresql_where=text("source_id IS NOT NULL")),
        # The documents being ingested, whose pending chunks an embed call gathers.
        Index("ix_documents_being_ingested", "updated_at", postgresql_where=text("status = 'processing'")),
    )
    __mapper_args__ = {"eager_defaults": True}


class DocumentBlob(Base):
    """The bytes to ingest, kept in PostgreSQL so any worker host can read them (no shared disk)."""

    __tablename__ = "document_blobs"

    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    content: Mapped[bytes] = mapped_column(LargeBinary)


class Chunk(Base):
    __tablename__ = "chunks"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    generation: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    heading_path: Mapped[list[str]] = mapped_column(JSONB, default=list)
    start_s: Mapped[float | None] = mapped_column(Float)
    end_s: Mapped[float | None] = mapped_column(Float)
    page: Mapped[int | None] = mapped_column(Integer)
    token_count: Mapped[int] = mapped_column(Integer)
    # Who speaks in it (a transcript's chunk), in order of first speech; [] when nobody is known.
    speakers: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    tsv: Mapped[Any] = mapped_column(
        TSVECTOR, Computed("to_tsvector('english', coalesce(text, ''))", persisted=True)
    )

    __table_args__ = (
        Index("uq_chunks_document_generation_position", "document_id", "generation", "position", unique=True),
        Index("ix_chunks_tsv", "tsv", postgresql_using="gin"),
        Index("ix_chunks_speakers", "speakers", postgresql_using="gin"),
    )


class Transcript(Base):
    """A recording's transcript (core/recordings.py), one per generation of its chunks: the
    generation the document's searches see is the transcript GET /v1/documents/{id}/transcript
    serves, and a re-ingest replaces both in one transaction."""

    __tablename__ = "transcripts"

    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    generation: Mapped[int] = mapped_column(Integer, primary_key=True)
    engine: Mapped[str] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(16))
    duration_s: Mapped[float] = mapped_column(Float)
    # [{"start_s", "end_s", "text", "words": [{"word", "start_s", "end_s"}]}]
    segments: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    # The speakers named after enrolled voices (workers/recordings/voices.py), and for each speaker
    # left unnamed its nearest profile: [{"label", "profile_id", "name", "role", "similarity", "named"}].
    speaker_matches: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Embedding(Base):
    """A chunk's vector under one model; the column has no fixed dimension so models can coexist."""

    __tablename__ = "embeddings"

    chunk_id: Mapped[int] = mapped_column(ForeignKey("chunks.id", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    embedding: Mapped[Any] = mapped_column(Vector())


class KnowledgeState(Base):
    """Small platform-wide facts, e.g. which embedding model searches use right now."""

    __tablename__ = "knowledge_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
