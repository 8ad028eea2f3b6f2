"""What an exercise must be before a learner sees it, checked in code (the publish gate's rules that
need no sandbox; the coding check runs the code in tasks/exercise). Shared by generated and
authored exercises, so an admin's exercise meets the same bar as the model's.

The types are Moodle's question types: multiple choice (one right option, partial credit on others),
multiple answer (learners tick several; weights add up), short answer (`qa`), numeric, matching
(items paired with matches), essay (graded by the model against a rubric, or by an instructor),
description (text shown, never answered or graded), and coding."""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from core.exercises.code_tests import CodeTest, code_test_violations
from core.profiles.fields import Level
from core.sql_limits import MAX_BIGINT

ExerciseType = Literal[
    "qa", "multiple_choice", "coding", "numeric", "multiple_answer", "matching", "essay", "description"
]
# What the model is asked to write; the other types are only ever authored (or imported from GIFT).
GeneratedExerciseType = Literal["qa", "multiple_choice", "coding"]
# Moodle's text formats: how a site renders the prompt, options and feedback.
TextFormat = Literal["moodle", "html", "plain", "markdown"]
# How many options: a model is asked for four and held to 3-6; an author may write any number from
# two, as Moodle allows (up to MAX_OPTIONS, which bounds the work a hostile file makes).
MIN_CHOICES, MAX_CHOICES = 3, 6
MIN_AUTHORED_CHOICES, MAX_OPTIONS = 2, 20
MIN_MATCH_ITEMS = 2
EssayGrader = Literal["model", "instructor"]
BLANK = "_____"  # where a missing-word question's answer goes, as Moodle marks it
# A number as an author or a learner writes it: ASCII digits, a point for decimals, no thousands
# separators, and an exponent of at most two digits (so exact arithmetic on it stays small).
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,2})?")
MAX_NUMBER_CHARS = 40


ChunkId = Annotated[int, Field(ge=0, le=MAX_BIGINT)]


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
    cited_chunk_ids: list[ChunkId] = Field(default_factory=list, max_length=10)


def parse_number(text: str) -> Decimal | None:
    """The number `text` writes (strictly: see NUMBER), or None."""
    text = text.strip()
    if len(text) > MAX_NUMBER_CHARS or not NUMBER.fullmatch(text):
        return None
    return Decimal(text)


class ChoiceKey(BaseModel):
    """What one multiple-choice option is worth, in the options' order."""

    weight: float = Field(ge=-1, le=1, description="1 is full marks; Moodle's %50% is 0.5, %-25% is -0.25")
    feedback: str | None = Field(None, max_length=4000, description="shown to a learner who picks it")


class AcceptedAnswer(BaseModel):
    """A short answer that earns `weight`, matched as Moodle does: case and spacing aside, `*` any text."""

    text: str = Field(min_length=1, max_length=4000)
    weight: float = Field(1.0, ge=0, le=1)
    feedback: str | None = Field(None, max_length=4000)


class NumericAnswer(BaseModel):
    """A number that earns `weight` when the learner's is within ± `tolerance` of it (exactly, in decimal)."""

    value: str = Field(max_length=MAX_NUMBER_CHARS, examples=["1822", "3.1416"])
    tolerance: str = Field("0", max_length=MAX_NUMBER_CHARS)
    weight: float = Field(1.0, ge=0, le=1)
    feedback: str | None = Field(None, max_length=4000)

    @field_validator("value", "tolerance")
    @classmethod
    def _a_number(cls, text: str) -> str:
        if parse_number(text) is None:
            raise ValueError(f"{text!r} is not a number (digits, a point for decimals, an optional exponent)")
        return text.strip()

    @field_validator("tolerance")
    @classmethod
    def _not_negative(cls, text: str) -> str:
        if Decimal(text) < 0:
            raise ValueError("a tolerance is not negative")
        return text


class MatchPair(BaseModel):
    """One pair of a matching exercise: an item and the choice that matches it. A pair without an item
    adds its choice as a distractor (Moodle's `= -> extra`)."""

    item: str = Field("", max_length=4000, description="rendered in the exercise's text_format")
    choice: str = Field("", max_length=4000, description="plain text, as Moodle shows it in a drop-down")


