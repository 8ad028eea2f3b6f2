"""A voice profile's name as people read it in a transcript: one that cannot pass for another's.

A transcript puts the name of an enrolled person on what they said, and a course team searches its
recordings by it. A hostile pass enrolled names that render as another's: `Dr. Roe` with a bidi
override that shows it reversed, `Ana` with a zero-width joiner, a Cyrillic `А` for the Latin one,
a letter buried under a pile of combining marks. So a name is stored NFC-normalised and refused
when it holds:

- a bidi control (U+202A-202E embeddings and overrides, U+2066-2069 isolates),
- any other format character (Unicode category Cf: zero-width space and joiners, a BOM, soft hyphen),
- more than MAX_COMBINING_RUN combining marks in a row (decomposed),

and when its confusable skeleton (Unicode TR39 section 4, computed by ICU's own SpoofChecker, not by
a table of our own) equals another profile's in the same scope: `Pau1`, `PAUL` and `Paul` with a
Cyrillic `а` are all the profile `Paul` already enrolled.
"""

from __future__ import annotations

import threading
import unicodedata
from functools import cache

BIDI_CONTROLS = frozenset(range(0x202A, 0x202F)) | frozenset(range(0x2066, 0x206A))
MAX_COMBINING_RUN = 2


def normalised(name: str) -> str:
    return unicodedata.normalize("NFC", name)


def refusal(name: str) -> str | None:
    """Why the (NFC) name cannot be a profile's, or None when it can."""
    for char in name:
        if ord(char) in BIDI_CONTROLS:
            return f"the name holds a bidirectional control (U+{ord(char):04X}), which reorders how it reads"
        if unicodedata.category(char) == "Cf":
            return f"the name holds an invisible format character (U+{ord(char):04X}, {_named(char)})"
    # Counted decomposed, so a precomposed letter is no way around it; Vietnamese, the most a
    # living script stacks, has two on one letter (ệ: e, circumflex, dot below).
    run = 0
    for char in unicodedata.normalize("NFD", name):
        run = run + 1 if unicodedata.category(char).startswith("M") else 0
        if run > MAX_COMBINING_RUN:
            return f"the name stacks more than {MAX_COMBINING_RUN} combining marks on one letter"
    return None


def _named(char: str) -> str:
    return unicodedata.name(char, "unnamed")


_ICU_LOCK = threading.Lock()  # one checker shared by the API's threads; ICU's is not documented safe


@cache
def _spoof_checker():
    import icu  # ICU loads only where a name is checked: the API imports this module lazily too

    return icu.SpoofChecker()


def skeleton(name: str) -> str:
    """The TR39 skeleton of the name, case folded: two names with the same one look alike."""
    checker = _spoof_checker()
    with _ICU_LOCK:
        return checker.getSkeleton(0, normalised(name).casefold())


def confusable(name: str, others: list[str]) -> str | None:
    """The first of `others` that `name` could pass for (the same skeleton), or None."""
    mine = skeleton(name)
    return next((other for other in others if skeleton(other) == mine), None)
