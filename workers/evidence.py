"""Is a quote really in the source? The check every extracted item passes before anyone sees it.

The model is asked to back each item with a short quote from the source; code then looks for
that quote in the source with rapidfuzz's `partial_ratio` (the best-matching substring, so small
differences in spacing, punctuation or an OCR'd character still match) on normalized text.
An item whose quote is not found, or is too short to prove anything, is dropped.
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz import fuzz

# "a", "I am" match anything, and a bare name ("Priya Raman", "data analysis") only shows the
# words occur: a quote must say something, so it needs a few words.
MIN_QUOTE_CHARS = 8
MIN_QUOTE_WORDS = 3
NAME_IN_QUOTE_SCORE = 70.0  # an item's name must be recognisable in its quote (or in the source)


def normalize_text(text: str) -> str:
    """NFKC, casefolded, typographic quotes and dashes made plain, punctuation and spaces collapsed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = folded.translate(str.maketrans("‘’“”–—", "''\"\"--"))
    folded = re.sub(r"[^\w\s'-]+", " ", folded)
    return re.sub(r"\s+", " ", folded).strip()


class Source:
    """A source text, normalized once, that quotes are checked against."""

    def __init__(self, text: str, *, min_score: float):
        self.text = normalize_text(text)
        self.min_score = min_score

    def contains(self, quote: str | None) -> bool:
        """Whether the quote (normalized) appears in the source, up to small differences."""
        normalized = normalize_text(quote or "")
        if len(normalized) < MIN_QUOTE_CHARS or len(normalized.split()) < MIN_QUOTE_WORDS:
            return False
        return fuzz.partial_ratio(normalized, self.text) >= self.min_score

    def mentions(self, name: str) -> bool:
        """Whether a name (a person's) appears in the source; names are short, so no word minimum."""
        normalized = normalize_text(name)
        return len(normalized) >= 2 and fuzz.partial_ratio(normalized, self.text) >= self.min_score

    def supports(self, name: str, quote: str | None) -> bool:
        """An item named `name` is supported when its quote is in the source and the name is
        recognisable in the quote or itself found in the source (so a real quote cannot carry an
        invented skill)."""
        if not self.contains(quote):
            return False
        normalized_name = normalize_text(name)
        if not normalized_name:
            return False
        in_quote = fuzz.partial_ratio(normalized_name, normalize_text(quote or "")) >= NAME_IN_QUOTE_SCORE
        return in_quote or fuzz.partial_ratio(normalized_name, self.text) >= self.min_score
