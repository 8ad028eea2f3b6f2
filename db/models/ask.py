"""Ask: the answer cache and the per-collection content versions that invalidate it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class CollectionContentVersion(Base):
    """Bumped by a trigger whenever what a collection's search can return changes (migration
    2026_11_23_assistant); part of every answer-cache key."""

    __tablename__ = "collection_content_versions"

    collection_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


class AnswerCacheEntry(Base):
    """A grounded answer, reusable while everything that decided it is unchanged."""

    __tablename__ = "answer_cache"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    lookup_key: Mapped[str] = mapped_column(String(64), unique=True)
    context_key: Mapped[str] = mapped_column(String(64))
    # Set when a private collection was searched: the entry then answers only this user.
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    question: Mapped[str] = mapped_column(Text)
    content_words: Mapped[list[str]] = mapped_column(ARRAY(Text))
    embedding: Mapped[Any] = mapped_column(Vector())
    collection_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    instructions_version: Mapped[int | None] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(Text)
    output: Mapped[dict[str, Any]] = mapped_column(JSONB)
    job_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    hits: Mapped[int] = mapped_column(Integer, default=0)
    last_hit_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
