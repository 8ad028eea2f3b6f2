"""Reading English text for core/claims.py and the evidence check: tokens with their offsets,
sentences, clauses, crude stems, negation and hedge cues, and names (whole words, aliases)."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from core import claim_words as words


@dataclass(frozen=True)
class Token:
    text: str  # as written
    lower: str  # casefolded, accents kept, a possessive 's removed
    start: int
    end: int
    number: float | None = None  # a written number's value ("10,000" -> 10000.0)
    percent: bool = False
    ordinal: bool = False  # "3rd"


_TYPOGRAPHIC = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "\u00a0": " "})
_TOKEN = re.compile(
    r"(?P<ord>\d+(?:st|nd|rd|th))\b"
    r"|(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?P<pct>\s?%)?"
    r"|(?P<word>[^\W_](?:\w|'(?=[^\W\d_])|[-.](?=[^\W_]))*[+#]*(?:\(\))?)"
)
_ABBREVIATIONS = frozenset("e.g i.e etc vs dr mr mrs ms st prof approx fig cf no".split())
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)]|#{1,6})\s+")
_CLAUSE_BREAK = re.compile(
    r"\s*;\s*|:\s+|\s+-{1,2}\s+"
    r"|,?\s+(?=(?:but|whereas|although|though|except|unless|because)\b)"
    r"|,\s+(?=(?:and|or|so|yet|while|even|not|i|we|you|he|she|they|my|our)\b)"
    r"|\s+(?=and\s+(?:i|we|you|he|she|they|it|my|our|this|that|there|not|never|no)\b)"
    r"|\s+(?=and\s+(?:don't|doesn't|didn't|can't|cannot|won't|haven't|hasn't|isn't|aren't)(?!\w))",
    re.IGNORECASE,
)


def plain(text: str) -> str:
    """NFKC, typographic quotes and dashes made plain (so "don’t" reads as "don't")."""
    return unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHIC)


def fold(word: str) -> str:
    """A word casefolded with its accents removed ("José" -> "jose"), for matching names."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokenize(text: str) -> list[Token]:
    """Words and numbers with their offsets; punctuation is not a token. Typographic apostrophes
    read as plain ones (one character for one, so the offsets hold)."""
    found: list[Token] = []
    for match in _TOKEN.finditer(text.translate(_TYPOGRAPHIC)):
        if match.group("ord"):
            digits = re.match(r"\d+", match.group("ord"))
            assert digits is not None
            found.append(
                Token(
                    match.group(), match.group().lower(), *match.span(), float(digits.group()), ordinal=True
                )
            )
        elif match.group("num"):
            value = float(match.group("num").replace(",", ""))
            found.append(
                Token(match.group(), match.group("num"), *match.span(), value, bool(match.group("pct")))
            )
        else:
            lower = match.group().casefold()
            lower = lower[:-2] if lower.endswith("'s") and len(lower) > 2 else lower
            found.append(Token(match.group(), lower, *match.span()))
    return found


def sentences(text: str) -> list[str]:
    """The text's sentences. A line break ends a sentence only after a heading, a list item or a
    full stop, so a transcript's cue lines or a wrapped paragraph stay whole."""
    blocks: list[str] = []
    for line in plain(text).splitlines():
        stripped = line.strip()
        if not stripped:
            blocks.append("")
            continue
        listed = _LIST_ITEM.match(line) is not None
        if blocks and blocks[-1] and not listed and not _ends_block(blocks[-1]):
            blocks[-1] = f"{blocks[-1]} {stripped}"
        else:
            blocks.append(_LIST_ITEM.sub("", line).strip() if listed else stripped)
    found: list[str] = []
    for block in filter(None, blocks):
        start = 0
        for match in _SENTENCE_END.finditer(block):
            before = block[start : match.start()].rstrip("\"')]").rstrip(".!?").split()
            last = before[-1].lower().rstrip(".") if before else ""
            initial = len(last) == 1 and last.isalpha() and (len(before) == 1 or before[-2][:1].isupper())
            if last in _ABBREVIATIONS or initial:
                continue  # "e.g. Python", "John F. Kennedy" (but "I have never used R. I ...")
            found.append(block[start : match.start()].strip())
            start = match.end()
        found.append(block[start:].strip())
    return [sentence for sentence in found if sentence]


def _ends_block(line: str) -> bool:
    return line.rstrip().endswith((".", "!", "?", ":")) or line.lstrip().startswith("#")


def clause_ranges(text: str, tokens: list[Token]) -> list[range]:
    """The sentence's clauses as ranges of token indices: split at ; and : , at a spaced dash,
    before but / although / because / unless ..., and before ", and", ", I ...", "and I ...",
    "and don't ..." (a new subject, or a new negated predicate)."""
    cuts = [match.end() for match in _CLAUSE_BREAK.finditer(text) if match.end() > 0]
    ranges: list[range] = []
    first = 0
    for cut in [*cuts, math.inf]:
        last = first
        while last < len(tokens) and tokens[last].start < cut:
            last += 1
        if last > first:
            ranges.append(range(first, last))
        first = last
    return ranges or [range(0, len(tokens))]


# --- what a clause says besides its words ----------------------------------------------------


def stem(word: str) -> str:
    """A crude English stem, enough for overlap: "reviewing", "reviewed", "reviews" -> "review"."""
    w = word.casefold().strip("'")
    if not w.isalpha() or len(w) <= 3:
        return w
    if w.endswith(("ies", "ied")) and len(w) > 4:
        w = w[:-3] + "y"
    else:
        for suffix in _SUFFIXES:
            if w.endswith(suffix) and len(w) - len(suffix) >= 3:
                if suffix == "s" and w.endswith(("ss", "us", "is")):
                    break
                w = w[: -len(suffix)]
                break
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
        w = w[:-1]  # running -> run, stopped -> stop
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w[:6]


