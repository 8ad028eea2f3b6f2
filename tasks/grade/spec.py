"""The `grade` kind: grade one submission. Multiple choice, multiple answer, matching, numeric and a
short answer with accepted answers (GIFT's) are graded exactly in code, weights included; code runs
against the exercise's tests in the sandbox; another short answer that is the reference word for word is
correct at once, and any other goes to the model with the rubric (the `judge` stage, on a gpu
worker). An essay goes to the model too, whose reasons must quote the learner's words (checked as
evidence is), or is left for an instructor. The result moves the learner model like a progress
event."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core import lanes
from core.jobspec import JobSpec, Stage
from core.progress.learner_model import CORRECT_AT


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


class EssayReason(BaseModel):
    """A reason for an essay's grade, resting on the learner's own words."""

    quote: str = Field(min_length=1, max_length=600, description="the learner's words, as they wrote them")
    comment: str = Field(min_length=1, max_length=600, description="what those words show, or get wrong")


class EssayJudgement(BaseModel):
    """What the model is asked for when it grades an essay."""

    score: float = Field(ge=0, le=1)
    feedback: str = Field(min_length=1, max_length=2000)
    reasons: list[EssayReason] = Field(default_factory=list, max_length=8)
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
    status: Literal["graded", "awaiting_instructor"] = Field(
        "graded", description="awaiting_instructor: an essay left for an instructor (score and correct null)"
    )
    score: float | None
    correct: bool | None
    feedback: str
    mistakes: list[str]
    hint_for_next_try: str
    graded_by: Literal["exact", "fuzzy", "model", "sandbox", "instructor"]
    reasons: list[EssayReason] = Field(
        default_factory=list, description="essay: the grade's reasons, each quoting what the learner wrote"
    )
    reasons_dropped: int = Field(
        0,
        description="essay: the model's reasons not shown (a quote that is not the learner's words, or a "
        "comment that named the model answer)",
    )
    tests: TestSummary | None = None
    # The sandbox limit the code hit: timeout, memory, output_limit or forbidden.
    limit: str | None = None
    mastery: list[MasteryChange]


def recorded_grade(submission: Any, *, score: float, mastery: Iterable[Any], **fields: Any) -> GradeOutput:
    """A grade recorded in the learner model: `correct` follows the score (one rule for every grader),
    each mastery row its skill and p_known."""
    return GradeOutput(
        submission_id=submission.id,
        exercise_id=submission.exercise_id,
        attempt=submission.attempt,
        score=score,
        correct=score >= CORRECT_AT,
        mastery=[MasteryChange(skill=row.name, p_known=round(row.p_known, 4)) for row in mastery],
        **fields,
    )


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
