"""Exercises written as Moodle GIFT questions that read back (gift.py) as the same questions: every type
GIFT holds, with titles, format, feedback, weights and the missing word's blank in its place.
Descriptions are their text alone, essays an empty block (`{}`, or `{####general feedback}`),
multiple choice (true/false as `{TRUE}`/`{FALSE}`), multiple answer (`~%n%` on every option, never
`=`), matching (`=item -> match`), short answer with accepted answers, and numeric. Every export is
read back and compared before it is returned, so what cannot round-trip is refused with the reason.
What GIFT has no place for (skills, hints, difficulty, a rubric, an essay's model answer and grader)
is not written, as Moodle's own writer does."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from core.exercises.gift import format_tag, parse
from core.exercises.rules import BLANK, AuthoredDraft, ChoiceKey, normalized


def format_question(exercise_type: str, draft: AuthoredDraft) -> str:
    """One exercise as a GIFT question that reads back as the same question. Raises ValueError, with
    the reason, for what GIFT cannot hold (a coding exercise, a short answer graded by a rubric)."""
    if exercise_type == "coding":
        raise ValueError("a coding exercise has no GIFT form")
    if exercise_type == "qa" and not draft.accepted_answers:
        raise ValueError(
            "a short answer graded by the model (it has no accepted answers to match) has no GIFT form: "
            "GIFT's short answers are matched exactly"
        )
    text_format = draft.text_format or "moodle"
    # Moodle's writer forgets these: a prompt that starts like a format tag, a comment or a byte-order
    # mark needs a tag of its own in front, or the reader takes it for that.
    tagged = draft.text_format not in (None, "moodle") or draft.prompt.startswith(("[", "//", "\ufeff"))
    head = (f"::{_escape(draft.title)}:: " if draft.title else "") + (f"[{text_format}]" if tagged else "")
    if exercise_type == "description":  # no answer block at all: that is what makes it one
        written = f"{head}{_escape(draft.prompt)}\n"
    else:
        block = "{" + _answer_block(exercise_type, draft, text_format) + "}"
        if draft.blank_at is None:
            written = f"{head}{_escape(draft.prompt)} {block}\n"
        else:
            after = draft.blank_at + len(BLANK)
            written = (
                f"{head}{_escape(draft.prompt[: draft.blank_at])}{block}{_escape(draft.prompt[after:])}\n"
            )
    _check_reads_back(written, exercise_type, draft)
    return written


def _escape(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\\", "\\\\")
    return re.sub(r"[~=#{}:]", lambda m: "\\" + m[0], text).replace("\n", "\\n")


def _written(text: str, text_format: str) -> str:
    """An option's, an item's or a feedback's text: escaped, with the question's tag where the text
    itself starts like a tag (it would be read as one)."""
    needs_tag = text.startswith("[") and format_tag(text, "moodle")[1] != text
    return (f"[{text_format}]" if needs_tag else "") + _escape(text)


def _percent(weight: float) -> str:
    return format((Decimal(repr(weight)) * 100).normalize(), "f")


def _answer_block(exercise_type: str, draft: AuthoredDraft, text_format: str) -> str:
    general = f"\n####{_written(draft.general_feedback, text_format)}" if draft.general_feedback else ""
    if exercise_type == "essay":
        return general
    writers = {
        "multiple_choice": _choice_block,
        "multiple_answer": _ticked_block,
        "matching": _pairs_block,
        "qa": _short_answer_block,
        "numeric": _numeric_block,
    }
    if exercise_type not in writers:
        raise ValueError(f"a {exercise_type} exercise has no GIFT form")
    return writers[exercise_type](draft, text_format, general)


def _feedback(text: str | None, text_format: str) -> str:
    return f" #{_written(text, text_format)}" if text else ""


def _choice_block(draft: AuthoredDraft, text_format: str, general: str) -> str:
    keys = _choice_keys(draft)
    if draft.choices == ["True", "False"] and sorted(key.weight for key in keys) == [0, 1]:
        right, wrong = (keys[0], keys[1]) if keys[0].weight == 1 else (keys[1], keys[0])
        answer = "TRUE" if keys[0].weight == 1 else "FALSE"
        # Moodle's order: the feedback for a wrong answer first, then for the right one.
        tail = f"#{_written(wrong.feedback, text_format)}" if wrong.feedback else ""
        if right.feedback:
            tail = (tail or "#") + f"#{_written(right.feedback, text_format)}"
        return answer + tail + general
    lines = []
    for choice, key in zip(draft.choices, keys, strict=True):
        if key.weight == 1:
            marker = "=%100%" if choice.startswith("%") else "="
        else:
            marker = f"~%{_percent(key.weight)}%" if key.weight or choice.startswith("%") else "~"
        lines.append(f"\n\t{marker}{_written(choice, text_format)}{_feedback(key.feedback, text_format)}")
    return "".join(lines) + general + "\n"


def _ticked_block(draft: AuthoredDraft, text_format: str, general: str) -> str:
    """Multiple answer: every option `~`, weighted where it has a weight. An `=` anywhere in the block
    would make Moodle read a multiple choice, so there is none (the texts' are escaped)."""
    lines = []
    for choice, key in zip(draft.choices, draft.choice_keys, strict=True):
        marker = f"~%{_percent(key.weight)}%" if key.weight or choice.startswith("%") else "~"
        lines.append(f"\n\t{marker}{_written(choice, text_format)}{_feedback(key.feedback, text_format)}")
    return "".join(lines) + general + "\n"


def _pairs_block(draft: AuthoredDraft, text_format: str, general: str) -> str:
    """Matching: `=item -> match` per pair (`= -> match` a distractor). Moodle cuts a pair at its first
    `->`, which no escape hides, so an item holding one has no GIFT form; a match may hold one."""
    lines = []
    for pair in draft.pairs:
        if "->" in pair.item:
            raise ValueError(f"a matching item holding '->' has no GIFT form: {pair.item!r}")
        item = _written(pair.item.strip(), text_format)
        lines.append(f"\n\t={item}{' ' if item else ''}-> {_escape(pair.choice.strip())}")
    return "".join(lines) + general + "\n"


def _short_answer_block(draft: AuthoredDraft, text_format: str, general: str) -> str:
    answers = draft.accepted_answers
    # '=' and '->' in one block make Moodle read a matching question; a lone answer goes without '='.
    arrow = any("->" in f"{answer.text}{answer.feedback or ''}" for answer in answers)
    if arrow and len(answers) > 1:
        raise ValueError(
            "a short answer holding '->' with several accepted answers has no GIFT form "
            "(Moodle would read it as a matching question)"
        )
    lines = []
    for answer in answers:
        weighted = answer.weight != 1 or answer.text.startswith("%")
        marker = ("" if arrow else "=") + (f"%{_percent(answer.weight)}%" if weighted else "")
        lines.append(
            f"\n\t{marker}{_written(answer.text, text_format)}{_feedback(answer.feedback, text_format)}"
        )
    if arrow:  # on the brace's line: an answer without its '=' could start like a comment
        return "".join(lines).lstrip("\n\t") + general.replace("\n", " ")
    return "".join(lines) + general + "\n"


def _numeric_block(draft: AuthoredDraft, text_format: str, general: str) -> str:
    lines = [
        f"\n\t=%{_percent(a.weight)}%{a.value}:{a.tolerance}{_feedback(a.feedback, text_format)}"
        for a in draft.numeric_answers
    ]
    if draft.other_feedback:
        lines.append(f"\n\t~{_feedback(draft.other_feedback, text_format)}")
    return "#" + "".join(lines) + general + "\n"


def _choice_keys(draft: AuthoredDraft) -> list[ChoiceKey]:
    if draft.choice_keys:
        return draft.choice_keys
    answer = normalized(draft.answer or "")
    return [ChoiceKey(weight=float(normalized(choice) == answer)) for choice in draft.choices]


def gift_view(exercise_type: str, draft: AuthoredDraft) -> dict[str, Any]:
    """What a GIFT question holds of an exercise, to compare an export with what it reads back as:
    the prompt, title, format, blank, options, pairs, answers, weights and feedback (not skills, hints,
    rubric, model answer, grader or difficulty, which GIFT has no place for)."""
    view: dict[str, Any] = {
        "type": exercise_type,
        "prompt": draft.prompt.strip(),
        "title": draft.title,
        "text_format": draft.text_format or "moodle",
        "blank_at": draft.blank_at,
        "general_feedback": draft.general_feedback,
    }
    if exercise_type in ("multiple_choice", "multiple_answer"):
        keys = _choice_keys(draft)
        view["choices"] = [
            (c.strip(), k.weight, k.feedback) for c, k in zip(draft.choices, keys, strict=True)
        ]
    elif exercise_type == "matching":
        view["pairs"] = [(pair.item.strip(), pair.choice.strip()) for pair in draft.pairs]
    elif exercise_type == "qa":
        view["answers"] = [(a.text.strip(), a.weight, a.feedback) for a in draft.accepted_answers]
    elif exercise_type == "numeric":
        view["answers"] = [(a.value, a.tolerance, a.weight, a.feedback) for a in draft.numeric_answers]
        view["other_feedback"] = draft.other_feedback
    return view


def _check_reads_back(written: str, exercise_type: str, draft: AuthoredDraft) -> None:
    questions, skipped = parse(written)
    if skipped or len(questions) != 1:
        raise ValueError(f"its GIFT form would not import: {skipped[0].reason if skipped else written!r}")
    read = questions[0]
    expected, got = gift_view(exercise_type, draft), gift_view(read.exercise_type, read.draft)
    if got != expected:
        differ = [name for name in expected if expected[name] != got.get(name)]
        raise ValueError(f"its GIFT form would read back differently ({', '.join(differ) or 'type'})")
