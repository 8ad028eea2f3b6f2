"""Moodle GIFT: questions read as Moodle reads them (its question/format/gift/format.php), and exercises
written back so that they read back the same.

Read, in Moodle's order: the file is cut into questions at blank lines (each line trimmed, `//`
comment lines dropped wherever they stand), the escapes (`\\~ \\= \\# \\{ \\} \\: \\\\ \\n`) are set
aside, then come `$CATEGORY:`, the `::title::`, the answer block `{...}` (text after it makes a
missing-word question: the block becomes a `_____` blank), a leading `[html|moodle|plain|markdown]`
format tag on any text, `####` general feedback, and the type: `{}` essay, `{#...}` numeric, a `~`
multiple choice, `=a -> b` matching, `{T}`/`{TRUE}`/`{F}`/`{FALSE}` true/false (`#wrong#right`
feedback), else short answer. Weights (`%50%`, `%-33.3%`) and `#feedback` are kept per answer.

Kept: multiple choice with one or more `=` options and partial weights, true/false (a two-option
multiple choice), short answers (every accepted answer, graded exactly as Moodle matches them),
numeric (`value:tolerance`, `low..high`, several weighted answers, `~#` other-number feedback).
Refused, each with its reason: essay, matching, descriptions, multiple-answer questions (no `=`:
learners tick several options), and anything Moodle would read as something the author did not
write (a second answer block, a stray brace, text before the first option, a malformed weight, a
negative weight outside multiple choice). A question the publish gate refuses is refused with the
gate's reasons. Nothing is changed silently.

Where this differs from Moodle, on purpose: a comment line leaves no blank line inside the text; a
`::title` without its closing `::` is refused rather than read as text; `=%100%` on an option is read
as the weight Moodle's `=` already means (Moodle keeps "%100%" in the option's text); an option or
feedback in another format than its question's is refused when its text would render differently.

Write: multiple choice (true/false as `{TRUE}`/`{FALSE}`), short answer with accepted answers, and
numeric, with titles, format, feedback, weights and the missing word's blank in its place; every
export is read back and compared before it is returned, so what cannot round-trip is refused.
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
    normalized,
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


def _format_tag(text: str, default: TextFormat) -> tuple[TextFormat, str]:
    """Moodle's parse_text_with_format: a leading [html], [moodle], [plain] or [markdown] read and removed."""
    end = text.find("]")
    if text.startswith("[") and end > 0 and text[1:end] in FORMATS:
        return text[1:end], text[end + 1 :]  # type: ignore[return-value]
    return default, text


def _text(raw: str, question_format: TextFormat, what: str) -> str:
    """An option's or a feedback's text: its format tag read (it must agree with the question's where it
    matters), escapes restored, trimmed."""
    text_format, raw = _format_tag(_trim(raw), question_format)
    text = _trim(_restore(raw))
    if text_format != question_format and not FORMAT_NEUTRAL.fullmatch(text):
        raise Refused(
            f"{what} is [{text_format}] in a [{question_format}] question and would render differently: "
            "one format per question is supported"
        )
    return text


def _question(line: int, title: str | None, text: str) -> GiftQuestion:
    open_at, close_at = text.find("{"), text.find("}")
    if open_at < 0 and close_at < 0:
        raise Refused("a description (no answer block, so nothing to answer)")
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

    text_format, before = _format_tag(text[:open_at], "moodle")
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
    try:
        draft = AuthoredDraft(
            prompt=prompt,
            title=title,
            text_format=text_format,
            blank_at=blank_at,
            general_feedback=general_feedback,
            **fields,
        )
    except ValidationError as error:
        raise Refused(
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors(include_url=False))
        ) from None
    if reasons := rule_violations(draft, exercise_type, retrieved=None):
        raise Refused("; ".join(reasons))
    return GiftQuestion(line, exercise_type, draft)


def _answers(answer_text: str, text_format: TextFormat) -> tuple[ExerciseType, dict[str, Any]]:
    """The question's type, in Moodle's order of tests, and its answers as draft fields."""
    if not answer_text:
        raise Refused("an essay question (an empty answer block: free text with nothing to grade it against)")
    if answer_text.startswith("#"):
        return "numeric", _numeric(answer_text[1:], text_format)
    if "~" in answer_text:
        return "multiple_choice", _multiple_choice(answer_text, text_format)
    if "=" in answer_text and "->" in answer_text:
        raise Refused("a matching question ('=item -> match' pairs) is not supported")
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


