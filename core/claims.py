"""What a sentence asserts that closeness in meaning misses: its numbers and their units, its
negations, its hedges and the names it uses. Pure code (no model), shared by the citation check
(tasks/ask/grounded_answer.py) and the evidence check (tasks/profile_ingest/evidence.py).

`disagreement(claim, source)` compares a claim with the text offered as its support, clause by
clause: each clause of the claim is aligned with the source clause that shares most of its content
words, and the two must agree on

- `number` / `unit`: every amount the claim states ("3 weeks", "three weeks", "21 days", "50%",
  "twice") is in the source; a different amount of the same kind in the aligned sentence, or an
  amount the source never states, is a disagreement ("3 weeks" against "3 days" is `unit`);
- `negation`: the clauses' negation cues (not, never, n't, without, "non-refundable" against
  "refundable", ...) have the same parity, so "not easy" agrees with "hard" but not with "easy";
- `antonym`: a word the source says the opposite of ("more" against "less") flips the clause too;
- `hedge`: a clause whose source says "may", "often", "probably" (or, for a profile, "want to",
  "a bit") does not drop it;
- `entity`: every name the claim uses (capitalised words, acronyms, code identifiers) is in the
  source, an alias counting ("ML" for "machine learning"); a sentence that opens with a name the
  source lacks while the aligned clause names someone else is a swapped name.

A negation in another clause of a long source sentence ("downloads are not refundable, and refunds
are paid within 3 weeks") does not flip a claim about the other clause. Reading the text (tokens,
sentences, clauses, cues) is core/claim_text.py; amounts are core/amounts.py.

What this does not see (benchmarks/data/citation_claims.json marks each as a known miss): roles
swapped between two things the source names ("active recall decides when" for "spaced repetition
decides when"), a lowercase term swapped for another ("the spacing effect" for "the testing
effect"), an opposite with no cue word or table entry ("keep" for "lose", "effortless" for "takes
some effort"), and a claim clause that joins two facts, only the closer of which is compared.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

from core import claim_words as words
from core.amounts import Quantity, quantities, same_amount, same_kind
from core.claim_text import (
    Token,
    alias_forms,
    clause_ranges,
    content_stems,
    entities,
    fold,
    hedge_spans,
    names,
    negation_indices,
    sentences,
    stem,
    tokenize,
)

CITATION_HEDGES = ("uncertain", "frequency")
PROFILE_HEDGES = ("uncertain", "frequency", "partial", "aspiration")
MIN_SHARED_WORDS = 2  # content words a claim clause must share with a source clause to be compared


@dataclass(frozen=True)
class Disagreement:
    """Why a claim does not say what its source says: a stable `reason` and the words at fault."""

    reason: str  # number | unit | negation | antonym | hedge | entity
    claim: str
    source: str = ""


# --- comparing a claim with its source --------------------------------------------------------


@dataclass
class _Clause:
    sentence: int  # index of its sentence
    tokens: list[Token]
    content: set[str]
    stems: set[str]  # of every word, function words too ("more", "before" carry antonyms)
    negations: int
    hedges: list[int]  # where each hedge starts (token positions in the clause)


@dataclass
class _Reading:
    """A text read once: its sentences' tokens, quantities and clauses."""

    text: str
    sentence_texts: list[str]
    sentence_tokens: list[list[Token]]
    sentence_quantities: list[list[Quantity]]
    clauses: list[_Clause]
    # Capitalised words that are names for sure: written capitalised somewhere a sentence does not start.
    proper: set[str]
    opening: dict[int, bool]  # id(token) -> at a sentence's start, for each candidate name
    tokens: list[Token]  # all of them
    folded: set[str]  # every word casefolded, accents removed
    stems: set[str]  # every word's stem


_ANSWER_PARTICLE = re.compile(r"^\s*(?:no|yes|yeah|nope|indeed)\s*[,.!:;]", re.IGNORECASE)


