"""What code grades alone, exactly, as Moodle grades it: a multiple-choice option's weight, the ticked
options' weights added up (between 0 and 1), the share of matching pairs right, a number within
tolerance in exact decimal, a short answer matched as Moodle matches it. The model never sees these."""

from __future__ import annotations

import re
from decimal import Decimal, localcontext
from typing import Any, NamedTuple

from core.exercises.learner_answers import matched, ticked
from core.exercises.rules import normalized, parse_number
from core.progress.learner_model import CORRECT_AT


class Graded(NamedTuple):
    score: float
    feedback: str


def exact_grade(exercise_type: str, answer: str, key: dict[str, Any]) -> Graded | None:
    """The grade code decides alone (multiple choice, multiple answer, matching, numeric, a short answer
    with accepted answers), or None where the model or an instructor judges (an essay, a short answer
    with only a reference and a rubric) or the sandbox does (code)."""
    if exercise_type == "multiple_choice":
        score, said = choice_score(answer, key)
    elif exercise_type == "multiple_answer":
        score, said = ticked_score(ticked(answer), key)
    elif exercise_type == "matching":
        score, said = matching_score(matched(answer), key)
    elif exercise_type == "numeric":
        score, said = numeric_score(answer, key)
    elif exercise_type == "qa" and key.get("accepted_answers"):
        score, said = short_answer_score(answer, key)
    else:
        return None
    if score >= 1:
        verdict = "Correct."
    elif score > 0:
        verdict = f"Partly right: {score:.0%} of the marks."
    else:
        verdict = "Not this one."
    # General feedback usually explains the right answer: kept for a learner who has found it.
    general = key.get("general_feedback") if score >= CORRECT_AT else None
    return Graded(score, " ".join(part for part in (verdict, said, general) if part))


def choice_score(answer: str, key: dict[str, Any]) -> tuple[float, str | None]:
    """The chosen option's weight and feedback (the options compared as written, case and spacing aside)."""
    chosen = normalized(answer)
    scored = key.get("scored_choices")
    if not scored:
        return float(chosen == normalized(key.get("answer") or "")), None
    for choice in scored:
        if normalized(choice["text"]) == chosen:
            return choice["weight"], choice["feedback"]
    return 0.0, None


def ticked_score(options: list[str], key: dict[str, Any]) -> tuple[float, str | None]:
    """Moodle's multiple answer: the ticked options' weights added up, kept between 0 and 1 (a wrong
    tick's negative weight takes back credit), with each ticked option's feedback."""
    weights = {normalized(choice["text"]): choice for choice in key.get("scored_choices") or []}
    ticked = dict.fromkeys(normalized(option) for option in options)  # an option ticked twice counts once
    chosen = [weights[option] for option in ticked if option in weights]
    total = sum(Decimal(repr(choice["weight"])) for choice in chosen)
    said = " ".join(choice["feedback"] for choice in chosen if choice["feedback"])
    return float(min(max(total, Decimal(0)), Decimal(1))), said or None


def matching_score(answer: dict[str, str], key: dict[str, Any]) -> tuple[float, str | None]:
    """Moodle's matching: the share of items given their right match (a distractor matches no item)."""
    pairs = [pair for pair in key.get("pairs") or [] if pair["item"]]
    if not pairs:
        return 0.0, None
    given = {normalized(item): normalized(match) for item, match in answer.items()}
    right = sum(given.get(normalized(pair["item"])) == normalized(pair["choice"]) for pair in pairs)
    return right / len(pairs), f"{right} of {len(pairs)} matched right."


def numeric_score(answer_text: str, key: dict[str, Any]) -> tuple[float, str | None]:
    """The best weight among the numeric answers the learner's number is within tolerance of, in exact
    decimal arithmetic (3.2 is within 0.1 of 3.1); 0 and the other-number feedback otherwise. (Moodle
    takes the first match in the author's order: the same grade whenever, as usual, the best is first.)"""
    number = parse_number(answer_text)
    if number is None:
        return 0.0, "That is not a number."
    best: dict[str, Any] | None = None
    # NUMBER bounds digits and exponents, so 300 digits make every difference below exact.
    with localcontext(prec=300):
        for candidate in key.get("numeric_answers") or []:
            within = abs(number - Decimal(candidate["value"])) <= Decimal(candidate["tolerance"])
            if within and (best is None or candidate["weight"] > best["weight"]):
                best = candidate
    if best is None:
        return 0.0, key.get("other_feedback")
    return best["weight"], best["feedback"]


def short_answer_score(answer: str, key: dict[str, Any]) -> tuple[float, str | None]:
    """The best weight among the accepted answers the learner's matches as Moodle matches them: case
    and runs of spaces aside, `*` standing for any text (`\\*` for a star)."""
    said = normalized(answer)
    best: dict[str, Any] | None = None
    for accepted in key.get("accepted_answers") or []:
        if _wildcard_match(accepted["text"], said) and (best is None or accepted["weight"] > best["weight"]):
            best = accepted
    if best is None:
        return 0.0, None
    return best["weight"], best["feedback"]


def _wildcard_match(pattern: str, text: str) -> bool:
    """Whether `text` is `pattern` with each `*` standing for any text. Matched piece by piece, leftmost
    first (right for stars alone), never by a backtracking regex a crafted answer could make slow."""
    parts = [part.replace("\\*", "*") for part in re.split(r"(?<!\\)\*+", normalized(pattern))]
    if len(parts) == 1:
        return text == parts[0]
    first, *middle, last = parts
    start, end = len(first), len(text) - len(last)
    if end < start or not text.startswith(first) or not text.endswith(last):
        return False
    for part in middle:
        found = text.find(part, start, end)
        if found < 0:
            return False
        start = found + len(part)
    return True
