"""The `grade` kind: grade one submission. Multiple choice, numeric and a short answer with accepted
answers (GIFT's) are graded exactly in code, weights included; code runs against the exercise's
tests in the sandbox; another short answer near-identical to the reference is correct at once, and
any other goes to the model with the rubric (the `judge` stage, on a gpu worker). The result moves
the learner model like a progress event."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core import lanes
from core.jobspec import JobSpec, Stage


class GradeInput(BaseModel):
    """Created by POST /api/learning/exercises/{id}/submissions."""

    model_config = ConfigDict(extra="forbid")

    submission_id: uuid.UUID


class JudgeAnswer(BaseModel):
    """What the model is asked for when it grades a short answer."""

    score: float = Field(ge=0, le=1)
    correct: bool
    feedback: str = Field(min_length=1, max_length=2000)
    mistakes: list[str] = Field(default_factory=list, max_length=10)
    hint_for_next_try: str = Field("", max_length=1000)


class TestSummary(BaseModel):
    passed: int
    total: int
    failed_visible: list[str] = Field(description="names of the visible tests that failed")
    hidden_failed: int = Field(description="hidden tests failed (never named)")
    # Assert tests run beside the learner's code, which could forge their outcome: shown, not scored.
    checks_passed: int = 0
    checks_total: int = 0


class MasteryChange(BaseModel):
    skill: str
    p_known: float


class GradeOutput(BaseModel):
    submission_id: uuid.UUID
    exercise_id: uuid.UUID
    attempt: int
    score: float
    correct: bool
    feedback: str
    mistakes: list[str]
    hint_for_next_try: str
    graded_by: Literal["exact", "fuzzy", "model", "sandbox"]
    tests: TestSummary | None = None
    # The sandbox limit the code hit: timeout, memory, output_limit or forbidden.
    limit: str | None = None
    mastery: list[MasteryChange]


SPEC = JobSpec(
    name="grade",
    instructed=True,
    description="Grade a submission to an exercise (/api/learning/exercises/{id}/submissions).",
    input_model=GradeInput,
    output_model=GradeOutput,
    queue=lanes.CPU,  # code runs here, never beside a model
    soft_time_limit=120,
    time_limit=150,
    internal=True,
    later_stages=(Stage(name="judge", queue=lanes.LLM, soft_time_limit=300, time_limit=330),),
)
