"""Moodle GIFT read as Moodle reads it (its question/format/gift/format.php); gift_export.py writes
exercises back so that they read back the same.

Read, in Moodle's order: the file is cut into questions at blank lines (each line trimmed, `//`
comment lines dropped wherever they stand), the escapes (`\\~ \\= \\# \\{ \\} \\: \\\\ \\n`) are set
aside, then come `$CATEGORY:`, the `::title::`, the answer block `{...}` (text after it makes a
missing-word question: the block becomes a `_____` blank), a leading `[html|moodle|plain|markdown]`
format tag on any text, `####` general feedback, and the type: no block a description, `{}` an
essay, `{#...}` numeric, a `~` multiple choice (multiple answer when no `=` is in the block),
`=a -> b` matching, `{T}`/`{TRUE}`/`{F}`/`{FALSE}` true/false (`#wrong#right` feedback), else short
answer. Weights (`%50%`, `%-33.3%`) and `#feedback` are kept per answer.

Every type Moodle's GIFT holds is kept: descriptions (text, never graded), essays (graded by the model
or an instructor), multiple choice with one or more `=` options and partial weights, from two
options, multiple answer (weights from -100% to 100%, the right ones adding up to 100% as Moodle
requires), true/false (a two-option multiple choice), matching (pairs, distractors), short answers
(every accepted answer, graded exactly as Moodle matches them), numeric (`value:tolerance`,
`low..high`, several weighted answers, `~#` other-number feedback). Refused, each with its reason:
category lines (a question bank's folder, not a question) and anything Moodle would read as
something the author did not write (a second answer block, a stray brace, text before the first
option, a malformed weight, a negative weight outside multiple choice, a pair without `->`). A
question the publish gate refuses is refused with the gate's reasons. Nothing is changed silently.

Where this differs from Moodle, on purpose: a comment line leaves no blank line inside the text; a
`::title` without its closing `::` is refused rather than read as text; `=%100%` on an option is read
as the weight Moodle's `=` already means (Moodle keeps "%100%" in the option's text); an option,
item or feedback in another format than its question's is refused when its text would render
differently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

from pydantic import ValidationError

from core.exercises.rules import (
    BLANK,
    MAX_NUMBER_CHARS,
    AcceptedAnswer,
    AuthoredDraft,
    ChoiceKey,
    ExerciseType,
    NumericAnswer,
    TextFormat,
    parse_number,
    rule_violations,
)

MAX_QUESTIONS = 500
MAX_ANSWERS = 20  # per question: more than any exercise holds, and it bounds the work on a hostile file
FORMATS: tuple[TextFormat, ...] = ("moodle", "html", "plain", "markdown")
# Escaped characters travel through parsing as ESC + a letter, so no split or search sees them (Moodle
# swaps them for placeholders the same way); a literal ESC in the file travels as ESC + "x".
ESC = "\ue000"
ESCAPED = {":": "k", "#": "h", "=": "e", "{": "o", "}": "c", "~": "t", "\\": "b", "n": "n"}
UNESCAPED = {"k": ":", "h": "#", "e": "=", "o": "{", "c": "}", "t": "~", "b": "\\", "n": "\n", "x": ESC}
PLACEHOLDER = re.compile(ESC + "(.)", re.DOTALL)
LINE_BREAK = re.compile(r"\r\n|\n|\r")
PHP_SPACE = " \t\n\r\0\x0b"  # what Moodle's trim() removes (not every Unicode space)
WEIGHT = re.compile(r"%(-?[0-9]+(?:\.[0-9]*)?)%")
MALFORMED_WEIGHT = re.compile(r"%[\s\d.+-]*%")
TRUE_FALSE = {"T": True, "TRUE": True, "F": False, "FALSE": False}
# Text that reads the same in every format: no markup, no entity, no emphasis, no line break.
FORMAT_NEUTRAL = re.compile(r"[^<>&*_`\[\]#\\\n]*")


class Refused(ValueError):
    """Why a question is not imported: a true reason, shown to the admin."""


@dataclass(frozen=True)
class GiftQuestion:
    line: int
    exercise_type: ExerciseType
    draft: AuthoredDraft

    @property
    def title(self) -> str | None:
        return self.draft.title


@dataclass(frozen=True)
class Skipped:
    line: int
    reason: str
    title: str | None = None


# --- reading --------------------------------------------------------------------------------------


def parse(text: str) -> tuple[list[GiftQuestion], list[Skipped]]:
    """The file's questions that import as they are (and pass the publish gate's rules), and every
    other question with its line and the reason."""
    questions: list[GiftQuestion] = []
    skipped: list[Skipped] = []
    blocks = _blocks(text)
    for line, lines in blocks[:MAX_QUESTIONS]:
        title = None
        try:
            title, body = _title(_set_escapes_aside("\n".join(lines)))
            questions.append(_question(line, title, body))
        except Refused as refusal:
            skipped.append(Skipped(line, str(refusal), title))
    if len(blocks) > MAX_QUESTIONS:
        line, rest = blocks[MAX_QUESTIONS][0], len(blocks) - MAX_QUESTIONS
        skipped.append(
            Skipped(line, f"not read: {rest} more after the first {MAX_QUESTIONS} (import them apart)")
        )
    return questions, skipped


def _trim(text: str) -> str:
    return text.strip(PHP_SPACE)


def _blocks(text: str) -> list[tuple[int, list[str]]]:
    """Questions as Moodle cuts them: at blank lines, each line trimmed, comment lines left out."""
    blocks: list[tuple[int, list[str]]] = []
    lines: list[str] = []
    start = 0
    for number, raw in enumerate(LINE_BREAK.split(text.removeprefix("\ufeff")), start=1):
        line = _trim(raw)
        if not line:
            if lines:
                blocks.append((start, lines))
                lines = []
        elif not line.startswith("//"):
            start = start if lines else number
            lines.append(line)
    if lines:
        blocks.append((start, lines))
    return blocks


def _set_escapes_aside(text: str) -> str:
    # Moodle's order: `\\` pairs first, so `\\:` is a backslash and a live colon; then the others.
    text = text.replace(ESC, ESC + "x").replace("\\\\", ESC + ESCAPED["\\"])
    for char, letter in ESCAPED.items():
        text = text.replace("\\" + char, ESC + letter)
    return text


def _restore(text: str) -> str:
    return PLACEHOLDER.sub(lambda m: UNESCAPED[m[1]], text)


def _title(text: str) -> tuple[str | None, str]:
    if re.match(r"\$CATEGORY:", text):
        if "\n" in text:  # Moodle would read the question under it as part of the category's name
            raise Refused(
                "a category line ($CATEGORY) with a question under it: put a blank line between them"
            )
        raise Refused("a category line ($CATEGORY: a question bank folder), not a question")
    if not text.startswith("::"):
        return None, text
    end = text.find("::", 2)
    if end < 0:
        raise Refused("a title without its closing '::'")
    return _trim(_restore(text[2:end])) or None, _trim(text[end + 2 :])


def format_tag(text: str, default: TextFormat) -> tuple[TextFormat, str]:
    """Moodle's parse_text_with_format: a leading [html], [moodle], [plain] or [markdown] read and removed."""
    end = text.find("]")
    if text.startswith("[") and end > 0 and text[1:end] in FORMATS:
        return text[1:end], text[end + 1 :]  # type: ignore[return-value]
    return default, text


