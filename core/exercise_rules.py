"""What an exercise must be before a learner sees it, checked in code (the publish gate's rules that
need no sandbox; the coding check runs the code in tasks/exercise). Shared by generated and
authored exercises, so an admin's exercise meets the same bar as the model's."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from core.profile_fields import Level

ExerciseType = Literal["qa", "multiple_choice", "coding"]
TEST_NAME = re.compile(r"^[A-Za-z0-9_ .-]{1,100}$")
MIN_CHOICES, MAX_CHOICES = 3, 6


class CodeTest(BaseModel):
    name: str = Field(
        min_length=1, max_length=100, description="a short name, shown when a visible test fails"
    )
    code: str = Field(
        min_length=1, max_length=4000, description="Python lines, usually asserts, calling the solution"
    )
    hidden: bool = Field(False, description="hidden tests are counted for the learner, never shown")


class ExerciseDraft(BaseModel):
    """An exercise with its key: what the model is asked for, and what an admin sends."""

    prompt: str = Field(min_length=1, max_length=4000)
    skills: list[str] = Field(default_factory=list, max_length=10)
    difficulty: Level | None = None
    choices: list[str] = Field(
        default_factory=list, max_length=10, description="multiple choice: the options"
    )
    answer: str | None = Field(
        None,
        max_length=4000,
        description="multiple choice: the correct option's text; qa: the reference answer",
    )
    rubric: str | None = Field(None, max_length=4000, description="how an answer is graded")
    starter_code: str | None = Field(
        None, max_length=20000, description="coding: what the learner starts from"
    )
    solution_code: str | None = Field(None, max_length=20000, description="coding: a reference solution")
    tests: list[CodeTest] = Field(default_factory=list, max_length=20)
    hints: list[str] = Field(default_factory=list, max_length=5)
    cited_chunk_ids: list[int] = Field(default_factory=list, max_length=10)


UNGROUNDED_NOTE = "Made from the model's general knowledge: the library has nothing on this topic yet."


def grounding_note(*, grounded: bool, source: str) -> str | None:
    """What a learner is told about where a generated exercise comes from."""
    return UNGROUNDED_NOTE if source == "generated" and not grounded else None


def normalized(text: str) -> str:
    return " ".join(text.split()).casefold()


def rule_violations(draft: ExerciseDraft, exercise_type: str, *, retrieved: set[int] | None) -> list[str]:
    """Why the draft may not be published (empty when it may), without running any code.

    `retrieved` is the chunks the job's search returned (None for an authored exercise, which cites
    nothing it was not given)."""
    reasons: list[str] = []
    if exercise_type == "multiple_choice":
        options = [normalized(choice) for choice in draft.choices]
        if not MIN_CHOICES <= len(options) <= MAX_CHOICES:
            reasons.append(
                f"a multiple-choice exercise needs {MIN_CHOICES} to {MAX_CHOICES} options, not {len(options)}"
            )
        if len(set(options)) != len(options):
            reasons.append("the options are not unique")
        if any(not option for option in options):
            reasons.append("an option is empty")
        matches = options.count(normalized(draft.answer or ""))
        if not draft.answer or matches == 0:
            reasons.append("the correct answer is not one of the options")
        elif matches > 1:
            reasons.append("more than one option is the correct answer")
    elif exercise_type == "qa":
        if not (draft.answer or "").strip():
            reasons.append("a question needs a reference answer")
    elif exercise_type == "coding":
        if not (draft.solution_code or "").strip():
            reasons.append("a coding exercise needs a reference solution")
        if not draft.tests:
            reasons.append("a coding exercise needs tests")
        elif all(test.hidden for test in draft.tests):
            reasons.append("a coding exercise needs at least one visible test")
        names = [test.name for test in draft.tests]
        if len(set(names)) != len(names):
            reasons.append("test names are not unique")
        if any(not TEST_NAME.match(name) for name in names):
            reasons.append("a test name has characters other than letters, digits, spaces, '.', '_' and '-'")
    else:
        reasons.append(f"unknown exercise type {exercise_type!r}")
    if retrieved is not None:
        invented = [chunk_id for chunk_id in draft.cited_chunk_ids if chunk_id not in retrieved]
        if invented:
            reasons.append(f"cites chunks the search did not return: {invented}")
    return reasons


def key_of(draft: ExerciseDraft) -> dict[str, Any]:
    """What only the grader may read."""
    return {
        "answer": draft.answer,
        "rubric": draft.rubric,
        "solution_code": draft.solution_code,
        "hidden_tests": [test.model_dump() for test in draft.tests if test.hidden],
    }


def visible_tests(draft: ExerciseDraft) -> list[dict[str, str]]:
    return [{"name": test.name, "code": test.code} for test in draft.tests if not test.hidden]