@functools.lru_cache(maxsize=256)
def _read(text: str, hedges: tuple[str, ...]) -> _Reading:
    """A text read once (cached: a passage is compared with every sentence of an answer)."""
    texts = sentences(text)
    # "No, you do not need software": the answer's "No" is not a second negation of the clause.
    all_tokens = [tokenize(sentence)[1 if _ANSWER_PARTICLE.match(sentence) else 0 :] for sentence in texts]
    clauses: list[_Clause] = []
    for number, (sentence, tokens) in enumerate(zip(texts, all_tokens)):
        for span in clause_ranges(sentence, tokens):
            part = tokens[span.start : span.stop]
            clauses.append(
                _Clause(
                    number,
                    part,
                    content_stems(part),
                    {stem(token.lower) for token in part if token.number is None},
                    len(negation_indices(part)),
                    [span.start for _, span in hedge_spans(part, hedges)],
                )
            )
    opening: dict[int, bool] = {}
    for sentence, tokens in zip(texts, all_tokens):
        for index, at_start in entities(sentence, tokens):
            opening[id(tokens[index])] = at_start
    proper = {fold(t.lower) for tokens in all_tokens for t in tokens if opening.get(id(t)) is False}
    flat = [token for tokens in all_tokens for token in tokens]
    return _Reading(
        text,
        texts,
        all_tokens,
        [quantities(sentence, tokens) for sentence, tokens in zip(texts, all_tokens)],
        clauses,
        proper,
        opening,
        flat,
        {fold(token.lower) for token in flat},
        {stem(token.lower) for token in flat},
    )


def disagreement(
    claim: str, source: str, *, hedges: tuple[str, ...] = CITATION_HEDGES
) -> Disagreement | None:
    """Why `claim` does not say what `source` says, or None when nothing in it disagrees (see the
    module's docstring). Closeness in meaning is not judged here: pair this with a similarity."""
    said = _read(claim, hedges)
    known = _read(source, hedges)
    known_quantities = [q for found in known.sentence_quantities for q in found]
    for number, tokens in enumerate(said.sentence_tokens):
        clauses = [clause for clause in said.clauses if clause.sentence == number]
        amounts = {
            id(clause): [
                q
                for q in said.sentence_quantities[number]
                if any(t is tokens[q.index] for t in clause.tokens)
            ]
            for clause in clauses
        }
        aligned = {id(clause): _align(clause, amounts[id(clause)], known) for clause in clauses}
        for clause in clauses:
            match = aligned[id(clause)]
            nearby = known.sentence_quantities[match.sentence] if match else []
            related = _related_quantities(clause, amounts[id(clause)], known)
            for quantity in amounts[id(clause)]:
                if any(same_amount(quantity, stated) for stated in related):
                    continue  # one claim sentence may join two of the source's ("one day later, then a week")
                found = _number_disagreement(quantity, nearby, known_quantities)
                if found:
                    return found
        found = _missing_name(said, number, known, clauses, aligned)
        if found:
            return found
        for clause in clauses:
            match = aligned[id(clause)]
            if match is None:
                continue
            found = _polarity(clause, match) or _dropped_hedge(clause, match, hedges)
            if found:
                return found
    return None


def _related_quantities(clause: _Clause, amounts: list[Quantity], known: _Reading) -> list[Quantity]:
    """The amounts of every source sentence about the same thing as this clause (as `_align` scores
    it: shared content words plus the clause's amounts it states): an amount stated there is
    stated, even if the aligned sentence has another of the same kind."""
    related = []
    for number, stated in enumerate(known.sentence_quantities):
        shared = max(
            (
                len(clause.content & _with_bare(candidate.content, clause.content))
                for candidate in known.clauses
                if candidate.sentence == number
            ),
            default=0,
        )
        matched = sum(1 for q in amounts if any(same_amount(q, k) for k in stated))
        if shared + matched >= MIN_SHARED_WORDS:
            related += stated
    return related


def _align(clause: _Clause, amounts: list[Quantity], known: _Reading) -> _Clause | None:
    """The source clause that shares most content words with this one (an amount the sentence
    states counting as one; the tighter clause on a tie), if it shares enough to be about the same
    thing."""
    best, best_key = None, (0, 0, 0.0)
    for candidate in known.clauses:
        shared = len(clause.content & _with_bare(candidate.content, clause.content))
        stated = known.sentence_quantities[candidate.sentence]
        matched = sum(1 for q in amounts if any(same_amount(q, k) for k in stated))
        if shared + matched == 0:
            continue
        key = (shared + matched, matched, shared / max(len(candidate.content), 1))
        if key > best_key:
            best, best_key = candidate, key
    needed = min(MIN_SHARED_WORDS, len(clause.content)) or min(1, len(amounts))
    return best if best is not None and needed and best_key[0] >= needed else None


def _with_bare(content: set[str], other: set[str]) -> set[str]:
    """Content stems plus the bare stem of each negated form whose bare form the other side has."""
    return content | {bare for word in content if (bare := _bare(word, other))}


def _bare(word: str, other: set[str]) -> str | None:
    for prefix in words.NEGATING_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 4:
            bare = stem(word[len(prefix) :].lstrip("-"))
            if bare in other and word not in other:
                return bare
    return None


