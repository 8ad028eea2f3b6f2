"""What the support model weighs for one sentence against the passages: how much of what the
sentence says is not found there. Each is a number; the model (workers/support/model.py) has learned
how much each counts, and each pushes the way one would expect (a missing word towards
"unsupported", a shared word pair towards "supported").

- how many of the sentence's content words no passage holds: all of them, the rare ones (a word the
  tokenizer cuts into pieces: a missing "Mecklenburg" says more than a missing "system"), the
  numbers and the names (capitalised words);
- how many of its content-word pairs (bigrams) the passages hold in that order;
- how much of it one passage sentence holds (the closest restatement).

Other numbers were tried (training/support_train.py says which and what they measured); the
embedding model's closeness weighed nothing beside these, so the check needs no embeddings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_DIGIT = re.compile(r"\d")
_STOP = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being it its
    this that these those there here you your we our they their he she his her i me my can could will
    would should may might must do does did have has had about into over than then so such also which
    who whom what when where why how all any each more most other some only own same very just not no
    based given passage passages according""".split()
)

NAMES = (
    "missing_words",
    "missing_rare",
    "missing_numbers",
    "missing_names",
    "bigram_share",
    "best_sentence_share",
)


_NUMBER_WORDS = {
    word: str(value)
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
}
_AMOUNT = re.compile(r"\d+(?:[.,]\d+)*")
# Numbers that name a place in the text, not an amount: "passage 2", "step 3", a list item's "1.".
_NOT_AMOUNTS = re.compile(
    r"(?i)\b(?:passage|step|option|method|section|chapter|part|point)s?\s+\d+(?:\s*(?:,|and|&)\s*\d+)*"
    r"|^\s*\d{1,2}[.)]\s"
)


def amounts(text: str) -> set[str]:
    """The numbers a text states, digits or words ("five" is "5"; "1,000" is "1000")."""
    text = _NOT_AMOUNTS.sub(" ", text)
    found = {number.replace(",", "") for number in _AMOUNT.findall(text)}
    found = {n[:-2] if n.endswith(".0") else n for n in found}
    return found | {_NUMBER_WORDS[w.casefold()] for w in _WORD.findall(text) if w.casefold() in _NUMBER_WORDS}


def _stem(word: str) -> str:
    word = word.casefold().replace("’", "'")
    for suffix in ("'s", "ies", "es", "s", "ing", "ed", "ly"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content(text: str) -> list[tuple[str, str]]:
    """(stem, word as written) of each content word."""
    return [(_stem(w), w) for w in _WORD.findall(text) if w.casefold() not in _STOP]


@dataclass(frozen=True)
class PassageWords:
    stems: set[str]
    bigrams: set[tuple[str, str]]
    sentences: list[tuple[str, set[str]]]  # text, its stems


def passage_words(sentences: list[str]) -> PassageWords:
    stems: set[str] = set()
    bigrams: set[tuple[str, str]] = set()
    found = []
    for text in sentences:
        words = [s for s, _ in content(text)]
        stems.update(words)
        bigrams.update(zip(words, words[1:], strict=False))
        found.append((text, set(words)))
    return PassageWords(stems, bigrams, found)


def restated(sentence: str, passages: PassageWords) -> tuple[str, float]:
    """The passage sentence holding most of the sentence's content words, and the share it holds."""
    stems = {stem for stem, _ in content(sentence)}
    if not stems or not passages.sentences:
        return "", 0.0
    text, best = max(passages.sentences, key=lambda s: len(stems & s[1]))
    return text, len(stems & best) / len(stems)


def features(sentence: str, passages: PassageWords, pieces: Callable[[str], int]) -> list[float]:
    """NAMES' values for one sentence (`pieces` counts a word's word pieces)."""
    words = content(sentence)
    if not words:
        return [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
    missing = [written for stem, written in words if stem not in passages.stems]
    stems = [stem for stem, _ in words]
    pairs = list(zip(stems, stems[1:], strict=False))
    _, restatement = restated(sentence, passages)
    return [
        float(len(missing)),
        float(sum(1 for w in missing if pieces(w) > 1)),
        float(sum(1 for w in missing if _DIGIT.search(w))),
        float(sum(1 for w in missing if w[:1].isupper())),
        sum(pair in passages.bigrams for pair in pairs) / len(pairs) if pairs else 1.0,
        restatement,
    ]