def _text(raw: str, question_format: TextFormat, what: str) -> str:
    """An option's or a feedback's text: its format tag read (it must agree with the question's where it
    matters), escapes restored, trimmed."""
    text_format, raw = format_tag(_trim(raw), question_format)
    text = _trim(_restore(raw))
    if text_format != question_format and not FORMAT_NEUTRAL.fullmatch(text):
        raise Refused(
            f"{what} is [{text_format}] in a [{question_format}] question and would render differently: "
            "one format per question is supported"
        )
    return text


def _question(line: int, title: str | None, text: str) -> GiftQuestion:
    open_at, close_at = text.find("{"), text.find("}")
    if open_at < 0 and close_at < 0:  # no answer block: Moodle's description, text shown and never graded
        text_format, body = format_tag(text, "moodle")
        if not (prompt := _trim(_restore(body))):
            raise Refused("a description without text")
        return _checked(line, "description", prompt=prompt, title=title, text_format=text_format)
    if open_at < 0:
        raise Refused("a '}' without a '{' before it (write \\} for a literal brace)")
    if close_at < 0:
        raise Refused("a '{' without its closing '}' (write \\{ for a literal brace)")
    if close_at < open_at:
        raise Refused("a '}' before the answer block's '{' (write \\} for a literal brace)")
    answer_text = text[open_at + 1 : close_at]
    if "{" in answer_text:
        raise Refused("a '{' inside the answer block (write \\{ for a literal brace)")
    if "{" in text[close_at + 1 :] or "}" in text[close_at + 1 :]:
        raise Refused("a second answer block or a stray brace after the first (write \\{ and \\} for braces)")

    text_format, before = format_tag(text[:open_at], "moodle")
    blank_at = None
    if close_at == len(text) - 1:
        prompt = _trim(_restore(before))
    else:  # answers inside the sentence: Moodle's missing word, a blank where the block stood
        before, after = _restore(before).lstrip(PHP_SPACE), _restore(text[close_at + 1 :]).rstrip(PHP_SPACE)
        prompt, blank_at = before + BLANK + after, len(before)
    if not prompt:
        raise Refused("a question without text")

    answer_text = _trim(answer_text)
    general_feedback = None
    if (separator := answer_text.rfind("####")) >= 0:
        general_feedback = _text(answer_text[separator + 4 :], text_format, "the general feedback") or None
        answer_text = _trim(answer_text[:separator])

    if answer_text.count("~") + answer_text.count("=") > MAX_ANSWERS:
        raise Refused(f"more than {MAX_ANSWERS} answers in one question")
    exercise_type, fields = _answers(answer_text, text_format)
    return _checked(
        line,
        exercise_type,
        prompt=prompt,
        title=title,
        text_format=text_format,
        blank_at=blank_at,
        general_feedback=general_feedback,
        **fields,
    )


