"""What makes two questions the same question, for the answer cache: a normalized form for exact
hits, content words for semantic ones, and the keys an entry is stored and found under.

A semantic hit needs equal content words as well as close embeddings, because embeddings of
"is X safe" and "is X unsafe" sit very close: the words tell them apart. Negations and other
small words that flip a meaning are content words here, never stop words."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import uuid
from collections.abc import Mapping, Sequence

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)

# Words that carry no meaning of their own in a question. Deliberately short: a word wrongly kept
# costs a cache miss, a word wrongly dropped could cost a wrong answer.
STOP_WORDS = frozenset(
    """a an the of to in on at for from by with about into over as and or
    is are was were be been being am do does did done doing have has had having
    i me my we our you your it its this that these those there here
    what which who whom whose how why when where
    can could would should shall will may might must
    please tell explain describe give show me us some any""".split()
)
# Contractions are split before stop words are dropped: "isn't" keeps its "not".
_CONTRACTIONS = {"n't": " not", "'s": "", "'re": "", "'ve": "", "'ll": "", "'d": "", "'m": ""}


def normalize_question(question: str) -> str:
    """Case, width, spacing and punctuation folded: "What is  FSRS?" == "what is fsrs"."""
    text = unicodedata.normalize("NFKC", question).casefold().replace("’", "'")
    return " ".join(_WORD.findall(text))


def content_words(question: str) -> list[str]:
    """The words that decide what is asked, sorted and deduplicated, plurals folded."""
    text = unicodedata.normalize("NFKC", question).casefold().replace("’", "'")
    for contraction, replacement in _CONTRACTIONS.items():
        text = text.replace(contraction, replacement)
    words = {_singular(word) for word in _WORD.findall(text) if word not in STOP_WORDS}
    return sorted(words)


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def context_key(
    *,
    collection_versions: Mapping[uuid.UUID, int],
    owner_id: uuid.UUID | None,
    instructions_version: int | None,
    model: str,
    embed_model: str,
) -> str:
    """Everything but the question that decides an answer: the collections searched and the
    version of each one's content, whose they are, the instructions and both models."""
    document = {
        "collections": sorted([str(cid), version] for cid, version in collection_versions.items()),
        "owner": str(owner_id) if owner_id else None,
        "instructions": instructions_version,
        "model": model,
        "embed_model": embed_model,
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def lookup_key(context: str, question: str) -> str:
    return hashlib.sha256(f"{context}\n{normalize_question(question)}".encode()).hexdigest()


def same_content(a: Sequence[str], b: Sequence[str]) -> bool:
    return sorted(set(a)) == sorted(set(b))
