"""What a sentence asserts that closeness in meaning misses: its numbers and their units, its
negations, its hedges and the names it uses. Pure code (no model), shared by the citation check
(tasks/ask/grounded_answer.py) and the evidence check (tasks/profile_ingest/evidence.py).

`disagreement(claim, source, context=...)` compares a claim with the text offered as its support,
clause by clause: each clause of the claim is aligned with the source clauses that share most of
its content words (an opposite pair, "keep" and "lose", counting as shared), and must agree with
at least one of the closest on

- `number` / `unit`: every amount the claim states ("3 weeks", "three weeks", "21 days", "50%",
  "twice", "April 9th", "18 October", "2018–19", "2003.06.11") is in the source or its context; a
  different amount of the same kind in the aligned sentence, or an amount stated nowhere, is a
  disagreement ("3 weeks" against "3 days" is `unit`; "66 playwrights" against "sixty-six writers"
  is the same count of people; "10 kg" is "22 lb", and a conversion the claim adds in brackets,
  "10 kg (23 lb)", is stated when either is; a year is no rival of a small bare number);
- `number` also when one side counts without a number and the other says otherwise ("many threads
  at the same time" against "only one thread at a time");
- `negation`: the clauses' negation cues (not, never, n't, without, "non-refundable" against
  "refundable", "effortless" against "takes effort", ...) have the same parity, so "not easy"
  agrees with "hard" but not with "easy";
- `antonym`: a word the source says the opposite of ("more" against "less") flips the clause too;
- `hedge`: a clause whose source says "may", "often", "probably" (or, for a profile, "want to",
  "a bit") does not drop it;
- `entity`: every name the claim uses (capitalised words, acronyms, code identifiers) is in the
  source or its context, an alias, a dotless or dehyphenated spelling ("U.S"/"US"), a longer or
  shorter form ("Libyan"/"Libya") or an acronym ("CDC" for "Centers for Disease Control", "UK" for
  "United Kingdom", or one the claim spells out itself) counting, and a first name or qualifier
  before a name the source states may be left out ("Richard Amardi" as "Amardi"); a capitalised
  first word written in lower case elsewhere ("However") or a participle used as a preposition
  ("According to") is no name; a sentence that opens with a name the source lacks while the
  aligned clause names someone else is a swapped name; so is a word in the same slot as another
  word of the source ("the spacing effect" for "the testing effect"), and a definition whose
  category the source never names ("is a refund policy").

The `context` (a document's opening, the other passages shown) states names and amounts but is
never aligned with a clause. `unsupported_words` is the check for a claim read against several
passages together: at least two thirds of its content words must be the sources'.

What this still does not see (benchmarks/data/citation_claims.json marks each as a known miss):
roles swapped between two things the source names ("active recall decides when" for "spaced
repetition decides when", "putting in rather than pulling out" for the reverse), and a passage on
another subject that happens to say the same words. Measured on the team's labelled set and on
WiCE (benchmarks/data/wice): `python -m benchmarks.citations --wice`.
"""

from __future__ import annotations

import collections
import functools
import math
import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from core import claim_words as words
from core.amounts import Quantity, conversions, is_measure, quantities, same_amount, same_kind
from core.claim_text import (
    Token,
    alias_forms,
    clause_ranges,
    content_stems,
    entities,
    fold,
    hedge_spans,
    is_negation,
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
    bare: set[str]  # every word folded, without its dots and hyphens ("U.S." -> "us")
    lowercase: set[str]  # words written in lower case somewhere: common words, not names
    upper: set[str]  # words written in capitals, dots left out ("UK", "U.S." -> "US")
    acronyms: set[str]  # the initials of every run of capitalised words ("Centers for Disease Control": CDC)
    initials: dict[int, set[str]]  # id(token) -> the initials of the runs it is part of


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
    initials: dict[int, set[str]] = {}
    for sentence, tokens in zip(texts, all_tokens):
        for run in _capitalised_runs(sentence, tokens):
            for start in range(len(run)):
                for end in range(start + 2, min(len(run), start + _LONGEST_ACRONYM) + 1):
                    letters = "".join(token.text[0] for token in run[start:end]).upper()
                    for token in run[start:end]:
                        initials.setdefault(id(token), set()).add(letters)
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
        {_bare_word(token.lower) for token in flat},
        {fold(token.lower) for token in flat if token.text[:1].islower()},
        {token.text.replace(".", "") for token in flat if token.text.isupper() and len(token.text) > 1},
        {letters for found in initials.values() for letters in found},
        initials,
    )