def _checked(line: int, exercise_type: ExerciseType, **fields: Any) -> GiftQuestion:
    """The question as a draft, refused with the reasons when the schema or the gate's rules say no."""
    try:
        draft = AuthoredDraft(**fields)
    except ValidationError as error:
        raise Refused(
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors(include_url=False))
        ) from None
    if reasons := rule_violations(draft, exercise_type, retrieved=None):
        raise Refused("; ".join(reasons))
    return GiftQuestion(line, exercise_type, draft)


def _answers(answer_text: str, text_format: TextFormat) -> tuple[ExerciseType, dict[str, Any]]:
    """The question's type, in Moodle's order of tests, and its answers as draft fields."""
    if not answer_text:  # graded by the model (or an instructor): GIFT has no place for a rubric
        return "essay", {}
    if answer_text.startswith("#"):
        return "numeric", _numeric(answer_text[1:], text_format)
    if "~" in answer_text:
        return _options(answer_text, text_format)
    if "=" in answer_text and "->" in answer_text:
        return "matching", _matching(answer_text, text_format)
    head = _trim(answer_text.split("#", 1)[0]) if answer_text.find("#") > 0 else answer_text
    if head in TRUE_FALSE:
        return "multiple_choice", _true_false(answer_text, text_format)
    return "qa", _short_answer(answer_text, text_format)


def _weight(piece: str, what: str) -> tuple[float | None, str]:
    """A leading %n% weight (as a fraction) and the rest; None when there is none."""
    if match := WEIGHT.match(piece):
        percent = Decimal(match[1])
        if not -100 <= percent <= 100:
            raise Refused(f"{what} has a weight of {match[1]}% (weights run from -100% to 100%)")
        return float(percent / 100), piece[match.end() :]
    if MALFORMED_WEIGHT.match(piece):
        raise Refused(
            f"{what} has a malformed weight {MALFORMED_WEIGHT.match(piece)[0]!r} (write %50% or %-25%)"
        )
    return None, piece


