"""verify(): the one support check. For each sentence of a model's text, whether the passages state
it, with the passages it rests on and the model's score; the callers (ask, the tutor, the
benchmarks) decide what a removed sentence means for them.

Not every sentence is a claim. A question, a refusal ("I can't answer that from these passages")
and a two-word connective ("In short:") state nothing about the passages and are kept as they are.
A fragment of code, markup or JSON (`document.write(`) is never a supported sentence: a learner
must not read such a fragment as the library's word.

A sentence longer than the sentences the model learned from (over PART_WORDS words) is judged
clause by clause (else every PART_WORDS words), and every part must be stated: one invented
clause at the end of a long sentence is not diluted by the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core import claims
from workers.support.evidence import evidence_window, passage_sentences, resting
from workers.support.features import amounts, content, features, passage_words, restated
from workers.support.model import SupportModel, support_model, word_pieces
from workers.support.reader import ReadingModel

# A sentence that only says the passages do not answer: a non-claim (the whole sentence must be one).
_REFUSAL = re.compile(
    r"^(?:unfortunately,?\s+|sorry,?\s+|however,?\s+)?(?:"
    r"(?:i\s+(?:am|'m)\s+)?(?:unable|not able)\s+to\s+(?:answer|determine|find|provide)|"
    r"i\s+(?:can(?:no|')t|cannot|could\s+not|couldn't|do\s+not|don't)\s+(?:answer|know|determine|find|tell|provide)|"
    r"(?:it\s+is\s+)?(?:not\s+possible|impossible)\s+to\s+(?:answer|determine|tell|say)|"
    r"(?:the\s+)?(?:given\s+|provided\s+)?passages?\s+(?:do(?:es)?\s+not|don't|doesn't)\s+"
    r"(?:contain|provide|mention|include|say|state|specify|answer|give)|"
    r"there\s+is\s+no\s+(?:information|mention)|no\s+information\s+(?:is\s+)?(?:given|provided|available)"
    r")\b",
    re.IGNORECASE,
)
_REFUSAL_MAX_WORDS = 25
_ALPHA_WORD = re.compile(r"[^\W\d_]{2,}")
_CODE = re.compile(r"[{}<>;=`]|\w\(")
# How much of a sentence one passage sentence must hold for the sentence to be read as restating
# it, and so held to its negation (core/claims.py). Measured on RAGTruth's development answers: the
# rule then removes 18 of 2,016 clean sentences and 1 hallucinated one, and on the team's labelled
# set 15 of the 18 negated sentences, which the model keeps (every word is there).
RESTATES = 0.75
# The least share of a sentence's content words the passages must hold. RAGTruth's people passed
# many LLM sentences of mostly new words, and the model learned that; a learning site should not.
# Measured on RAGTruth's validation questions: false alarms 0.107 -> 0.140, answers caught 0.76 ->
# 0.82 (on the training questions 0.084 -> 0.107, 0.73 -> 0.82).
LEAST_WORDS_FOUND = 0.25
_PART_BREAK = re.compile(r"(?<=[,;:])\s+")
PART_WORDS = 40
CLAUSE_WORDS = 6


@dataclass(frozen=True)
class Verdict:
    text: str
    kind: str  # claim, question, refusal, connective or fragment
    score: float | None = None  # the model's probability that the passages state it (claims)
    passages: list[int] = field(default_factory=list)  # indexes of the passages it rests on, best first
    reason: str | None = None  # why it is removed: "unsupported" or "fragment"

    @property
    def kept(self) -> bool:
        return self.reason is None


def kind_of(sentence: str) -> str:
    text = sentence.strip()
    words = _ALPHA_WORD.findall(text)
    if text.endswith("?"):
        return "question"
    if _REFUSAL.search(text) and len(text.split()) <= _REFUSAL_MAX_WORDS:
        return "refusal"
    if _unbalanced(text) or (_CODE.search(text) and len(words) < 0.6 * len(text.split())):
        return "fragment"
    if len(words) < 3:
        return "connective"
    return "claim"


def _unbalanced(text: str) -> bool:
    return any(text.count(a) != text.count(b) for a, b in ("()", "[]", "{}")) or text.count("`") % 2 == 1


def parts(sentence: str) -> list[str]:
    """The sentence, or, over PART_WORDS words, its clauses (cut at commas, semicolons and colons; one
    of under CLAUSE_WORDS words joins the next), each cut again every PART_WORDS words: in order,
    every word in one of them."""
    if len(sentence.split()) <= PART_WORDS:
        return [sentence]
    clauses: list[list[str]] = []
    carried: list[str] = []
    for clause in _PART_BREAK.split(sentence):
        carried.extend(clause.split())
        if len(carried) >= CLAUSE_WORDS:
            clauses.append(carried)
            carried = []
    if carried:
        if clauses:
            clauses[-1].extend(carried)
        else:
            clauses.append(carried)
    return [
        " ".join(words[i : i + PART_WORDS]) for words in clauses for i in range(0, len(words), PART_WORDS)
    ]


def verify(
    sentences: list[str],
    passages: list[str],
    *,
    min_score: float | None = None,
    model: SupportModel | ReadingModel | None = None,
) -> list[Verdict]:
    """A verdict for each sentence against the passages (texts; a verdict's `passages` index them).

    `min_score`: the least probability of "stated" to keep a claim (default: the model's own)."""
    kinds = [kind_of(s) for s in sentences]
    claims = [s for s, k in zip(sentences, kinds, strict=True) if k == "claim"]
    if not claims:
        return [_non_claim(s, k) for s, k in zip(sentences, kinds, strict=True)]
    model = model or support_model()
    if min_score is None:
        min_score = _configured_min_score(model)
    pieces = passage_sentences(passages)
    words = passage_words([p.text for p in pieces])
    stated_amounts = set().union(*(amounts(p) for p in passages)) if passages else set()
    read = _read(model, claims, pieces) if isinstance(model, ReadingModel) and pieces else {}
    verdicts = []
    for sentence, kind in zip(sentences, kinds, strict=True):
        if kind != "claim":
            verdicts.append(_non_claim(sentence, kind))
            continue
        score = 0.0
        if read:
            score = read[sentence]
        elif pieces:
            score = min(1 - model.unsupported(features(part, words, word_pieces)) for part in parts(sentence))
        reason = (
            None
            if score >= min_score and _found_share(sentence, words) >= LEAST_WORDS_FOUND
            else "unsupported"
        )
        if reason is None and amounts(sentence) - stated_amounts:
            reason = "number"  # an amount no passage states: the model weighs it, this never lets it pass
        if reason is None and _negates_what_it_restates(sentence, words):
            reason = "negation"
        verdicts.append(
            Verdict(
                sentence,
                "claim",
                round(score, 4),
                resting(sentence, pieces) if reason is None else [],
                reason,
            )
        )
    return verdicts


def _read(model: ReadingModel, claims: list[str], pieces) -> dict[str, float]:
    """A reading model's score for each claim against its evidence window, in one batched call."""
    texts = [p.text for p in pieces]
    unique = list(dict.fromkeys(claims))
    windows = [evidence_window(claim, texts, model.window) for claim in unique]
    return dict(zip(unique, model.supported(unique, windows), strict=True))


def _found_share(sentence: str, words) -> float:
    stems = [stem for stem, _ in content(sentence)]
    return sum(stem in words.stems for stem in stems) / len(stems) if stems else 1.0


def _negates_what_it_restates(sentence: str, words) -> bool:
    """The sentence restates one passage sentence (RESTATES of its words) but not its negation or
    opposite ("refundable" against "not refundable"): every word is there, so the model keeps it."""
    text, share = restated(sentence, words)
    if share < RESTATES:
        return False
    found = claims.disagreement(sentence, text)
    return found is not None and found.reason in ("negation", "antonym")


def _non_claim(sentence: str, kind: str) -> Verdict:
    return Verdict(sentence, kind, reason="fragment" if kind == "fragment" else None)


def _configured_min_score(model: SupportModel | ReadingModel) -> float:
    from core.settings import get_settings

    configured = get_settings().support_min_score
    return 1 - model.threshold if configured is None else configured
