"""A learner's answer as the API takes it and the grader reads it: text for most types, the options
ticked for a multiple-answer exercise (a list), an item -> match object for matching. Checked against
what the learner was shown before any job is queued, and stored as text: JSON, in a fixed order and
with the exercise's own spelling of each option, for the two that are not text."""

from __future__ import annotations

import json
from typing import Any

from core.exercises.rules import normalized, parse_number

AnswerValue = str | list[str] | dict[str, str]


class AnswerRefused(ValueError):
    """Why an answer cannot be graded, as the API says it: a stable code and what is wrong."""

    def __init__(self, code: str, message: str, problem: str):
        super().__init__(message)
        self.code = code
        self.message = message
        self.problem = problem


def stored_answer(
    exercise_type: str, answer: AnswerValue, *, choices: list[str] | None, items: list[str] | None
) -> str:
    """The answer as the submission stores it, or AnswerRefused: a description is never answered, a
    choice must be one shown, a number a number, and each type gets the shape it reads."""
    if exercise_type == "description":
        raise AnswerRefused(
            "not_answerable", "a description is shown to read, never answered", "not answerable"
        )
    if exercise_type == "multiple_answer":
        return json.dumps(_ticked_options(answer, choices or []), ensure_ascii=False)
    if exercise_type == "matching":
        return json.dumps(_matched_items(answer, items or [], choices or []), ensure_ascii=False)
    if not isinstance(answer, str):
        raise AnswerRefused("validation_error", "answer with text for this exercise", "not text")
    if exercise_type == "multiple_choice" and _shown(answer, choices or []) is None:
        raise AnswerRefused(
            "invalid_choice",
            "answer with one of the exercise's choices, as written",
            "not one of the choices",
        )
    if exercise_type == "numeric" and parse_number(answer) is None:
        raise AnswerRefused(
            "validation_error",
            "answer with a number: digits, a point for decimals, an optional exponent (3.14, -40, 6.02e23)",
            "not a number",
        )
    return answer


def _shown(text: str, shown: list[str]) -> str | None:
    """The shown text the learner's names (case and spacing aside), or None."""
    wanted = normalized(text)
    return next((option for option in shown if normalized(option) == wanted), None)


def _ticked_options(answer: AnswerValue, choices: list[str]) -> list[str]:
    if not isinstance(answer, list) or not answer:
        raise AnswerRefused(
            "validation_error", "answer with the list of the options you tick (at least one)", "not a list"
        )
    ticked = []
    for text in answer:
        option = _shown(text, choices)
        if option is None:
            raise AnswerRefused(
                "invalid_choice",
                "tick only the exercise's choices, as written",
                f"not one of the choices: {text!r}",
            )
        if option in ticked:
            raise AnswerRefused("invalid_choice", "tick each option once", f"ticked twice: {text!r}")
        ticked.append(option)
    return [option for option in choices if option in ticked]  # the exercise's order: one stored form


def _matched_items(answer: AnswerValue, items: list[str], choices: list[str]) -> dict[str, str]:
    if not isinstance(answer, dict):
        raise AnswerRefused(
            "validation_error", "answer with an object giving each item its match", "not an object"
        )
    matched: dict[str, str] = {}
    for text, match in answer.items():
        item = _shown(text, items)
        if item is None:
            raise AnswerRefused(
                "invalid_choice", "match only the exercise's items", f"not one of the items: {text!r}"
            )
        if item in matched:
            raise AnswerRefused("invalid_choice", "match each item once", f"matched twice: {text!r}")
        chosen = _shown(match, choices) if isinstance(match, str) else None
        if chosen is None:
            raise AnswerRefused(
                "invalid_choice",
                "match each item with one of the exercise's choices",
                f"not one of the choices: {match!r}",
            )
        matched[item] = chosen
    if missing := [item for item in items if item not in matched]:
        raise AnswerRefused("validation_error", "match every item", f"{len(missing)} item(s) without a match")
    return {item: matched[item] for item in items}


def ticked(stored: str) -> list[str]:
    """The options a stored multiple-answer submission ticked ([] for anything else)."""
    value = _json(stored)
    return [text for text in value if isinstance(text, str)] if isinstance(value, list) else []


def matched(stored: str) -> dict[str, str]:
    """The item -> match pairs of a stored matching submission ({} for anything else)."""
    value = _json(stored)
    if not isinstance(value, dict):
        return {}
    return {item: match for item, match in value.items() if isinstance(match, str)}


def _json(stored: str) -> Any:
    try:
        return json.loads(stored)
    except ValueError:
        return None