def _with_feedback(piece: str, text_format: TextFormat, what: str) -> tuple[str, str | None]:
    """Moodle's commentparser: the answer before the first '#', its feedback after."""
    answer, _, feedback = piece.partition("#")
    return _text(answer, text_format, what), (_text(feedback, text_format, f"{what}'s feedback") or None)


def _options(answer_text: str, text_format: TextFormat) -> tuple[ExerciseType, dict[str, Any]]:
    """A block with a `~`: Moodle's multiple choice, where learners pick one option, or (no `=`
    anywhere) its multiple-answer form, where they tick several and the weights add up."""
    first, *pieces = answer_text.replace("=", "~=").split("~")
    if _trim(first):
        raise Refused(f"text before the first '~' or '=' of the answer block: {_restore(_trim(first))!r}")
    choices: list[str] = []
    keys: list[ChoiceKey] = []
    for number, piece in enumerate(pieces, start=1):
        what = f"option {number}"
        piece = _trim(piece)
        if piece.startswith("="):
            weight, rest = _weight(piece[1:].lstrip(PHP_SPACE), what)
            if weight not in (None, 1):
                raise Refused(f"{what} is '=' (100%) with a weight of its own: write ~%n% for partial credit")
            weight, piece = 1.0, (rest if weight is not None else piece[1:])
        else:
            found, piece = _weight(piece, what)
            weight = 0.0 if found is None else found
        choice, feedback = _with_feedback(piece, text_format, what)
        choices.append(choice)
        keys.append(ChoiceKey(weight=weight, feedback=feedback))
    if "=" not in answer_text:  # Moodle makes it a question where learners tick several options
        if not any(key.weight > 0 for key in keys):
            raise Refused("a multiple-choice question without a right option (no '=' and no positive weight)")
        return "multiple_answer", {"choices": choices, "choice_keys": keys}
    answer = next(choice for choice, key in zip(choices, keys, strict=True) if key.weight == 1)
    return "multiple_choice", {"choices": choices, "choice_keys": keys, "answer": answer}


def _matching(answer_text: str, text_format: TextFormat) -> dict[str, Any]:
    """`=item -> match` pairs as Moodle reads them: cut at each `=`, then at the first `->`; the item
    takes a format tag, the match is plain text; `= -> match` is a distractor. No weights or feedback:
    a `%` or `#` there is text."""
    first, *pieces = answer_text.split("=")
    if _trim(first):
        raise Refused(f"text before the first '=' of the answer block: {_restore(_trim(first))!r}")
    pairs = []
    for number, piece in enumerate(pieces, start=1):
        item, arrow, match = _trim(piece).partition("->")
        if not arrow:
            raise Refused(f"pair {number} has no '->' between its item and its match")
        pairs.append(
            {"item": _text(item, text_format, f"pair {number}'s item"), "choice": _trim(_restore(match))}
        )
    return {"pairs": pairs}


def _true_false(answer_text: str, text_format: TextFormat) -> dict[str, Any]:
    """{T#feedback when answered wrong#feedback when answered right}, as Moodle reads it."""
    head, *feedback = [*answer_text.split("#", 2), "", ""][:3]
    wrong = _text(feedback[0], text_format, "the wrong answer's feedback") or None
    right = _text(feedback[1], text_format, "the right answer's feedback") or None
    true = TRUE_FALSE[_trim(head)]
    keys = [ChoiceKey(weight=1, feedback=right), ChoiceKey(weight=0, feedback=wrong)]
    return {
        "choices": ["True", "False"],
        "choice_keys": keys if true else keys[::-1],
        "answer": "True" if true else "False",
    }