def _prefix_negations(tokens: list[Token], other: set[str]) -> int:
    return sum(1 for token in tokens if token.number is None and _bare(token.lower, other))


def _number_disagreement(
    quantity: Quantity, nearby: list[Quantity], anywhere: list[Quantity]
) -> Disagreement | None:
    if any(same_amount(quantity, known) for known in nearby):
        return None
    rivals = [known for known in nearby if same_kind(quantity, known)]
    if rivals:
        same_value = [
            known
            for known in rivals
            if math.isclose(known.value, quantity.value)
            or math.isnan(known.value)
            or math.isnan(quantity.value)
        ]
        return Disagreement("unit" if same_value else "number", quantity.text, (same_value or rivals)[0].text)
    if any(same_amount(quantity, known) for known in anywhere):
        return None
    if quantity.weak:
        return None  # "the first step", "one problem" where the source counts none: nothing to compare
    other_unit = [k for k in nearby + anywhere if not k.ordinal and math.isclose(k.value, quantity.value)]
    if other_unit:
        return Disagreement("unit", quantity.text, other_unit[0].text)
    return Disagreement("number", quantity.text)


def _missing_name(
    said: _Reading, number: int, known: _Reading, clauses: list[_Clause], aligned: dict[int, _Clause | None]
) -> Disagreement | None:
    """A name the claim uses that the source lacks. A capitalised first word counts only when the
    source lacks it and the aligned source clause names someone the claim does not ("Einstein was
    known for..." against "...Richard Feynman, who was known for...")."""
    tokens = said.sentence_tokens[number]
    claim_words = {fold(token.lower) for token in tokens}
    for token in tokens:
        at_start = said.opening.get(id(token))
        if at_start is None or _known_name(token, known):
            continue
        if not at_start:
            return Disagreement("entity", token.text)
        clause = next(c for c in clauses if any(t is token for t in c.tokens))
        match = aligned[id(clause)]
        others = [
            t.text
            for t in (match.tokens if match else [])
            if id(t) in known.opening and fold(t.lower) in known.proper and fold(t.lower) not in claim_words
        ]
        if others:
            return Disagreement("entity", token.text, others[0])
    return None


def _known_name(token: Token, known: _Reading) -> bool:
    if stem(token.lower) in known.stems or fold(token.lower) in known.folded:
        return True
    return any(names(known.tokens, form) for form in alias_forms(token.lower)[1:])


def _polarity(clause: _Clause, match: _Clause) -> Disagreement | None:
    """Negations (prefixed forms included) and antonyms must flip both clauses an even number of
    times between them: "not easy" agrees with "hard", "easy" does not."""
    negations = clause.negations + _prefix_negations(clause.tokens, match.content)
    source_negations = match.negations + _prefix_negations(match.tokens, clause.content)
    flips = _antonym_flips(clause.stems, match.stems)
    if (negations + source_negations + len(flips)) % 2 == 0:
        return None
    claim_text = " ".join(t.text for t in clause.tokens)
    source_text = " ".join(t.text for t in match.tokens)
    if (negations - source_negations) % 2:
        return Disagreement("negation", claim_text, source_text)
    mine, theirs = flips[0]
    return Disagreement(
        "antonym",
        next(t.text for t in clause.tokens if stem(t.lower) == mine),
        next(t.text for t in match.tokens if stem(t.lower) == theirs),
    )


_ANTONYMS = [(stem(a), stem(b)) for a, b in words.ANTONYMS]


def _antonym_flips(claim: set[str], source: set[str]) -> list[tuple[str, str]]:
    flips: list[tuple[str, str]] = []
    for a, b in _ANTONYMS:
        for mine, theirs in ((a, b), (b, a)):
            if mine in claim and theirs in source and mine not in source and theirs not in claim:
                flips.append((mine, theirs))
    return flips


def _dropped_hedge(clause: _Clause, match: _Clause, hedges: tuple[str, ...]) -> Disagreement | None:
    """A hedge of the source's that bears on the shared words (it comes before the last of them:
    "students often remember less", not "I play the cello and want to learn theory") and that the
    claim does not hedge in any way."""
    if clause.hedges or not match.hedges:
        return None
    shared = clause.content & match.content
    last = max((i for i, t in enumerate(match.tokens) if stem(t.lower) in shared), default=-1)
    if min(match.hedges) >= last:
        return None
    cue = next(span for _, span in hedge_spans(match.tokens, hedges) if span.start == min(match.hedges))
    return Disagreement(
        "hedge", " ".join(match.tokens[i].text for i in cue), " ".join(t.text for t in match.tokens)
    )
