"""Moodle GIFT: read questions into exercise drafts, write exercises back out.

Read: multiple choice (`{=right ~wrong ~wrong}`), short answer (`{=answer =other}`: the first is
the reference), and true/false (`{T}`, `{FALSE}`: a two-option multiple choice, which the
publish gate then refuses for having fewer than 3 options; it is reported, not hidden). Other
types (matching `->`, numeric `#`, essay `{}`, missing word) are skipped with the reason.
Per-answer weights (`%50%`) and feedback (`#...`) are dropped. Comments (`//`), titles
(`::title::`), `[markdown]`-style format tags and GIFT's escapes (`\\~ \\= \\# \\{ \\} \\:`)
are understood.
Write: multiple choice and short answer; a coding exercise has no GIFT form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.exercise_rules import ExerciseDraft

SPECIAL = "~=#{}:"
MAX_QUESTIONS = 500


@dataclass
class GiftQuestion:
    line: int
    title: str | None
    exercise_type: str
    draft: ExerciseDraft


@dataclass
class Skipped:
    line: int
    reason: str


def _unescape(text: str) -> str:
    return re.sub(r"\\([~=#{}:\\n])", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def _split_unescaped(text: str, markers: str) -> list[str]:
    """`text` cut before every unescaped character of `markers`, each part keeping its marker."""
    parts, current, escaped = [], "", False
    for char in text:
        if escaped:
            current += "\\" + char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in markers:
            parts.append(current)
            current = char
        else:
            current += char
    parts.append(current + ("\\" if escaped else ""))
    return [part for part in parts if part.strip()]


def _find_unescaped(text: str, char: str, start: int = 0) -> int:
    index = start
    while (index := text.find(char, index)) >= 0:
        backslashes = len(text[:index]) - len(text[:index].rstrip("\\"))
        if backslashes % 2 == 0:
            return index
        index += 1
    return -1


def parse(text: str) -> tuple[list[GiftQuestion], list[Skipped]]:
    questions: list[GiftQuestion] = []
    skipped: list[Skipped] = []
    blocks: list[tuple[int, str]] = []
    current: list[str] = []
    start_line = 1
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw if not raw.lstrip().startswith("//") else ""
        if line.strip():
            if not current:
                start_line = number
            current.append(line)
        elif current:
            blocks.append((start_line, "\n".join(current)))
            current = []
    if current:
        blocks.append((start_line, "\n".join(current)))
    for line, block in blocks[:MAX_QUESTIONS]:
        try:
            questions.append(_question(line, block))
        except ValueError as error:
            skipped.append(Skipped(line, str(error)))
    skipped += [Skipped(line, f"more than {MAX_QUESTIONS} questions") for line, _ in blocks[MAX_QUESTIONS:]]
    return questions, skipped


def _question(line: int, block: str) -> GiftQuestion:
    block = block.strip()
    if block.startswith("$CATEGORY"):
        raise ValueError("a category line, not a question")
    title = None
    if block.startswith("::"):
        end = block.find("::", 2)
        if end < 0:
            raise ValueError("a title without its closing '::'")
        title, block = _unescape(block[2:end].strip()), block[end + 2 :].strip()
    open_at = _find_unescaped(block, "{")
    close_at = _find_unescaped(block, "}", open_at + 1) if open_at >= 0 else -1
    if open_at < 0 or close_at < 0:
        raise ValueError("no answer block in braces")
    prompt = _unescape(
        re.sub(
            r"^\[(html|moodle|markdown|plain)\]", "", (block[:open_at] + " " + block[close_at + 1 :]).strip()
        )
    )
    prompt = " ".join(prompt.split()) if "\n" not in prompt.strip() else prompt.strip()
    answers = block[open_at + 1 : close_at].strip()
    if not prompt:
        raise ValueError("a question without text")
    if answers.upper() in ("T", "TRUE", "F", "FALSE"):
        correct = "True" if answers.upper().startswith("T") else "False"
        return GiftQuestion(
            line,
            title,
            "multiple_choice",
            ExerciseDraft(prompt=prompt, choices=["True", "False"], answer=correct),
        )
    if not answers:
        raise ValueError("an essay question (no answer to grade against)")
    if answers.startswith("#"):
        raise ValueError("a numeric question (not supported)")
    parts = _split_unescaped(answers, "=~")
    right, wrong = [], []
    for part in parts:
        marker, body = part[0], part[1:]
        if marker not in "=~":
            raise ValueError("an answer block that is not a list of =right and ~wrong answers")
        if "->" in body:
            raise ValueError("a matching question (not supported)")
        body = re.sub(r"^%-?[0-9.]+%", "", body.strip())
        feedback_at = _find_unescaped(body, "#")
        body = _unescape((body[:feedback_at] if feedback_at >= 0 else body).strip())
        (right if marker == "=" else wrong).append(body)
    if wrong:
        if len(right) != 1:
            raise ValueError("a multiple-choice question needs exactly one =right answer")
        return GiftQuestion(
            line,
            title,
            "multiple_choice",
            ExerciseDraft(prompt=prompt, choices=[right[0], *wrong], answer=right[0]),
        )
    return GiftQuestion(line, title, "qa", ExerciseDraft(prompt=prompt, answer=right[0], rubric=None))


def escape(text: str) -> str:
    return "".join("\\" + char if char in SPECIAL else char for char in text).replace("\n", "\\n")


def format_exercise(
    *, title: str, exercise_type: str, prompt: str, choices: list[str] | None, answer: str
) -> str:
    """One exercise as a GIFT question. Raises ValueError for a type GIFT cannot hold."""
    if exercise_type == "multiple_choice":
        lines = [
            f"={escape(choice)}" if choice == answer else f"~{escape(choice)}" for choice in choices or []
        ]
    elif exercise_type == "qa":
        lines = [f"={escape(answer)}"]
    else:
        raise ValueError(f"a {exercise_type} exercise has no GIFT form")
    body = "\n".join(f"    {line}" for line in lines)
    return f"::{escape(title)}:: {escape(prompt)} {{\n{body}\n}}\n"