class AuthoredDraft(ExerciseDraft):
    """An exercise an admin writes or imports: a draft plus what Moodle questions carry (a title, the
    text format, a missing word's blank, feedback and weights per answer, numeric answers, matching
    pairs, an essay's grader). The model is never asked for these (its schema is ExerciseDraft's)."""

    choices: list[str] = Field(
        default_factory=list,
        max_length=MAX_OPTIONS,
        description="multiple choice and multiple answer: the options",
    )
    title: str | None = Field(None, max_length=255, description="Moodle's question name")
    text_format: TextFormat | None = Field(None, description="how the prompt, options and feedback render")
    blank_at: int | None = Field(
        None, ge=0, le=4000, description=f"missing word: where the {BLANK!r} blank stands in the prompt"
    )
    general_feedback: str | None = Field(None, max_length=4000, description="shown once answered right")
    choice_keys: list[ChoiceKey] = Field(
        default_factory=list,
        max_length=MAX_OPTIONS,
        description="multiple choice and multiple answer: one per option, in order",
    )
    accepted_answers: list[AcceptedAnswer] = Field(
        default_factory=list, max_length=20, description="qa: graded exactly against these, not by the model"
    )
    numeric_answers: list[NumericAnswer] = Field(default_factory=list, max_length=20)
    other_feedback: str | None = Field(None, max_length=4000, description="numeric: for any other number")
    pairs: list[MatchPair] = Field(
        default_factory=list, max_length=MAX_OPTIONS, description="matching: the items and their matches"
    )
    grader: EssayGrader | None = Field(
        None,
        description="essay: `model` (the default: the model grades against the rubric and the model "
        "answer, its reasons quoting the learner) or `instructor` (left for an instructor)",
    )


UNGROUNDED_NOTE = "Made from the model's general knowledge: the library has nothing on this topic yet."


def grounding_note(*, grounded: bool, source: str) -> str | None:
    """What a learner is told about where a generated exercise comes from."""
    return UNGROUNDED_NOTE if source == "generated" and not grounded else None


def normalized(text: str) -> str:
    return " ".join(text.split()).casefold()


# What an answer may add or leave out and still be the reference word for word: articles and the
# punctuation of a sentence. Any other sign is a word of its own ("-5" is not "5", "x < 5" is not
# "x > 5", "50%" is not "50"), and a number is one token with its separators ("1.000" is not "1,000").
_IGNORED = frozenset({"a", "an", "the", *".,!?;:'\"()[]‘’“”"})
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|\w+|[^\w\s]")


def word_for_word(answer: str, reference: str) -> bool:
    """The reference's own words in its own order, case, punctuation, spacing and articles aside:
    a short answer the grader marks correct without asking the model. Anything else is the model's
    to judge, because one word apart can say the opposite ("is not released", "2 weeks" for 3,
    "decreases" where the reference says "increases", "Poland invaded Germany"), and a resemblance
    score or a list of opposites lets some through (a rapidfuzz ratio >= 90 with core/claims.py's
    agreement check passed "Increasing the temperature decreases the reaction rate" for the
    reference "... increases ...")."""
    words = _words(reference)
    return bool(words) and _words(answer) == words


def _words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return [token for token in _TOKEN.findall(folded) if token not in _IGNORED]


def rule_violations(draft: ExerciseDraft, exercise_type: str, *, retrieved: set[int] | None) -> list[str]:
    """Why the draft may not be published (empty when it may), without running any code.

    `retrieved` is the chunks the job's search returned (None for an authored exercise, which cites
    nothing it was not given)."""
    reasons: list[str] = []
    if exercise_type == "multiple_choice":
        options = [normalized(choice) for choice in draft.choices]
        reasons += _option_count_violations(draft, "multiple-choice")
        matches = options.count(normalized(draft.answer or ""))
        if not draft.answer or matches == 0:
            reasons.append("the correct answer is not one of the options")
        elif matches > 1:
            reasons.append("more than one option is the correct answer")
        reasons += _choice_key_violations(draft, options)
    elif exercise_type == "multiple_answer":
        reasons += _option_count_violations(draft, "multiple-answer")
        reasons += _multiple_answer_violations(draft)
    elif exercise_type == "matching":
        reasons += _matching_violations(draft)
    elif exercise_type == "qa":
        if not (draft.answer or "").strip():
            reasons.append("a question needs a reference answer")
        reasons += _accepted_answer_violations(draft)
    elif exercise_type == "numeric":
        reasons += _numeric_violations(draft)
    elif exercise_type == "coding":
        if not (draft.solution_code or "").strip():
            reasons.append("a coding exercise needs a reference solution")
        reasons += code_test_violations(draft.tests)
    elif exercise_type not in ("essay", "description"):  # an essay's rubric and model answer are optional
        reasons.append(f"unknown exercise type {exercise_type!r}")
    reasons += _authored_violations(draft, exercise_type)
    if retrieved is not None:
        invented = [chunk_id for chunk_id in draft.cited_chunk_ids if chunk_id not in retrieved]
        if invented:
            reasons.append(f"cites chunks the search did not return: {invented}")
    return reasons


