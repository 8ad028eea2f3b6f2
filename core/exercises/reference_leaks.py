"""Feedback that never names the reference answer: what the model writes to a learner (feedback,
mistakes, a hint, an exercise's hints) loses every sentence that gives the answer away, whatever
its length. The grade kind checks the judge's words with it, the exercise kind a generated
exercise's hints.

The model is told not to quote the reference; this is the check in code. It works on words, not
on resemblance: a reference's *telling words* are its words that are not small function words and
that the learner did not already have (in the question, in the options shown beside it, or in
their own answer); words match whatever their
case or inflection ("Mitochondria" is named by "the mitochondrion"). A sentence is dropped when it
holds a telling word of a short reference (three telling words or fewer: every one of them is the
answer), or two of a longer one's (one shared word is a topic, two are the answer).
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# Endings folded before words are compared, longest first: plurals (Latin and Greek ones too),
# verb forms, adjective forms. A stem keeps at least MIN_STEM letters.
_ENDINGS = (
    "ically", "ations", "ation", "ical", "ings", "ions", "ies", "ing", "ion", "ous", "ive", "ity",
    "ed", "es", "ly", "al", "ic", "is", "ia", "ae", "um", "us", "on", "a", "s", "i", "e", "y",
)  # fmt: skip
MIN_STEM = 3
SHORT_REFERENCE = 3  # telling words: up to this many, any one of them names the answer
_FUNCTION_WORDS = frozenset(
    """a an the of to in on at for from by with about into over as and or but not no nor so than then
    is are was were be been being am do does did have has had it its this that these those there here
    i me my we our you your he she they them his her their what which who whom whose how why when
    where can could would should shall will may might must very more most some any all each also just
    only both either neither one""".split()
)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def stem(word: str) -> str:
    """The word without up to two inflectional endings (virus-es), casefolded, without accents."""
    word = _fold(word)
    for _ in range(2):
        for ending in _ENDINGS:
            if word.endswith(ending) and len(word) - len(ending) >= MIN_STEM:
                word = word[: -len(ending)]
                break
        else:
            break
    return word


def words(text: str) -> list[str]:
    return [word for word in _WORD.findall(text) if _fold(word) not in _FUNCTION_WORDS]


def same_word(a: str, b: str) -> bool:
    """Two stems name the same word: equal, or one a long prefix of the other (photosynthes-is,
    photosynthet-ic), which catches inflections the endings above do not."""
    if a == b:
        return True
    shorter, longer = sorted((a, b), key=len)
    if len(shorter) < 5:
        return False
    common = 0
    for x, y in zip(shorter, longer):
        if x != y:
            break
        common += 1
    return common >= max(5, round(0.8 * len(shorter)))


def telling_words(reference: str, *, known: str) -> list[str]:
    """The reference's stems that the learner did not already have (in `known`)."""
    known_stems = [stem(word) for word in words(known)]
    telling: list[str] = []
    for word in words(reference):
        s = stem(word)
        if s not in telling and not any(same_word(s, k) for k in known_stems):
            telling.append(s)
    return telling


def names_reference(sentence: str, telling: list[str]) -> bool:
    if not telling:
        return False
    found = {t for t in telling for word in words(sentence) if same_word(stem(word), t)}
    return len(found) >= (1 if len(telling) <= SHORT_REFERENCE else 2)


def without_reference(text: str, reference: str, *, known: str = "") -> str:
    """`text` minus each sentence that names `reference` (see the module's docstring); `known` is
    what the learner already had: the question and their own answer."""
    telling = telling_words(reference, known=known)
    sentences = [s for s in _SENTENCE_END.split(text.strip()) if s.strip()]
    return " ".join(s for s in sentences if not names_reference(s, telling))


def hints_without_reference(hints: list[str], reference: str, *, known: str = "") -> list[str]:
    """Each hint minus its sentences that name `reference`; a hint left empty is dropped."""
    return [kept for hint in hints if (kept := without_reference(hint, reference, known=known))]