_LONGEST_ACRONYM = 7
_RUN_JOINERS = frozenset({"of", "for", "and", "the", "on", "in", "de", "du", "des", "&"})


def _capitalised_runs(text: str, tokens: list[Token]) -> list[list[Token]]:
    """Runs of capitalised words that may stand for an acronym, the small words between them left
    out: "National Air and Space Museum" -> National, Air, Space, Museum. A run ends at punctuation."""
    runs: list[list[Token]] = []
    current: list[Token] = []
    previous: Token | None = None
    for token in tokens:
        joined = previous is not None and text[previous.end : token.start].strip() == ""
        if token.text[:1].isupper() and token.text[:1].isalpha() and not token.text.isupper():
            if not joined or not current:
                current = []
                runs.append(current)
            current.append(token)
        elif not (joined and token.lower in _RUN_JOINERS and current):
            current = []
        previous = token
    return [run for run in runs if len(run) >= 2]


def _bare_word(lower: str) -> str:
    return fold(lower).replace(".", "").replace("-", "")


def disagreement(
    claim: str, source: str, *, hedges: tuple[str, ...] = CITATION_HEDGES, context: str = ""
) -> Disagreement | None:
    """Why `claim` does not say what `source` says, or None when nothing in it disagrees (see the
    module's docstring). Closeness in meaning is not judged here: pair this with a similarity.

    `context` is text around the source that states facts without being compared clause by clause
    (a document's title and opening lines, the other passages shown): an amount or a name stated
    there is stated, but no claim clause is aligned with it, so a heading that shares two words
    with a clause never decides its polarity."""
    said = _read(claim, hedges)
    known = _read(source, hedges)
    around = _read(context, hedges) if context else None
    known_quantities = [q for found in known.sentence_quantities for q in found]
    if around is not None:
        known_quantities += [q for found in around.sentence_quantities for q in found]
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
        candidates = {id(clause): _aligned(clause, amounts[id(clause)], known) for clause in clauses}
        converted_to = conversions(said.sentence_texts[number], tokens, said.sentence_quantities[number])
        aligned = {key: found[0] if found else None for key, found in candidates.items()}
        for clause in clauses:
            match = aligned[id(clause)]
            nearby = known.sentence_quantities[match.sentence] if match else []
            related = _related_quantities(clause, amounts[id(clause)], known)
            for quantity in amounts[id(clause)]:
                if any(same_amount(quantity, stated) for stated in related):
                    continue  # one claim sentence may join two of the source's ("one day later, then a week")
                converted = converted_to.get(id(quantity))
                if converted is not None and any(same_amount(converted, k) for k in known_quantities):
                    continue  # "10 kg (23 lb)": the source states one of the two
                found = _number_disagreement(quantity, nearby, known_quantities)
                if found:
                    return found
        found = _missing_name(said, number, known, clauses, aligned, around) or _unknown_category(
            tokens, known, around
        )
        if found:
            return found
        for clause in clauses:
            # Disagreeing with the closest source clause counts only when no other clause as close
            # says the same thing: "Alcohol and tobacco" (a heading) is as close as "alcohol and
            # tobacco are forbidden" to "tobacco and alcohol are not allowed".
            verdicts = [
                _clause_disagreement(clause, match, hedges, known) for match in candidates[id(clause)]
            ]
            if verdicts and all(verdicts):
                return verdicts[0]
    return None


def _clause_disagreement(
    clause: _Clause, match: _Clause, hedges: tuple[str, ...], known: _Reading
) -> Disagreement | None:
    return (
        _polarity(clause, match)
        or _count_flip(clause, match)
        or _dropped_hedge(clause, match, hedges)
        or _swapped_term(clause, match, known)
    )