def _multiple_choice(answer_text: str, text_format: TextFormat) -> dict[str, Any]:
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
        if any(key.weight > 0 for key in keys):
            raise Refused(
                "a multiple-answer question (no '=' option: learners tick several and their weights add up)"
                " is not supported"
            )
        raise Refused("a multiple-choice question without a right option (no '=' and no positive weight)")
    answer = next(choice for choice, key in zip(choices, keys, strict=True) if key.weight == 1)
    return {"choices": choices, "choice_keys": keys, "answer": answer}


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


# --- writing --------------------------------------------------------------------------------------


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
    block = "{" + _answer_block(exercise_type, draft, text_format) + "}"
    # Moodle's writer forgets these: a prompt that starts like a format tag, a comment or a byte-order
    # mark needs a tag of its own in front, or the reader takes it for that.
    tagged = draft.text_format not in (None, "moodle") or draft.prompt.startswith(("[", "//", "\ufeff"))
    head = (f"::{_escape(draft.title)}:: " if draft.title else "") + (f"[{text_format}]" if tagged else "")
    if draft.blank_at is None:
        written = f"{head}{_escape(draft.prompt)} {block}\n"
    else:
        after = draft.blank_at + len(BLANK)
        written = f"{head}{_escape(draft.prompt[: draft.blank_at])}{block}{_escape(draft.prompt[after:])}\n"
    _check_reads_back(written, exercise_type, draft)
    return written


def _escape(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\\", "\\\\")
    return re.sub(r"[~=#{}:]", lambda m: "\\" + m[0], text).replace("\n", "\\n")


def _written(text: str, text_format: str) -> str:
    """An option's or a feedback's text: escaped, with the question's tag where the text itself starts
    like a tag (it would be read as one)."""
    needs_tag = text.startswith("[") and _format_tag(text, "moodle")[1] != text
    return (f"[{text_format}]" if needs_tag else "") + _escape(text)


def _percent(weight: float) -> str:
    return format((Decimal(repr(weight)) * 100).normalize(), "f")


def _answer_block(exercise_type: str, draft: AuthoredDraft, text_format: str) -> str:
    def feedback(text: str | None) -> str:
        return f" #{_written(text, text_format)}" if text else ""

    general = f"\n####{_written(draft.general_feedback, text_format)}" if draft.general_feedback else ""
    if exercise_type == "multiple_choice":
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
            lines.append(f"\n\t{marker}{_written(choice, text_format)}{feedback(key.feedback)}")
        return "".join(lines) + general + "\n"
    if exercise_type == "qa":
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
            lines.append(f"\n\t{marker}{_written(answer.text, text_format)}{feedback(answer.feedback)}")
        if arrow:  # on the brace's line: an answer without its '=' could start like a comment
            return "".join(lines).lstrip("\n\t") + general.replace("\n", " ")
        return "".join(lines) + general + "\n"
    if exercise_type == "numeric":
        lines = [
            f"\n\t=%{_percent(a.weight)}%{a.value}:{a.tolerance}{feedback(a.feedback)}"
            for a in draft.numeric_answers
        ]
        if draft.other_feedback:
            lines.append(f"\n\t~{feedback(draft.other_feedback)}")
        return "#" + "".join(lines) + general + "\n"
    raise ValueError(f"a {exercise_type} exercise has no GIFT form")


def _choice_keys(draft: AuthoredDraft) -> list[ChoiceKey]:
    if draft.choice_keys:
        return draft.choice_keys
    answer = normalized(draft.answer or "")
    return [ChoiceKey(weight=float(normalized(choice) == answer)) for choice in draft.choices]


def gift_view(exercise_type: str, draft: AuthoredDraft) -> dict[str, Any]:
    """What a GIFT question holds of an exercise, to compare an export with what it reads back as:
    the prompt, title, format, blank, options, answers, weights and feedback (not skills, hints,
    rubric or difficulty, which GIFT has no place for)."""
    view: dict[str, Any] = {
        "type": exercise_type,
        "prompt": draft.prompt.strip(),
        "title": draft.title,
        "text_format": draft.text_format or "moodle",
        "blank_at": draft.blank_at,
        "general_feedback": draft.general_feedback,
    }
    if exercise_type == "multiple_choice":
        keys = _choice_keys(draft)
        view["choices"] = [
            (c.strip(), k.weight, k.feedback) for c, k in zip(draft.choices, keys, strict=True)
        ]
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
        raise ValueError(f"its GIFT form would read back differently ({', '.join(differ)})")
