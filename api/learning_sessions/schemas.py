"""Learning sessions: open, list, read, end; every learning request may name one."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.exercises.schemas import ExerciseRead
from api.jobs.schemas import JobRead
from api.progress.schemas import ProgressEventRead

# --- sessions ---------------------------------------------------------------------------------


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, max_length=200)
    topic: str | None = Field(None, max_length=500)


class SessionRead(BaseModel):
    id: uuid.UUID
    title: str | None
    topic: str | None
    status: str = Field(description="open, ended or expired (idle past MENTORQ_SESSION_IDLE_MINUTES)")
    created_at: datetime
    last_activity_at: datetime
    ended_at: datetime | None


class SessionList(BaseModel):
    items: list[SessionRead]
    next_cursor: str | None = None


class SessionDetail(SessionRead):
    jobs: list[JobRead]
    progress: list[ProgressEventRead]
    exercises: list[ExerciseRead]
