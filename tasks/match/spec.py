"""The `match` kind: a candidate (the learner's profile, or a CV they sent) against a target (a role,
a course's outcomes, a syllabus): requirements extracted by the model and checked in code, a score
computed in code, strengths and gaps with evidence from both sides, and a plan for the gaps."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core import lanes
from core.jobspec import JobSpec
from core.profiles.fields import Level

Importance = Literal["must", "nice"]


class MatchInput(BaseModel):
    """Created by POST /api/matches; the match row holds the target and the candidate's kind (a CV's
    bytes are the job's attachment)."""

    model_config = ConfigDict(extra="forbid")

    match_id: uuid.UUID


# --- what the model is asked for (its JSON schema is sent with the request) ---------------------


class ExtractedRequirement(BaseModel):
    skill: str = Field(min_length=1, max_length=100, description="one skill, tool or topic, short")
    level: Level | None = None
    importance: Importance = Field(description="must (required) or nice (nice to have)")
    quote: str = Field(max_length=400, description="an exact quote from the target stating this requirement")


class RequirementsAnswer(BaseModel):
    """One window's requirements. Every item carries a quote that code looks for in the target."""

    requirements: list[ExtractedRequirement] = Field(default_factory=list, max_length=60)


class CandidateSkill(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    level: Level | None = None
    evidence: str = Field(max_length=400, description="an exact quote from the CV showing this skill")


class CandidateAnswer(BaseModel):
    """A CV window's skills, each with its quote."""

    skills: list[CandidateSkill] = Field(default_factory=list, max_length=60)


# --- the job's output ---------------------------------------------------------------------------


class Dropped(BaseModel):
    side: Literal["target", "candidate"]
    name: str
    quote: str | None
    reason: str | None


class PlanEntry(BaseModel):
    requirement: int
    skill: str
    resources_job_id: uuid.UUID | None
    exercise_job_id: uuid.UUID | None


class MatchOutput(BaseModel):
    match_id: uuid.UUID
    target_id: uuid.UUID
    score: float = Field(description="computed in code from the breakdown (0-100)")
    requirements: int
    met: int
    partial: int
    gaps: int
    requirements_reused: bool = Field(description="the target's requirements came from an earlier match")
    dropped_unsupported: int = Field(description="requirements or CV skills whose quote the source lacks")
    dropped: list[Dropped] = Field(default_factory=list, description="the first 50 dropped items")
    corrected: int = Field(0, description="importance or level read from the target's words over the model's")
    ignored_model_fields: list[str] = Field(
        default_factory=list, description="fields the model added that nothing reads (a score, say)"
    )
    plan: list[PlanEntry] = Field(default_factory=list)
    model: str | None
    timings_ms: dict[str, int] = Field(
        default_factory=dict,
        description="llm: the model's calls; platform: the rest (reads, checks, the score, the plan, saving)",
    )


SPEC = JobSpec(
    name="match",
    instructed=True,
    description="Match a learner (profile or CV) against a target, with a plan for the gaps (/api/matches).",
    input_model=MatchInput,
    output_model=MatchOutput,
    queue=lanes.LLM,
    soft_time_limit=900,
    time_limit=960,
    internal=True,
)
