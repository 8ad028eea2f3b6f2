"""Jobs and their event timeline: the source of truth for every job."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from core.job_status import JobStatus
from db.base import Base


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(64))
    # None for a job of the platform itself that outlives its subject (an account deletion).
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The learning session the request was made in, if any.
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("learning_sessions.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.queued.value)
    input: Mapped[dict[str, Any]] = mapped_column(JSONB)
    output: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    queue: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_events: Mapped[list[str] | None] = mapped_column(JSONB)
    # Set when the receiver answered 410 Gone: no more deliveries for this job.
    webhook_disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    worker: Mapped[str | None] = mapped_column(String(255))
    # For kinds that run in stages on different queues (ingest: parse on cpu, embed on gpu).
    stage: Mapped[str | None] = mapped_column(String(32))
    # The version of the kind's instructions (system prompt guidance) the job ran with.
    instructions_version: Mapped[int | None] = mapped_column(Integer)
    # Queued but not sent: its owner had enough jobs in the LLM lane (db/admission.py).
    held: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The provider and model that answered the job's last LLM call (db/llm_routes.py); None until one did.
    llm_provider: Mapped[str | None] = mapped_column(String(32))
    llm_model: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_jobs_owner_created", "owner_id", "created_at", "id"),
        # The admin statistics' windows, and its failures and cache hits read on their own.
        Index("ix_jobs_created_at", "created_at"),
        Index("ix_jobs_failed_created_at", "created_at", postgresql_where=text("status = 'failed'")),
        Index(
            "ix_jobs_ask_cache_hits",
            "created_at",
            postgresql_where=text("kind = 'ask' AND status = 'succeeded' AND output->>'cached' = 'true'"),
        ),
        Index("ix_jobs_status_active", "status", postgresql_where=text("status IN ('queued', 'running')")),
        Index("ix_jobs_owner_active", "owner_id", postgresql_where=text("status IN ('queued', 'running')")),
        Index("ix_jobs_session", "session_id", postgresql_where=text("session_id IS NOT NULL")),
        Index(
            "ix_jobs_held",
            "owner_id",
            text("priority DESC"),
            "created_at",
            postgresql_where=text("held AND status = 'queued'"),
        ),
        Index(
            "ix_jobs_finished_completed_at",
            "completed_at",
            postgresql_where=text("status IN ('succeeded', 'failed', 'canceled')"),
        ),
        Index(
            "uq_jobs_owner_idempotency_key",
            "owner_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
    )
    __mapper_args__ = {"eager_defaults": True}


class JobEvent(Base):
    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_job_events_job_id_id", "job_id", "id"),)
    # Load id and created_at on insert: events are published after the session is gone.
    __mapper_args__ = {"eager_defaults": True}


class JobAttachment(Base):
    """Bytes a job reads (an uploaded profile source), kept beside the job and deleted with it."""

    __tablename__ = "job_attachments"

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    filename: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)
