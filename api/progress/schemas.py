"""Progress: recorded learning events, the learner model, reviews, insights."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.jobs.schemas import JobRead

# --- progress ---------------------------------------------------------------------------------


class ProgressCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    completed_task: str = Field(min_length=1, max_length=500)
    skills: list[str] = Field(default_factory=list, max_length=20)
    score: float | None = Field(None, ge=0, le=1)
    duration_s: float | None = Field(None, ge=0, le=86_400 * 7)
    session_id: uuid.UUID | None = None
    notes: str | None = Field(None, max_length=5000)
    # The original service took the learner in the body; here the token says who it is, and a
    # different user_id is refused (403), never recorded for someone else.
    user_id: uuid.UUID | None = None


class ProgressEventRead(BaseModel):
    id: uuid.UUID
    completed_task: str
    skills: list[str]
    score: float | None
    correct: bool
    duration_s: float | None
    notes: str | None
    session_id: uuid.UUID | None
    created_at: datetime


class MasteryRead(BaseModel):
    skill: str
    p_known: float = Field(description="Bayesian Knowledge Tracing: probability the skill is known")
    evidence: int
    correct: int
    mastered: bool = Field(description="p_known >= 0.95, the usual BKT mastery threshold")


class ReviewRead(BaseModel):
    item: str
    label: str
    due: datetime
    reviews: int


class ProgressRecorded(BaseModel):
    event: ProgressEventRead
    mastery: list[MasteryRead]
    review: ReviewRead
    job: JobRead


class InsightRead(BaseModel):
    job_id: uuid.UUID
    completed_at: datetime | None
    insight: dict[str, Any]


class ProgressRead(BaseModel):
    timeline: list[ProgressEventRead]
    next_cursor: str | None = None
    mastery: list[MasteryRead]
    reviews_due: list[ReviewRead]
    streak_days: int
    latest_insight: InsightRead | None
