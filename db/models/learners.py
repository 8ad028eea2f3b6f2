"""The learner: profiles and their revisions, learning sessions, progress events and the learner model."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class Profile(Base):
    """Who a learner is. An account's profile (user_id), or a person without one (external_id, admins)."""

    __tablename__ = "profiles"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(200))
    username: Mapped[str] = mapped_column(String(40))
    display_name: Mapped[str | None] = mapped_column(Text)
    bio: Mapped[str | None] = mapped_column(Text)
    skills: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    interests: Mapped[list[str]] = mapped_column(JSONB, default=list)
    goals: Mapped[list[str]] = mapped_column(JSONB, default=list)
    level: Mapped[str | None] = mapped_column(String(16))
    wiki_content: Mapped[str] = mapped_column(Text, default="")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # The wiki's document in the user's private `profile` collection (None until it has content).
    wiki_document_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("documents.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index("uq_profiles_user_id", "user_id", unique=True, postgresql_where=text("user_id IS NOT NULL")),
        Index(
            "uq_profiles_external_id",
            "external_id",
            unique=True,
            postgresql_where=text("external_id IS NOT NULL"),
        ),
        Index("uq_profiles_username", text("lower(username)"), unique=True),
    )
    __mapper_args__ = {"eager_defaults": True}


class ProfileRevision(Base):
    """A profile as it was after one change; kept so any of them can be restored."""

    __tablename__ = "profile_revisions"

    profile_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("profiles.id", ondelete="CASCADE"), primary_key=True
    )
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # edit | restore:<n> | ingest:<job id> | admin:<user id> | created
    source: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __mapper_args__ = {"eager_defaults": True}


class LearningSession(Base):
    """A sitting of study that groups the jobs and progress made in it; closed when ended or idle."""

    __tablename__ = "learning_sessions"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str | None] = mapped_column(Text)
    topic: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_activity_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_learning_sessions_user_created", "user_id", "created_at", "id"),)
    __mapper_args__ = {"eager_defaults": True}


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
