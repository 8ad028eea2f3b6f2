"""What a requirement's own words say about it, read in code so a model cannot make a nice-to-have a
must-have, or a "basic familiarity" an expert level.

A requirement's line in the target, and the nearest heading above it ("Nice to have:", "## Required"),
are read for cues. A cue that disagrees with the model wins; with no cue the model's reading stays.
"""

from __future__ import annotations

import re

from rapidfuzz import fuzz

NICE_CUES = (
    "nice to have",
    "nice-to-have",
    "a plus",
    "is a plus",
    "bonus",
    "preferred",
    "desirable",
    "optional",
    "ideally",
    "an advantage",
    "advantageous",
    "would be great",
    "helpful",
)
MUST_CUES = (
    "must",
    "required",
    "requirement",
    "requirements",
    "essential",
    "mandatory",
    "you will need",
    "you need",
    "necessary",
)
LEVEL_CUES = {
    "advanced": (
        "expert",
        "advanced",
        "senior",
        "deep knowledge",
        "deep understanding",
        "extensive",
        "mastery",
    ),
    "intermediate": (
        "solid",
        "working knowledge",
        "proficient",
        "proficiency",
        "good knowledge",
        "intermediate",
    ),
    "beginner": (
        "basic",
        "basics",
        "familiarity",
        "familiar with",
        "introductory",
        "some exposure",
        "beginner",
    ),
}
# A line that introduces a list: ends with a colon, a Markdown heading, or a short line on its own.
_HEADING = re.compile(r"^\s*(#{1,6}\s+.+|[^.!?]{2,60}:\s*)$")


def _has(text: str, cues: tuple[str, ...]) -> bool:
    folded = f" {re.sub(r'[^a-z0-9+ -]+', ' ', text.casefold())} "
    return any(f" {cue} " in folded for cue in cues)


def context(target: str, quote: str) -> tuple[str, str]:
    """The target's line that best holds the quote, and the nearest heading above it ('' if none)."""
    lines = target.splitlines()
    if not lines:
        return "", ""
    scores = [fuzz.partial_ratio(quote.casefold(), line.casefold()) if line.strip() else 0 for line in lines]
    at = max(range(len(lines)), key=scores.__getitem__)
    heading = next((lines[i] for i in range(at - 1, -1, -1) if _HEADING.match(lines[i])), "")
    line = lines[at]
    if _HEADING.match(line) and ":" in line:
        line = line.split(":", 1)[1]  # "Nice to have: Docker" reads its own label as a heading
        heading = lines[at].split(":", 1)[0]
    return line, heading


def importance(model_says: str, line: str, heading: str) -> str:
    """must or nice: the line's cue, else the heading's, else the model's."""
    for text in (line, heading):
        nice, must = _has(text, NICE_CUES), _has(text, MUST_CUES)
        if nice != must:
            return "nice" if nice else "must"
    return model_says


def level(model_says: str | None, line: str) -> str | None:
    """The level the requirement's own line names, else the model's."""
    named = [name for name, cues in LEVEL_CUES.items() if _has(line, cues)]
    return named[0] if len(named) == 1 else model_says