def is_true_false(choices: list[str]) -> bool:
    """Whether the options are just True and False (Moodle's true/false question)."""
    return sorted(normalized(choice) for choice in choices) == ["false", "true"]


def _option_count_violations(draft: ExerciseDraft, kind: str) -> list[str]:
    """How many options, and whether they can be told apart: a model's draft needs 3 to 6 (or True and
    False), an author's 2 to MAX_OPTIONS as in Moodle."""
    options = [normalized(choice) for choice in draft.choices]
    low, high = (
        (MIN_AUTHORED_CHOICES, MAX_OPTIONS)
        if isinstance(draft, AuthoredDraft)
        else (MIN_CHOICES, MAX_CHOICES)
    )
    true_false = kind == "multiple-choice" and is_true_false(draft.choices)
    reasons = []
    if not (low <= len(options) <= high or true_false):
        also = "" if low <= 2 or kind != "multiple-choice" else " (or just True and False)"
        reasons.append(f"a {kind} exercise needs {low} to {high} options{also}, not {len(options)}")
    if len(set(options)) != len(options):
        reasons.append("the options are not unique")
    if any(not option for option in options):
        reasons.append("an option is empty")
    return reasons


def _choice_key_violations(draft: ExerciseDraft, options: list[str]) -> list[str]:
    keys = draft.choice_keys if isinstance(draft, AuthoredDraft) else []
    if not keys:
        return []
    if len(keys) != len(options):
        return [f"choice_keys has {len(keys)} entries for {len(options)} options"]
    weights = [key.weight for key in keys]
    reasons = []
    if 1 not in weights:
        reasons.append("no option is worth 100%")
    elif all(weight == 1 for weight in weights):
        reasons.append("every option is worth 100%: there is nothing to choose")
    answer = normalized(draft.answer or "")
    if answer in options and weights[options.index(answer)] != 1:
        reasons.append("the correct answer is not an option worth 100%")
    return reasons


def _multiple_answer_violations(draft: ExerciseDraft) -> list[str]:
    """Moodle's rule for a question where learners tick several options: every option weighted, and
    the positive weights adding up to 100% (to two decimals: three options at 33.33333% do)."""
    keys = draft.choice_keys if isinstance(draft, AuthoredDraft) else []
    if len(keys) != len(draft.choices):
        return [f"choice_keys has {len(keys)} entries for {len(draft.choices)} options"]
    right = sum(Decimal(repr(key.weight)) for key in keys if key.weight > 0)
    if round(right, 2) != 1:
        return [f"the right options' weights add up to {_percent(right)}%, not 100%"]
    return []


def _percent(fraction: Decimal) -> str:
    return format((fraction * 100).normalize(), "f")


def match_items(draft: AuthoredDraft) -> list[str]:
    """A matching exercise's items, in the author's order (what the learner matches)."""
    return [pair.item.strip() for pair in draft.pairs if pair.item.strip()]


def match_choices(draft: AuthoredDraft) -> list[str]:
    """The matches a learner picks from: each distinct match once (two items may share one), the
    distractors included, first seen first."""
    seen: dict[str, str] = {}
    for pair in draft.pairs:
        seen.setdefault(normalized(pair.choice), pair.choice.strip())
    return list(seen.values())


def _matching_violations(draft: ExerciseDraft) -> list[str]:
    if not isinstance(draft, AuthoredDraft):
        return ["a matching exercise is only ever authored"]
    reasons = []
    for number, pair in enumerate(draft.pairs, start=1):
        if not pair.choice.strip():
            what = f"the item {pair.item.strip()!r}" if pair.item.strip() else "it"
            reasons.append(f"pair {number} has no match: {what} has nothing to be matched with")
    items = [normalized(item) for item in match_items(draft)]
    if len(items) < MIN_MATCH_ITEMS:
        reasons.append(
            f"a matching exercise needs at least {MIN_MATCH_ITEMS} items to match, not {len(items)}"
        )
    if len(set(items)) != len(items):
        reasons.append("the items are not unique")
    return reasons