def _weighted_answers(answer_text: str, text_format: TextFormat) -> list[tuple[str, float, str, str | None]]:
    """A short or numeric answer block's `=` answers as (what, weight, text, feedback): a weight of
    100% unless `%n%` says otherwise, never negative (that is for multiple-choice options)."""
    first, *pieces = answer_text.split("=")
    pieces = [first, *pieces] if _trim(first) else pieces
    answers = []
    for number, piece in enumerate(pieces, start=1):
        what = f"answer {number}"
        weight, piece = _weight(_trim(piece), what)
        if weight is not None and weight < 0:
            raise Refused(
                f"{what} has a negative weight (Moodle allows those on multiple-choice options only)"
            )
        text, feedback = _with_feedback(piece, text_format, what)
        answers.append((what, 1.0 if weight is None else weight, text, feedback))
    return answers


def _short_answer(answer_text: str, text_format: TextFormat) -> dict[str, Any]:
    accepted = []
    for what, weight, text, feedback in _weighted_answers(answer_text, text_format):
        if not text:
            raise Refused(f"{what} is empty")
        accepted.append(AcceptedAnswer(text=text, weight=weight, feedback=feedback))
    reference = next((answer.text for answer in accepted if answer.weight == 1), accepted[0].text)
    return {"answer": reference, "accepted_answers": accepted}


def _numeric(answer_text: str, text_format: TextFormat) -> dict[str, Any]:
    other_feedback = None
    if "~" in answer_text:  # `~#feedback`: for any number none of the answers accepts
        answer_text, other = answer_text.split("~", 1)
        text, other_feedback = _with_feedback(other, text_format, "the other-number feedback")
        if text:
            raise Refused(
                f"text after '~' in a numeric answer block ({text!r}): only '~#feedback' is read there"
            )
    pieces = _weighted_answers(answer_text, text_format)
    if not pieces:
        raise Refused("a numeric question without an answer")
    answers = []
    for what, weight, text, feedback in pieces:
        value, tolerance = _numeric_range(text, what)
        answers.append(NumericAnswer(value=value, tolerance=tolerance, weight=weight, feedback=feedback))
    reference = next((answer.value for answer in answers if answer.weight == 1), answers[0].value)
    return {"answer": reference, "numeric_answers": answers, "other_feedback": other_feedback}


def _numeric_range(text: str, what: str) -> tuple[str, str]:
    """`value`, `value:tolerance` or `low..high` as (value, tolerance); a range becomes its midpoint and
    half-width as Moodle makes them, in exact decimal."""
    if (at := text.find("..")) > 0:
        low, high = parse_number(text[:at]), parse_number(text[at + 2 :])
        if low is not None and high is not None:
            if low > high:
                raise Refused(f"{what}: the range {text!r} runs from its high end to its low end")
            with localcontext(prec=300):
                middle = (low + high) / 2
                return _number_text(middle, what), _number_text(high - middle, what)
    elif (at := text.find(":")) > 0:
        value, tolerance = _trim(text[:at]), _trim(text[at + 1 :])
        if parse_number(value) is not None and (size := parse_number(tolerance)) is not None:
            if size < 0:
                raise Refused(f"{what}: a negative tolerance in {text!r}")
            return value, tolerance  # as the author wrote them: 6.022e23 stays 6.022e23
    elif parse_number(text) is not None:
        return text, "0"
    raise Refused(f"{what}: {text!r} is not a number, a number:tolerance or a low..high range")


def _number_text(number: Decimal, what: str) -> str:
    """The number in plain decimal, without trailing zeros (1.50 -> 1.5, 1e3 -> 1000)."""
    if -30 <= number.adjusted() <= 30:
        text = format(number, "f")
        text = text.rstrip("0").rstrip(".") if "." in text else text
    else:
        with localcontext(prec=300):
            text = str(number.normalize())
    if len(text) > MAX_NUMBER_CHARS:
        raise Refused(f"{what}: a number with more than {MAX_NUMBER_CHARS} characters")
    return "0" if text in ("-0", "+0") else text
