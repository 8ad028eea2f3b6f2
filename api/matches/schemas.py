"""The matches feature's HTTP shapes: targets, matches, and the detail a report renders."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from api.jobs.schemas import JobRead
from core.matches import clean


def _cleaned(rule):
    """Clean a client's string before its length is checked; leave anything else to the type check."""
    return BeforeValidator(lambda value: rule(value) if isinstance(value, str) else value)


# A target's words reach the model, the stored requirements and every report: kept clean at the
# door (core/matches/clean.py). A title is one line; a text keeps its lines.
TargetTitle = Annotated[str, Field(min_length=1, max_length=200), _cleaned(clean.one_line)]
TargetText = Annotated[str, Field(min_length=1), _cleaned(clean.lines)]


class TargetCreate(BaseModel):
    """A target as text, or a document of the library you can read (its text is copied)."""

    model_config = ConfigDict(extra="forbid")

    title: TargetTitle | None = None
    text: TargetText | None = None
    document_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _one_source(self) -> TargetCreate:
        if (self.text is None) == (self.document_id is None):
            raise ValueError("give exactly one of 'text' or 'document_id'")
        return self


class TargetRead(BaseModel):
    id: uuid.UUID
    title: str
    chars: int
    source_document_id: uuid.UUID | None
    requirements: list[dict[str, Any]] | None = Field(description="null until a first match reads them")
    created_at: datetime


class MatchCreate(BaseModel):
    """`target_id`, or a `target` given inline (made a target of yours); the candidate is your
    profile (JSON) or a CV (multipart `cv`)."""

    model_config = ConfigDict(extra="forbid")

    target_id: uuid.UUID | None = None
    target: TargetCreate | None = None
    candidate: Literal["profile"] = "profile"
    session_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _one_target(self) -> MatchCreate:
        if (self.target_id is None) == (self.target is None):
            raise ValueError("give exactly one of 'target_id' or 'target'")
        return self


class MatchCreated(BaseModel):
    id: uuid.UUID
    target_id: uuid.UUID
    job: JobRead


class Evidence(BaseModel):
    target_quote: str
    candidate: dict[str, Any] | None = Field(description="the profile's or the CV's skill, with its quote")
    mastery: dict[str, Any] | None = Field(description="the learner's BKT figures for the skill")


class RequirementResult(BaseModel):
    index: int
    skill: str
    level: str | None
    importance: Literal["must", "nice"]
    weight: int
    status: Literal["met", "partial", "gap"]
    credit: float
    because: str
    evidence: Evidence
    corrected: list[str]


class PlanJob(BaseModel):
    job_id: uuid.UUID | None
    status: str | None
    result: dict[str, Any] | None = Field(description="what to read, or the exercise's id, once done")


class PlanItem(BaseModel):
    requirement: int
    skill: str
    importance: Literal["must", "nice"]
    closed: bool
    closed_at: datetime | None
    recommendation: str
    resources_job: PlanJob | None
    exercise_job: PlanJob | None


class ScorePoint(BaseModel):
    score: float
    reason: str
    closed_gaps: list[str]
    at: datetime


class MatchSummary(BaseModel):
    id: uuid.UUID
    target_id: uuid.UUID
    target_title: str
    candidate: str
    status: str = Field(description="the match job's status: queued, running, succeeded, failed, canceled")
    score: float | None
    created_at: datetime
    updated_at: datetime


class MatchDetail(MatchSummary):
    learner: str | None = Field(description="the owner's display name, else their username")
    job_id: uuid.UUID | None
    error: dict[str, Any] | None
    how_scored: str
    requirements: list[RequirementResult]
    strengths: list[RequirementResult]
    gaps: list[RequirementResult]
    plan: list[PlanItem]
    history: list[ScorePoint]


class MatchList(BaseModel):
    items: list[MatchSummary]
