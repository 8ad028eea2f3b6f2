"""The `profile_ingest` kind: read a person's own words (an intro, a CV, a transcript) and turn them
into their profile's next revision, keeping only what the source supports."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core import lanes
from core.jobspec import JobSpec
from core.profiles.fields import Level


class ProfileSource(BaseModel):
    """What was sent; the bytes are the job's attachment (deleted with the job)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["file", "text"]
    filename: str | None = None
    content_type: str | None = None
    bytes: int = Field(ge=0)


class ProfileIngestInput(BaseModel):
    """Created by POST /api/profiles/ingest: for an account (`user_id`) or, by an admin, for a person
    without one (`external_id`)."""

    model_config = ConfigDict(extra="forbid")

    user_id: uuid.UUID | None = None
    external_id: str | None = Field(None, min_length=1, max_length=200)
    source: ProfileSource

    @model_validator(mode="after")
    def _one_target(self) -> ProfileIngestInput:
        if (self.user_id is None) == (self.external_id is None):
            raise ValueError("give exactly one of 'user_id' or 'external_id'")
        return self


# --- what the model is asked for (its JSON schema is sent with the request) ---------------------


class EvidencedSkill(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    level: Level | None = None
    evidence: str = Field(max_length=400, description="an exact quote from the source showing this skill")


class EvidencedItem(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    evidence: str = Field(max_length=400, description="an exact quote from the source")


class Extraction(BaseModel):
    """One window's answer. Every list item carries a quote that code looks for in the source."""

    display_name: str | None = Field(None, max_length=200)
    bio: str | None = Field(None, max_length=2000, description="two or three sentences about the person")
    bio_evidence: str | None = Field(None, max_length=400, description="a quote the bio rests on")
    level: Level | None = None
    skills: list[EvidencedSkill] = Field(default_factory=list, max_length=50)
    interests: list[EvidencedItem] = Field(default_factory=list, max_length=50)
    goals: list[EvidencedItem] = Field(default_factory=list, max_length=30)


# --- the job's output ---------------------------------------------------------------------------


class DroppedItem(BaseModel):
    field: str
    name: str
    evidence: str | None
    reason: str | None = Field(
        None,
        description="why: too_short, not_in_source, not_named, negation, hedge, aspiration, number, "
        "entity, antonym, unsupported_words (a bio)",
    )


class NotSaved(BaseModel):
    """Why an ingestion saved no revision (the profile is as it was)."""

    code: Literal["nothing_kept"]
    message: str


class ProfileIngestOutput(BaseModel):
    profile_id: uuid.UUID
    user_id: uuid.UUID | None
    external_id: str | None
    username: str
    revision: int
    skills: list[dict]
    interests: list[str]
    goals: list[str]
    level: Level | None
    bio: str | None
    kept: int
    # Items whose quote was not found in the source: the model is never trusted not to invent.
    dropped_unsupported: int
    dropped: list[DroppedItem] = Field(default_factory=list, description="the first 50 dropped items")
    saved: bool = Field(True, description="false when nothing was kept: no revision, the profile as it was")
    not_saved: NotSaved | None = None
    windows: int
    source_words: int
    model: str
    timings_ms: dict[str, int] = Field(default_factory=dict, description="parse, llm, save")


SPEC = JobSpec(
    name="profile_ingest",
    instructed=True,
    description="Extract a learner profile, evidence-checked, from a text or file (/api/profiles/ingest).",
    input_model=ProfileIngestInput,
    output_model=ProfileIngestOutput,
    queue=lanes.LLM,
    soft_time_limit=900,
    time_limit=960,
    internal=True,
)