_SUFFIXES = (
    "ations",
    "ation",
    "ments",
    "ment",
    "ness",
    "ions",
    "ion",
    "ings",
    "ing",
    "edly",
    "ed",
    "ers",
    "er",
    "est",
    "ly",
    "es",
    "s",
)
NUMBER_WORDS = frozenset(words.UNITS) | frozenset(words.SCALES) | frozenset(words.TIMES)
# Amounts are compared as amounts: their unit words do not make two clauses about the same thing.
_UNIT_WORDS = frozenset(words.TIME_UNITS) | {f"{unit}s" for unit in words.TIME_UNITS} | {"percent"}


TIME_ABBREVIATIONS = {"min": "minute", "sec": "second", "hr": "hour", "yr": "year"}


def singular(word: str) -> str:
    """A plural noun's singular ("weeks" -> "week", "boxes" -> "box"); "mins" reads "minute"."""
    if word in words.TIME_UNITS or len(word) <= 3:
        return TIME_ABBREVIATIONS.get(word.rstrip("s"), word)
    for plural, single in (("ies", "y"), ("sses", "ss"), ("ches", "ch"), ("shes", "sh"), ("xes", "x")):
        if word.endswith(plural):
            return word[: -len(plural)] + single
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def is_negation(lower: str) -> bool:
    """Whether a (casefolded) word is a negation cue: not, never, without, cannot, any n't ..."""
    return lower in words.NEGATIONS or lower.endswith("n't")


def content_stems(tokens: Iterable[Token]) -> set[str]:
    """The stems of the words that carry the claim: no function words, cues or numbers."""
    return {
        stem(token.lower)
        for token in tokens
        if token.number is None
        and token.lower not in words.STOPWORDS
        and token.lower not in NUMBER_WORDS
        and token.lower not in _UNIT_WORDS
        and not is_negation(token.lower)
        and len(token.lower) > 1
    }


def negation_indices(tokens: list[Token]) -> list[int]:
    """The tokens that negate their clause, less "not only", "no more than" and the "nor" of a
    "neither ... nor" (one negation, not two)."""
    lowers = [token.lower for token in tokens]
    skipped: set[int] = set()
    for phrase in words.NOT_NEGATIONS:
        for start in _phrase_starts(lowers, phrase):
            skipped.add(start)
    found: list[int] = []
    phrased = {start for phrase in words.NEGATION_PHRASES for start in _phrase_starts(lowers, phrase)}
    seen_neither = False
    for index, lower in enumerate(lowers):
        if index in skipped or not (is_negation(lower) or index in phrased):
            continue
        if lower == "no" and index + 1 in phrased:
            continue  # "no longer" is one cue
        if lower == "nor" and seen_neither:
            continue
        seen_neither = seen_neither or lower == "neither"
        found.append(index)
    return found


def hedge_spans(tokens: list[Token], kinds: Iterable[str]) -> list[tuple[str, range]]:
    """(kind, token range) of each hedge of the given kinds (see claim_words.HEDGE_KINDS)."""
    lowers = [token.lower for token in tokens]
    found: list[tuple[str, range]] = []
    for kind in kinds:
        for phrase in words.HEDGE_KINDS[kind]:
            found += [(kind, range(start, start + len(phrase))) for start in _phrase_starts(lowers, phrase)]
    return found


def _phrase_starts(lowers: list[str], phrase: tuple[str, ...]) -> list[int]:
    size = len(phrase)
    return [i for i in range(len(lowers) - size + 1) if tuple(lowers[i : i + size]) == phrase]


_ALIAS_GROUPS = {form: group for group in words.ALIASES for form in group}


def alias_forms(term: str) -> tuple[str, ...]:
    """Every spelling of a term the alias table knows (the term itself first)."""
    folded = term.casefold().strip()
    return (folded, *(form for form in _ALIAS_GROUPS.get(folded, ()) if form != folded))


def entities(text: str, tokens: list[Token]) -> list[tuple[int, bool]]:
    """(token index, at the start of a sentence) of each name: a capitalised word, an acronym,
    CamelCase or a code identifier. A capitalised first word is only a candidate name."""
    found: list[tuple[int, bool]] = []
    for index, token in enumerate(tokens):
        if token.number is not None or token.lower in words.STOPWORDS:
            continue
        written = token.text
        code = "_" in written or written.endswith("()") or re.search(r"[a-z][A-Z]", written) is not None
        inner_capital = (
            any(c.isupper() for c in written[1:])
            and not written.isupper()
            or (written.isupper() and len(written) > 1)
        )
        opening = index == 0 or bool(re.search(r"[.!?:\"'(\[]\s*$", text[: token.start]))
        if code or inner_capital:
            found.append((index, False))
        elif written[:1].isupper():
            found.append((index, opening))
    return found


def phrase_at(tokens: list[Token], phrase: str) -> list[range]:
    """Where a phrase occurs as whole words (casefolded, accents removed, a plural counting)."""
    wanted = [fold(token.lower) for token in tokenize(plain(phrase))]
    if not wanted:
        return []
    have = [fold(token.lower) for token in tokens]
    size = len(wanted)
    return [
        range(i, i + size)
        for i in range(len(have) - size + 1)
        if have[i : i + size - 1] == wanted[:-1] and _word_match(have[i + size - 1], wanted[-1])
    ]


def _word_match(have: str, wanted: str) -> bool:
    return have == wanted or (wanted.isalpha() and len(wanted) > 3 and singular(have) == singular(wanted))


def names(tokens: list[Token], term: str) -> list[range]:
    """Where a term, or one of its aliases, occurs as whole words."""
    return [found for form in alias_forms(term) for found in phrase_at(tokens, form)]
