"""Progress: recorded learning events and the learner model (mastery per skill, review cards)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class ProgressEvent(Base):
    """One thing a learner did: a task completed, the skills it exercised, how well."""

    __tablename__ = "progress_events"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("learning_sessions.id", ondelete="SET NULL")
    )
    completed_task: Mapped[str] = mapped_column(Text)
    skills: Mapped[list[str]] = mapped_column(JSONB, default=list)
    score: Mapped[float | None] = mapped_column(Float)
    correct: Mapped[bool] = mapped_column()
    duration_s: Mapped[float | None] = mapped_column(Float)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index("ix_progress_events_user_created", "user_id", "created_at", "id"),
        Index("ix_progress_events_session", "session_id", postgresql_where=text("session_id IS NOT NULL")),
    )
    __mapper_args__ = {"eager_defaults": True}


class SkillMastery(Base):
    """Bayesian Knowledge Tracing state of one skill of one learner."""

    __tablename__ = "skill_mastery"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    # The normalized name (the key); `name` keeps how the learner first wrote it.
    skill: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    p_known: Mapped[float] = mapped_column(Float)
    evidence: Mapped[int] = mapped_column(Integer)
    correct: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ReviewCard(Base):
    """An FSRS spaced-repetition card for one task or exercise of one learner."""

    __tablename__ = "review_cards"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    item_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    label: Mapped[str] = mapped_column(Text)
    card: Mapped[dict[str, Any]] = mapped_column(JSONB)
    due: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reviews: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_review_cards_user_due", "user_id", "due"),)
