"""Matches: what a learner aims at (a target), how their skills meet its requirements (a match, its
score's history) and the plan for each gap."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Float, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class Target(Base):
    """A role, a course's outcomes or a syllabus, as text. A target made from a library document keeps
    a copy of its text, so its matches and reports do not change when the document does."""

    __tablename__ = "targets"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    source_document_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("documents.id", ondelete="SET NULL")
    )
    # The checked requirements, extracted once by the first match against the target.
    requirements: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    extraction: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __mapper_args__ = {"eager_defaults": True}


class Match(Base):
    """A candidate (the learner's profile, or a CV they sent) against a target. The score is computed
    in code from `breakdown` (one entry per requirement) and moves as the learner's mastery does."""

    __tablename__ = "matches"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    target_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    candidate_kind: Mapped[str] = mapped_column(String(16))
    # The candidate's skills as the match read them, each with its evidence.
    candidate: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    breakdown: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    score: Mapped[float | None] = mapped_column(Float)
    # The requirements' skill keys: a progress event rescores only the matches it can move.
    skill_keys: Mapped[list[str]] = mapped_column(ARRAY(String(100)), default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index("ix_matches_owner_created", "owner_id", "created_at", "id"),
        Index("ix_matches_skill_keys", "skill_keys", postgresql_using="gin"),
    )
    __mapper_args__ = {"eager_defaults": True}


class MatchScore(Base):
    """A match's score each time it moved, and why."""

    __tablename__ = "match_scores"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    match_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"), index=True)
    score: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(32))
    closed_gaps: Mapped[list[str]] = mapped_column(JSONB, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class MatchGap(Base):
    """One gap of a match and its plan: a `resources` job and an `exercise` job for its skill.
    Closed once the requirement is met (the learner's mastery rose past the threshold)."""

    __tablename__ = "match_gaps"

    match_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("matches.id", ondelete="CASCADE"), primary_key=True
    )
    requirement: Mapped[int] = mapped_column(Integer, primary_key=True)  # its index in the breakdown
    skill: Mapped[str] = mapped_column(Text)
    resources_job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    exercise_job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