def _swapped_term(clause: _Clause, match: _Clause, known: _Reading) -> Disagreement | None:
    """One word swapped for another in the same slot: the same word before it and the same content
    word after it, "the spacing effect" for "the testing effect", "the chemist Richard Feynman" for
    "the physicist Richard Feynman", "the heart replays" for "the brain replays", where the claim's
    word is nowhere in the source and the source's nowhere in the claim."""
    slots: dict[tuple[str, str], Token] = {}
    for before, word, after in zip(match.tokens, match.tokens[1:], match.tokens[2:]):
        # After a determiner, the word is a noun or its modifier: a verb swapped for a synonym
        # ("runs" for "executes") is a paraphrase, not a swap.
        if before.lower in _DETERMINERS and _content_word(word) and _content_word(after):
            slots.setdefault((before.lower, stem(after.lower)), word)
    for before, word, after in zip(clause.tokens, clause.tokens[1:], clause.tokens[2:]):
        other = slots.get((before.lower, stem(after.lower)))
        if other is None or not _content_word(word) or _spelled_alike(word.lower, other.lower):
            continue
        if stem(word.lower) in known.stems or _known_name(word, known) or stem(other.lower) in clause.stems:
            continue
        return Disagreement(
            "entity", f"{before.text} {word.text} {after.text}", f"{before.text} {other.text} {after.text}"
        )
    return None


_DETERMINERS = frozenset("the a an this that these those his her its their our my your".split())


def _spelled_alike(a: str, b: str) -> bool:
    """The same word inflected or spelled otherwise ("slept" and "sleep", "colour" and "color")."""
    return stem(a) == stem(b) or SequenceMatcher(None, a, b).ratio() >= 0.75


def _content_word(token: Token) -> bool:
    return (
        token.number is None
        and token.lower not in words.STOPWORDS
        and not is_negation(token.lower)
        and len(token.lower) > 2
    )


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


def _aligned(clause: _Clause, amounts: list[Quantity], known: _Reading) -> list[_Clause]:
    """The source clauses about the same thing as this one, closest first: those that share the
    most content words with it (an amount the sentence states counting as one; the tighter clause
    first on a tie), if they share enough."""
    scored = []
    for candidate in known.clauses:
        shared = len(clause.content & _with_bare(candidate.content, clause.content))
        # Opposites are about the same thing: "keep most of it" is aligned with "lose most of it".
        shared += len(_antonym_flips(clause, candidate))
        stated = known.sentence_quantities[candidate.sentence]
        matched = sum(1 for q in amounts if any(same_amount(q, k) for k in stated))
        if shared + matched == 0:
            continue
        scored.append(((shared + matched, matched, shared / max(len(candidate.content), 1)), candidate))
    needed = min(MIN_SHARED_WORDS, len(clause.content)) or min(1, len(amounts))
    if not scored or not needed:
        return []
    scored.sort(key=lambda pair: pair[0], reverse=True)
    top = scored[0][0][0]
    return [candidate for key, candidate in scored if key[0] == top and top >= needed]


def _with_bare(content: set[str], other: set[str]) -> set[str]:
    """Content stems plus the bare stem of each negated form whose bare form the other side has."""
    return content | {bare for word in content if (bare := _bare(word, other))}


def _bare(word: str, other: set[str]) -> str | None:
    """The positive form of a negated word ("non-refundable", "unable", "effortless") when the other
    side uses that form and not this one."""
    forms = [word[len(prefix) :].lstrip("-") for prefix in words.NEGATING_PREFIXES if word.startswith(prefix)]
    if word.endswith("less"):
        forms.append(word[: -len("less")])
    for form in forms:
        if len(form) >= 4:
            bare = stem(form)
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
    measured = [k for k in other_unit if is_measure(k.unit) and is_measure(quantity.unit)]
    if measured:
        return Disagreement("unit", quantity.text, measured[0].text)
    if other_unit:
        return None  # the same number counting a noun said otherwise ("66 playwrights", "sixty-six writers")
    return Disagreement("number", quantity.text)


