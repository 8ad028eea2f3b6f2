"""The `exercise` kind: an exercise generated for a learner (or written by an admin), published only
through the gate (core/exercises/rules.py, plus the coding check in the sandbox)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from core import lanes
from core.exercises.code_tests import VisibleTest
from core.exercises.rules import AuthoredDraft, ExerciseType, TextFormat
from core.jobspec import JobSpec
from core.profiles.fields import Level


class ExerciseInput(BaseModel):
    """Created by POST /api/learning/exercises (for the learner) and POST /v1/admin/exercises
    (`authored`: an admin's exercise with its key, checked by the same gate)."""

    model_config = ConfigDict(extra="forbid")

    exercise_type: ExerciseType
    user_id: uuid.UUID | None = None
    topic: str | None = Field(None, max_length=200)
    skills: list[str] = Field(default_factory=list, max_length=10)
    difficulty: Level | None = None
    authored: AuthoredDraft | None = None
    # An authored exercise of an LTI course (POST /v1/lti/courses/{id}/exercises): its members' only.
    course_id: uuid.UUID | None = None


class ExerciseOutput(BaseModel):
    """The published exercise as the learner sees it: never its answer, rubric, solution or hidden
    tests (those stay in the exercise's key, read only by the grader)."""

    exercise_id: uuid.UUID
    exercise_type: ExerciseType
    topic: str | None
    title: str | None = None
    text_format: TextFormat | None = None
    skills: list[str]
    difficulty: Level | None
    prompt: str
    blank_at: int | None = None
    # Multiple choice and answer: the options; matching: the matches. In the order the learner it was
    # made for sees them (an admin's in the author's).
    choices: list[str] | None
    items: list[str] | None = Field(None, description="matching: the items each to be given a match")
    starter_code: str | None
    visible_tests: list[VisibleTest]
    hidden_tests: int
    hints: list[str]
    cited_chunk_ids: list[int]
    # False when the library had nothing on the topic: made from the model's general knowledge.
    grounded: bool
    grounding_note: str | None
    drafts: int = Field(description="drafts made until one passed the gate")
    rejected: list[list[str]] = Field(description="why each earlier draft was rejected")
    model: str | None


SPEC = JobSpec(
    name="exercise",
    instructed=True,
    description="Generate or check an exercise and publish it through the gate (/api/learning/exercises).",
    input_model=ExerciseInput,
    output_model=ExerciseOutput,
    queue=lanes.LLM,
    soft_time_limit=600,
    time_limit=660,
    internal=True,
)
