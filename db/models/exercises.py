"""Exercises and their submissions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base
from db.models.jobs import Job
from db.models.learning_sessions import LearningSession

# Why the relationships below exist, never read (lazy="raise"): SQLAlchemy's unit of work orders the
# INSERTs of mappers with no relationship between them by module and class name, not by foreign key,
# and "db.models.exercises" sorts before "db.models.jobs". A submission and its grade job are added
# in one flush (api/exercises/service.submit); a relationship makes the job's INSERT come first.


class Exercise(Base):
    """A published exercise. What the learner may see is in plain columns; the answer key, rubric,
    reference solution and hidden tests are in `key`, which no learner-facing reader selects."""

    __tablename__ = "exercises"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    # The learner it was generated for; NULL for an exercise an admin wrote (everyone may answer it).
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # An authored exercise of an LTI course: only its members (and admins) see it, and it launches
    # only from that course. Removing the course removes it.
    course_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("lti_contexts.id", ondelete="CASCADE"))
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("learning_sessions.id", ondelete="SET NULL")
    )
    job: Mapped[Job | None] = relationship(lazy="raise")  # flush order only (see the top)
    learning_session: Mapped[LearningSession | None] = relationship(lazy="raise")  # flush order only
    source: Mapped[str] = mapped_column(Text)  # generated | authored | gift
    # qa | multiple_choice | coding | numeric | multiple_answer | matching | essay | description
    exercise_type: Mapped[str] = mapped_column(Text)
    topic: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)  # a Moodle question's name
    text_format: Mapped[str | None] = mapped_column(Text)  # moodle | html | plain | markdown
    blank_at: Mapped[int | None] = mapped_column(Integer)  # a missing word's "_____" in the prompt
    skills: Mapped[list[str]] = mapped_column(JSONB, default=list)
    difficulty: Mapped[str | None] = mapped_column(Text)
    prompt: Mapped[str] = mapped_column(Text)
    # Multiple choice and multiple answer: the options; matching: the matches to pick from.
    choices: Mapped[list[str] | None] = mapped_column(JSONB)
    items: Mapped[list[str] | None] = mapped_column(JSONB)  # matching: what each match goes with
    starter_code: Mapped[str | None] = mapped_column(Text)
    visible_tests: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    hints: Mapped[list[str]] = mapped_column(JSONB, default=list)
    cited_chunk_ids: Mapped[list[int]] = mapped_column(JSONB, default=list)
    grounded: Mapped[bool] = mapped_column(Boolean)
    key: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index("ix_exercises_owner_created", "owner_id", "created_at"),
        Index("ix_exercises_course", "course_id", postgresql_where=text("course_id IS NOT NULL")),
    )
    __mapper_args__ = {"eager_defaults": True}


class Submission(Base):
    """One attempt at an exercise and, once graded, its result."""

    __tablename__ = "submissions"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    exercise_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exercises.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    job: Mapped[Job | None] = relationship(lazy="raise")  # flush order only (see the top)
    attempt: Mapped[int] = mapped_column(Integer)
    answer: Mapped[str] = mapped_column(Text)
    # grading | graded | failed | awaiting_instructor (an essay an instructor grades)
    status: Mapped[str] = mapped_column(Text, default="grading")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    graded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("exercise_id", "user_id", "attempt", name="uq_submissions_attempt"),
        Index("ix_submissions_user", "user_id"),
        # The reconciler's: submissions still being graded (db/exercises.py).
        Index("ix_submissions_grading", "created_at", postgresql_where=text("status = 'grading'")),
        # The instructors' queue: essays waiting for a grade, oldest first.
        Index(
            "ix_submissions_awaiting_instructor",
            "created_at",
            postgresql_where=text("status = 'awaiting_instructor'"),
        ),
    )
    __mapper_args__ = {"eager_defaults": True}
