"""The `progress_insight` kind: what a learner's progress says, and what to study next, grounded in
the library and checked in code."""

from __future__ import annotations

import re
import uuid

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core import lanes
from core.jobspec import JobSpec


class InsightInput(BaseModel):
    """Created by POST /api/profiles/progress; reads the learner's state when it runs, so one job
    serves a burst of events."""

    model_config = ConfigDict(extra="forbid")

    user_id: uuid.UUID


WORD = re.compile(r"[^\W\d_]{2,}")  # two letters or more, in any script


class NextStep(BaseModel):
    action: str = Field(min_length=1, max_length=500)
    reason: str = Field("", max_length=1000)
    skill: str | None = Field(None, max_length=100)
    cited_chunk_ids: list[int] = Field(default_factory=list, max_length=10)


class InsightAnswer(BaseModel):
    """What the model is asked for (its JSON schema goes with the request)."""

    summary: str = Field(min_length=1, max_length=2000)
    strengths: list[str] = Field(default_factory=list, max_length=20)
    gaps: list[str] = Field(default_factory=list, max_length=20)
    next_steps: list[NextStep] = Field(default_factory=list, max_length=10)

    @field_validator("summary")
    @classmethod
    def _has_words(cls, summary: str) -> str:
        # A learner reads this: brackets, digits and punctuation alone are a model failing.
        if not WORD.search(summary):
            raise ValueError("the summary must be written in words")
        return summary


class SkillState(BaseModel):
    skill: str
    p_known: float
    evidence: int


class CitedChunk(BaseModel):
    chunk_id: int
    document_id: uuid.UUID
    title: str


class InsightOutput(BaseModel):
    summary: str
    strengths: list[str]
    gaps: list[str]
    next_steps: list[NextStep]
    # False when the learner has recorded nothing yet (the advice then rests on the profile alone).
    history: bool
    weakest_skills: list[SkillState]
    retrieved: list[CitedChunk]
    # What the check removed: strengths or gaps naming no skill in the history, citations of
    # chunks the search did not return, next steps' skills outside the history.
    dropped: dict[str, int]
    model: str


SPEC = JobSpec(
    name="progress_insight",
    instructed=True,
    description="Summarise a learner's progress and suggest grounded next steps (after each progress event).",
    input_model=InsightInput,
    output_model=InsightOutput,
    queue=lanes.LLM,
    soft_time_limit=300,
    time_limit=330,
    internal=True,
)
