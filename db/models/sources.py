"""Scheduled sources (a page, feed, sitemap or folder refreshing a collection) and the log of their runs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class Source(Base):
    """Where a collection's documents come from, and when beat next looks there."""

    __tablename__ = "sources"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    collection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    # The admin who registered it: the documents it brings in, and its jobs, are theirs.
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    # page | feed | sitemap | folder (core/sources.py)
    kind: Mapped[str] = mapped_column(String(16))
    location: Mapped[str] = mapped_column(Text)
    schedule: Mapped[str] = mapped_column(String(100))
    remove_missing: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    paused_reason: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("collection_id", "location", name="uq_sources_collection_location"),
        Index("ix_sources_due", "next_run_at", postgresql_where=text("NOT paused")),
    )
    __mapper_args__ = {"eager_defaults": True}


class SourceRun(Base):
    """One run of a source: what it found and did, per-item errors, and the run's own error."""

    __tablename__ = "source_runs"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    source_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    # schedule | manual
    trigger: Mapped[str] = mapped_column(String(16))
    # running | succeeded | failed | skipped
    status: Mapped[str] = mapped_column(String(16))
    listed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    truncated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    added: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    changed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    unchanged: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    removed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    removal_skipped: Mapped[str | None] = mapped_column(String(32))
    item_errors: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_source_runs_source_started", "source_id", text("started_at DESC")),
        # One running run per source: a second one is recorded as skipped.
        Index(
            "uq_source_runs_running",
            "source_id",
            unique=True,
            postgresql_where=text("status = 'running'"),
        ),
    )
    __mapper_args__ = {"eager_defaults": True}