def _missing_name(
    said: _Reading,
    number: int,
    known: _Reading,
    clauses: list[_Clause],
    aligned: dict[int, _Clause | None],
    around: _Reading | None = None,
) -> Disagreement | None:
    """A name the claim uses that the source lacks. A capitalised first word counts only when the
    source lacks it and the aligned source clause names someone the claim does not ("Einstein was
    known for..." against "...Richard Feynman, who was known for...")."""
    tokens = said.sentence_tokens[number]
    claim_words = {fold(token.lower) for token in tokens}

    def stated(token: Token) -> bool:
        return any(
            _known_name(token, reading) or _known_acronym(token, said, reading)
            for reading in (known, around)
            if reading is not None
        )

    def common_word(token: Token) -> bool:
        # "However", "Several", "Following" open a sentence: written in lower case elsewhere, a
        # capitalised first word is a common word, not a name; so is a participle used as a
        # preposition ("According to").
        if any(fold(token.lower) in reading.lowercase for reading in (said, known, around) if reading):
            return True
        return token.lower in words.PARTICIPLE_PREPOSITIONS

    for index, token in enumerate(tokens):
        at_start = said.opening.get(id(token))
        if at_start is None or stated(token) or (at_start and common_word(token)):
            continue
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if (
            following is not None
            and id(following) in said.opening
            and following.start - token.end == 1
            and stated(following)
        ):
            continue  # a first name or qualifier before a name stated: "Richard Amardi" as "Amardi"
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


_COPULAS = frozenset({"is", "are", "was", "were"})
_ARTICLES = frozenset({"a", "an", "the"})


def _unknown_category(tokens: list[Token], known: _Reading, around: _Reading | None) -> Disagreement | None:
    """A definition ("X is a Y ...") whose category the source never names: "spaced repetition is a
    refund policy for failed recalls" against a passage that never speaks of a policy. The category
    is the last word of the noun phrase after "is a", before a preposition or the clause's end."""
    for index, token in enumerate(tokens[:-2]):
        if token.lower not in _COPULAS or tokens[index + 1].lower not in _ARTICLES:
            continue
        phrase = []
        for word in tokens[index + 2 :]:
            if word.lower in words.STOPWORDS or word.number is not None:
                break
            phrase.append(word)
        if not phrase:
            continue
        head = phrase[-1]
        if stem(head.lower) in known.stems or _known_name(head, known):
            continue
        if around is not None and (stem(head.lower) in around.stems or _known_name(head, around)):
            continue
        return Disagreement("entity", " ".join(t.text for t in phrase))
    return None


def _known_acronym(token: Token, said: _Reading, known: _Reading) -> bool:
    """A name stated by its acronym or by what its acronym stands for: "CDC" where the source
    says "Centers for Disease Control", "United Kingdom" where it says "UK", "NASM" where the
    claim itself spells out "National Air and Space Museum (NASM)"."""
    written = token.text.replace(".", "")
    if written.isalpha() and written.isupper() and 2 <= len(written) <= _LONGEST_ACRONYM:
        return written in known.acronyms or written in said.acronyms
    spelled = said.initials.get(id(token), set())
    return any(letters in known.upper for letters in spelled)


def _known_name(token: Token, known: _Reading) -> bool:
    """Whether the source names what this capitalised word names: the word itself or its stem, an
    alias, the same letters without dots or hyphens ("U.S" for "US", "African-Americans" for
    "African Americans"), or a longer or shorter form of at least five letters ("Libyan" for
    "Libya"). A month or a weekday is a date's, not a name: dates are compared as amounts."""
    lower = token.lower
    if lower in words.NOT_NAMES or stem(lower) in known.stems or fold(lower) in known.folded:
        return True
    if any(names(known.tokens, form) for form in alias_forms(lower)[1:]):
        return True
    bare = _bare_word(lower)
    if bare in known.bare or (
        "-" in lower and all(_bare_word(part) in known.bare for part in lower.split("-") if part)
    ):
        return True
    return len(bare) >= 5 and any(
        len(other) >= 5 and (bare.startswith(other) or other.startswith(bare)) for other in known.bare
    )


def _polarity(clause: _Clause, match: _Clause) -> Disagreement | None:
    """Negations (prefixed forms included) and antonyms must flip both clauses an even number of
    times between them: "not easy" agrees with "hard", "easy" does not."""
    negations = clause.negations + _prefix_negations(clause.tokens, match.content)
    source_negations = match.negations + _prefix_negations(match.tokens, clause.content)
    flips = _antonym_flips(clause, match)
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