def _accepted_answer_violations(draft: ExerciseDraft) -> list[str]:
    accepted = draft.accepted_answers if isinstance(draft, AuthoredDraft) else []
    if not accepted:
        return []
    full_marks = [normalized(answer.text) for answer in accepted if answer.weight == 1]
    if not full_marks:
        return ["no accepted answer is worth 100%"]
    if normalized(draft.answer or "") not in full_marks:
        return ["the reference answer is not an accepted answer worth 100%"]
    return []


def _numeric_violations(draft: ExerciseDraft) -> list[str]:
    answers = draft.numeric_answers if isinstance(draft, AuthoredDraft) else []
    if not answers:
        return ["a numeric exercise needs at least one numeric answer"]
    if all(answer.weight != 1 for answer in answers):
        return ["no numeric answer is worth 100%"]
    return []


# Authored fields that only some types of exercise read: anywhere else they would be ignored silently.
TYPES_OF_FIELD = {
    "choices": ("multiple_choice", "multiple_answer"),
    "choice_keys": ("multiple_choice", "multiple_answer"),
    "accepted_answers": ("qa",),
    "numeric_answers": ("numeric",),
    "other_feedback": ("numeric",),
    "pairs": ("matching",),
    "grader": ("essay",),
}
# Fields a type has no use for: its weights or pairs say what is right, or (a description) nothing is.
UNREAD_FIELDS = {
    "multiple_answer": ("answer",),
    "matching": ("answer",),
    "description": ("answer", "rubric", "general_feedback", "blank_at"),
}


def _authored_violations(draft: ExerciseDraft, exercise_type: str) -> list[str]:
    if not isinstance(draft, AuthoredDraft):
        return []
    reasons = [
        f"{field} is only for {' or '.join(owners)} exercises"
        for field, owners in TYPES_OF_FIELD.items()
        if getattr(draft, field) and exercise_type not in owners
    ]
    reasons += [
        f"{field} is not used by a {exercise_type} exercise"
        for field in UNREAD_FIELDS.get(exercise_type, ())
        if getattr(draft, field) not in (None, "")
    ]
    if draft.blank_at is not None and exercise_type != "description":
        after = draft.blank_at + len(BLANK)
        if draft.prompt[draft.blank_at : after] != BLANK:
            reasons.append(f"blank_at does not point at a {BLANK!r} blank in the prompt")
        elif not draft.prompt[after:].strip():
            # GIFT could not say where the blank is: answers at the end of a question mean "no blank".
            reasons.append("a missing word's blank needs text after it")
    return reasons


def key_of(draft: ExerciseDraft) -> dict[str, Any]:
    """What only the grader may read."""
    return {
        "answer": draft.answer,
        "rubric": draft.rubric,
        "solution_code": draft.solution_code,
        "hidden_tests": [test.model_dump() for test in draft.tests if test.hidden],
    } | _authored_key(draft)


def _authored_key(draft: ExerciseDraft) -> dict[str, Any]:
    if not isinstance(draft, AuthoredDraft):
        return {}
    return {
        "general_feedback": draft.general_feedback,
        # Without choice_keys the key's `answer` is the one right option (the gate checked the lengths).
        "scored_choices": [
            {"text": choice.strip(), **key.model_dump()}
            for choice, key in zip(draft.choices, draft.choice_keys, strict=True)
        ]
        if draft.choice_keys
        else [],
        "accepted_answers": [answer.model_dump() for answer in draft.accepted_answers],
        "numeric_answers": [answer.model_dump() for answer in draft.numeric_answers],
        "other_feedback": draft.other_feedback,
        "pairs": [{"item": pair.item.strip(), "choice": pair.choice.strip()} for pair in draft.pairs],
        "grader": draft.grader,
    }


def visible_tests(draft: ExerciseDraft) -> list[dict[str, str]]:
    return [test.shown() for test in draft.tests if not test.hidden]


# --- the order a learner sees the options in ------------------------------------------------------


def learner_order(
    choices: list[str], *, exercise_id: uuid.UUID, learner_id: uuid.UUID, secret: str
) -> list[str]:
    """The options in the order this learner sees them: the same on every read, different between
    learners, and not computable without the server's secret (so the stored order, which may put the
    right option first, cannot be recovered from it). True and False keep their order, as in Moodle."""
    if is_true_false(choices):
        return list(choices)

    def rank(indexed: tuple[int, str]) -> bytes:
        message = f"{exercise_id}:{learner_id}:{indexed[0]}".encode()
        return hmac.new(secret.encode(), message, hashlib.sha256).digest()

    return [choice for _, choice in sorted(enumerate(choices), key=rank)]
