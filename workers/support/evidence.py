"""Which passages a sentence rests on: the passages' sentences ranked by the sentence's content words
each holds, each word weighted by how rare it is among the passages (a shared rare name counts more
than a shared "system")."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from workers.support.features import content

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)|\s*\n+\s*")


@dataclass(frozen=True)
class PassageSentence:
    passage: int  # index into the passages given
    text: str


def passage_sentences(passages: list[str]) -> list[PassageSentence]:
    return [
        PassageSentence(index, piece.strip())
        for index, passage in enumerate(passages)
        for piece in _SENTENCE_END.split(passage)
        if piece.strip()
    ]


def resting(claim: str, sentences: list[PassageSentence], *, share: float = 0.6) -> list[int]:
    """The passages the claim rests on, best first: the one holding the best-ranked sentence, and
    any whose best sentence ranks within `share` of it. None when no sentence shares a word."""
    bags = [{stem for stem, _ in content(s.text)} for s in sentences]
    frequency = Counter(stem for bag in bags for stem in bag)
    wanted = {stem for stem, _ in content(claim)}
    best: dict[int, float] = {}
    for sentence, bag in zip(sentences, bags, strict=True):
        weight = sum(math.log(1 + len(sentences) / frequency[stem]) for stem in wanted & bag)
        best[sentence.passage] = max(weight, best.get(sentence.passage, 0.0))
    top = max(best.values(), default=0.0)
    if top <= 0:
        return []
    return [p for p, w in sorted(best.items(), key=lambda kv: (-kv[1], kv[0])) if w >= share * top]


def evidence_window(claim: str, sentences: list[str], size: int, first: tuple[int, ...] = ()) -> str:
    """The `size` passage sentences most likely to state the claim (those sharing its rarest words,
    after any in `first`), joined in passage order: what a reading model (workers/support/reader.py)
    judges the claim against, so its cost per claim stays bounded whatever the passages' length."""
    bags = [{stem for stem, _ in content(s)} for s in sentences]
    frequency = Counter(stem for bag in bags for stem in bag)
    wanted = {stem for stem, _ in content(claim)}
    # Summed in a fixed order: a set's order changes between processes, and so would ties.
    weights = [
        sum(math.log(1 + len(sentences) / frequency[stem]) for stem in sorted(wanted & bag)) for bag in bags
    ]
    ranked = list(dict.fromkeys(i for i in first if i < len(sentences)))
    ranked += [i for i in sorted(range(len(sentences)), key=lambda i: -weights[i]) if i not in ranked]
    return " ".join(sentences[i] for i in sorted(ranked[:size]))
