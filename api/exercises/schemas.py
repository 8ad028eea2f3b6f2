"""Exercises and their submissions (grading is the `grade` kind); authored and GIFT-imported exercises;
essays waiting for an instructor's grade."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from api.jobs.schemas import JobRead
from core.exercises.code_tests import VisibleTest
from core.exercises.rules import (
    MAX_OPTIONS,
    AuthoredDraft,
    ExerciseType,
    GeneratedExerciseType,
    TextFormat,
    grounding_note,
    learner_order,
)
from core.profiles.fields import Level
from core.settings import get_settings

MAX_ANSWER_BYTES = 64 * 1024


class ExerciseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exercise_type: GeneratedExerciseType
    topic: str | None = Field(None, min_length=1, max_length=200)
    skills: list[str] = Field(default_factory=list, max_length=10)
    difficulty: Level | None = None
    session_id: uuid.UUID | None = None


VisibleTestRead = VisibleTest  # one shape for the exercise job's output and a learner's read


class ExerciseRead(BaseModel):
    """What a learner sees of an exercise: never its answer, rubric, solution or hidden tests."""

    id: uuid.UUID
    exercise_type: ExerciseType
    source: str = Field(description="generated (for you), authored or gift (by an admin, for everyone)")
    topic: str | None
    title: str | None = Field(description="the question's name (from GIFT's ::title::)")
    text_format: TextFormat | None = Field(
        description="how to render the prompt and choices (Moodle's formats); null when not stated"
    )
    skills: list[str]
    difficulty: Level | None
    prompt: str
    blank_at: int | None = Field(
        description="missing word: where the answer goes, a '_____' at this character offset in the prompt"
    )
    choices: list[str] | None = Field(
        description="multiple choice and multiple answer: the options; matching: the matches to pick from "
        "(plain text). In an order fixed for you (the same on every read), not the author's"
    )
    items: list[str] | None = Field(
        None, description="matching: the items, in the author's order, each to be given one of the choices"
    )
    starter_code: str | None
    visible_tests: list[VisibleTestRead]
    hidden_tests: int
    hints: list[str]
    cited_chunk_ids: list[int]
    grounded: bool
    grounding_note: str | None = Field(
        description="set when a generated exercise is not grounded in the library"
    )
    created_at: datetime


def exercise_read(exercise: Any, *, learner_id: uuid.UUID | None = None) -> ExerciseRead:
    """An `exercises` row as the learner sees it (never its `key`), its choices in the order fixed for
    that learner (by default the one it was generated for)."""
    learner_id = learner_id or exercise.owner_id
    choices = exercise.choices
    if choices and learner_id is not None:
        choices = learner_order(
            choices, exercise_id=exercise.id, learner_id=learner_id, secret=get_settings().secret_key
        )
    return ExerciseRead(
        id=exercise.id,
        exercise_type=exercise.exercise_type,  # type: ignore[arg-type]
        source=exercise.source,
        topic=exercise.topic,
        title=exercise.title,
        text_format=exercise.text_format,  # type: ignore[arg-type]
        skills=exercise.skills,
        difficulty=exercise.difficulty,  # type: ignore[arg-type]
        prompt=exercise.prompt,
        blank_at=exercise.blank_at,
        choices=choices,
        items=exercise.items,
        starter_code=exercise.starter_code,
        visible_tests=[VisibleTestRead(**test) for test in exercise.visible_tests],
        hidden_tests=len(exercise.key.get("hidden_tests", [])),
        hints=exercise.hints,
        cited_chunk_ids=exercise.cited_chunk_ids,
        grounded=exercise.grounded,
        grounding_note=grounding_note(grounded=exercise.grounded, source=exercise.source),
        created_at=exercise.created_at,
    )


AnswerText = Annotated[str, Field(min_length=1)]
TickedOptions = Annotated[list[str], Field(max_length=MAX_OPTIONS)]
MatchedItems = Annotated[dict[str, str], Field(max_length=MAX_OPTIONS)]


class SubmissionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: AnswerText | TickedOptions | MatchedItems = Field(
        description="text (multiple choice: one of the choices as written; numeric: a number; an essay, a "
        "short answer or code); multiple answer: the list of the options you tick; matching: an object "
        f"giving each item its match. At most {MAX_ANSWER_BYTES // 1024} KB (413 above)",
        examples=["Paris", ["Grant", "Grant's wife"], {"Canada": "Ottawa", "Italy": "Rome"}],
    )


class SubmissionRead(BaseModel):
    id: uuid.UUID
    exercise_id: uuid.UUID
    attempt: int
    status: str = Field(
        description="grading, graded, failed, or awaiting_instructor (an essay an instructor grades)"
    )
    job_id: uuid.UUID | None
    result: dict[str, Any] | None
    created_at: datetime
    graded_at: datetime | None


class SubmissionList(BaseModel):
    attempts: int
    submissions: list[SubmissionRead]


class AuthoredExercise(AuthoredDraft):
    """An admin's exercise with its key (answer, rubric, tests) and what a Moodle question carries (title,
    format, blank, weights and feedback per option, accepted or numeric answers); published through
    the same gate."""

    model_config = ConfigDict(extra="forbid")

    exercise_type: ExerciseType
    topic: str | None = Field(None, min_length=1, max_length=200)


class GiftImport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=1_000_000, description="the GIFT file's text")
    topic: str | None = Field(None, min_length=1, max_length=200)
    skills: list[str] = Field(default_factory=list, max_length=10)


class GiftSkipped(BaseModel):
    line: int
    title: str | None = None
    reason: str


class GiftImported(BaseModel):
    jobs: list[JobRead] = Field(description="one `exercise` job per question that passed the rules")
    skipped: list[GiftSkipped]


class SubmissionAwaitingGrade(BaseModel):
    """An essay waiting for an instructor: what they need to grade it, the key included (admins only)."""

    id: uuid.UUID
    exercise_id: uuid.UUID
    user_id: uuid.UUID
    attempt: int
    answer: str
    prompt: str
    title: str | None
    rubric: str | None
    model_answer: str | None
    created_at: datetime


class SubmissionAwaitingList(BaseModel):
    submissions: list[SubmissionAwaitingGrade] = Field(description="oldest first")


class InstructorGrade(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: float = Field(ge=0, le=1, description="1 is full marks")
    feedback: str = Field(min_length=1, max_length=4000, description="shown to the learner")
