"""What a tutor turn sees of the conversation before it: the newest turns in full up to a token
budget, the older ones summarised by code (the first sentence of each, the newest kept when the
summary overflows). No model call, so the summary cannot invent anything."""

from __future__ import annotations

import re
from dataclasses import dataclass

from db.models import ConversationMessage

CHARS_PER_TOKEN = 4  # a rough count, enough to bound a prompt
SUMMARY_CHARS = 600
SUMMARY_TURN_CHARS = 140
_MARKERS = re.compile(r"\s*\[\d{1,3}\]")


@dataclass
class History:
    recent: list[dict[str, str]]  # chat messages, oldest first
    summary: str | None
    summarised: int


def history(turns: list[ConversationMessage], *, budget_tokens: int) -> History:
    """The newest turns that fit the budget, in full; the older ones as a summary made by code
    (the first sentence of each, newest kept when it overflows): no model call, nothing invented."""
    recent: list[dict[str, str]] = []
    used = 0
    index = len(turns)
    while index > 0:
        turn = turns[index - 1]
        content = _MARKERS.sub("", turn.content)  # old markers point at another answer's passages
        cost = len(content) // CHARS_PER_TOKEN + 1
        if used + cost > budget_tokens:
            break
        recent.insert(0, {"role": turn.role, "content": content})
        used += cost
        index -= 1
    older = turns[:index]
    if not older:
        return History(recent, None, 0)
    lines = [
        f"{'learner' if turn.role == 'user' else 'tutor'}: {_first_sentence(turn.content)}" for turn in older
    ]
    summary = ""
    for line in reversed(lines):
        if len(summary) + len(line) + 1 > SUMMARY_CHARS:
            break
        summary = line + "\n" + summary
    return History(recent, summary.strip() or None, len(older))


def _first_sentence(text: str) -> str:
    sentence = re.split(r"(?<=[.!?])\s", _MARKERS.sub("", text).strip(), maxsplit=1)[0]
    return sentence if len(sentence) <= SUMMARY_TURN_CHARS else sentence[: SUMMARY_TURN_CHARS - 1] + "…"