def _antonym_flips(claim: _Clause, source: _Clause) -> list[tuple[str, str]]:
    """The antonym pairs where the claim says one word more often than the source and the source
    says its opposite more often than the claim: counted, not only present, so "Increasing the
    temperature decreases the rate" flips "Increasing the temperature increases the rate" though
    both clauses hold "increasing"."""
    said, stated = _stem_counts(claim), _stem_counts(source)
    flips: list[tuple[str, str]] = []
    for a, b in _ANTONYMS:
        for mine, theirs in ((a, b), (b, a)):
            if said[mine] > stated[mine] and stated[theirs] > said[theirs]:
                flips.append((mine, theirs))
    return flips


def _stem_counts(clause: _Clause) -> collections.Counter[str]:
    return collections.Counter(stem(token.lower) for token in clause.tokens if token.number is None)


def _count_flip(clause: _Clause, match: _Clause) -> Disagreement | None:
    """One side says many ("many threads", "at the same time") where the other says one ("only one
    thread", "at a time"): a count without a number, as much a disagreement as 2 against 3."""
    mine, theirs = _counts(clause.tokens), _counts(match.tokens)
    if len(mine) != 1 or len(theirs) != 1 or mine == theirs:
        return None
    return Disagreement(
        "number", " ".join(t.text for t in clause.tokens), " ".join(t.text for t in match.tokens)
    )


def _counts(tokens: list[Token]) -> set[str]:
    """Which counts a clause says without a number: {"many"}, {"one"}, both or neither."""
    lowers = [token.lower for token in tokens]
    found = set()
    for kind, phrases in (("many", words.MANY), ("one", words.JUST_ONE)):
        if any(_phrase_in(lowers, phrase) for phrase in phrases):
            found.add(kind)
    return found


def _phrase_in(lowers: list[str], phrase: tuple[str, ...]) -> bool:
    size = len(phrase)
    return any(tuple(lowers[i : i + size]) == phrase for i in range(len(lowers) - size + 1))


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


# --- a claim read against several passages together ------------------------------------------------

# The share of a claim's content words a source must use when the claim is checked against several
# passages at once (tasks/ask/grounded_answer.py's joint reading): joined text says more than any
# one passage, so a claim may add little of its own. Chosen on WiCE's dev claims (a quarter flagged
# 24 of 115 supported claims, a third 21, unsupported claims flagged 37 of 43 with either); the
# names, amounts and negations are checked apart, whatever the share.
MAX_UNSUPPORTED_SHARE = 1 / 3


def unsupported_words(claim: str, source: str, *, max_share: float = MAX_UNSUPPORTED_SHARE) -> list[str]:
    """The claim's content words the source never uses (as a word, a stem or an alias), when they are
    more than `max_share` of them; else nothing. "Spaced repetition is a refund policy for failed
    recalls" against a passage on spaced repetition: "refund" and "policy" are the claim's own."""
    said = _read(claim, CITATION_HEDGES)
    known = _read(source, CITATION_HEDGES)
    # A month or a weekday is a date's, compared as an amount ("Nov. 10" states "November 10").
    content = {word for clause in said.clauses for word in clause.content} - _DATE_STEMS
    missing = sorted(word for word in content if not _word_known(word, known))
    return missing if content and len(missing) / len(content) > max_share else []


_DATE_STEMS = frozenset(stem(word) for word in words.NOT_NAMES)


def words_disagreement(claim: str, source: str) -> Disagreement | None:
    """`unsupported_words` as a Disagreement (reason `unsupported_words`), or None."""
    missing = unsupported_words(claim, source)
    return Disagreement("unsupported_words", " ".join(missing)) if missing else None


def _word_known(word: str, known: _Reading) -> bool:
    return word in known.stems or any(names(known.tokens, form) for form in alias_forms(word)[1:])


def shares_content(claim: str, source: str) -> bool:
    """Whether the source states something of the claim: content words or an amount in common."""
    said = _read(claim, CITATION_HEDGES)
    known = _read(source, CITATION_HEDGES)
    content = {word for clause in said.clauses for word in clause.content}
    amounts = [q for found in said.sentence_quantities for q in found]
    stated = [q for found in known.sentence_quantities for q in found]
    shared = sum(1 for word in content if word in known.stems)
    return shared >= MIN_SHARED_WORDS or any(same_amount(q, k) for q in amounts for k in stated)
