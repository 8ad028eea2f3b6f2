"""When a question's letter case carries meaning, for the answer cache (core.ask.questions).

Case is folded by default: "What is FSRS?" asks what "what is fsrs" asks. But in some tokens case
is the meaning: `%M` is minutes and `%m` the month, `\\D` a non-digit and `\\d` a digit, `-A` and
`-a` two flags, `O(n)` and `o(n)` two bounds, `MB` and `Mb` and `mb` three units, `getId` and
`getID` two identifiers, `C` and `c` a language and the speed of light. A question holding one such
token is compared with its case kept, all of it (another word's case may matter there too); only
its sentence-opening function words ("What", "Is", "In") and the pronoun "I" are lowercased,
since their capital says nothing.

A token carries case when it is

- a word beside a sign (an operator, a bracket, a symbol): `%M`, `\\D`, `-A`, `O(n)`, `x+1`, `$PATH`;
- a word whose capitals are not just its first letter or all of it: `MHz`, `kB`, `getId`, `NaCl`,
  `iPhone`, `MAX_SIZE` (a name with an underscore and a capital); an acronym's plural (`GPUs`) and
  a possessive are read without their `s`;
- a two-letter word with a capital (`MB`, `Mb`, `Co`, `MS`), unless it opens a sentence as a
  function word ("Is", "In"); a number's unit with a capital (`5MB`, `5Mb`, `5G`, not `5g`);
- one capital letter, but the pronoun "I" and a sentence-opening "A" (`C`, `X`, `O`).

The first rule reads no case, so a question it marks is kept with its case however it is typed.
The others read capitals, so they apply only to a question that has lowercase letters too: one
typed in capitals ("WHAT IS SPACED REPETITION?!") says nothing by its case and is folded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple


class Token(NamedTuple):
    """One kept token of a question: its kind (`word` or a sign's kind), its text and its span."""

    kind: str
    text: str
    start: int
    end: int


# Words whose capital only opens a sentence: question words, auxiliaries and modals, articles,
# pronouns, greetings, the verbs of a request and the prepositions and conjunctions a question may
# open with. Lowercased where they open a sentence, in a question whose case is kept.
FUNCTION_WORDS = frozenset(
    """what which who whom whose why how whether when where
    is are am was were be been being do does did have has had will would shall should can could
    may might must ought not no never none neither nor
    a an the this that these those there here it its i me my we our you your he she they them their
    hi hello hey please ok okay so well um uh thanks thank
    explain describe define tell clarify give show help let
    in for on at with without within during after before if using as from to by under of about
    and or but because since unless until while although though whereas than""".split()
)
_SHORTENED = {"ca": "can", "wo": "will", "sha": "shall"}  # can't, won't, shan't
# What may stand between a sentence's end and its first word: spaces, quotes, an opening bracket.
_OPENING = re.compile(r"""[\s"'(\[{«“‘]*\Z""")
_SENTENCE_END = ".!?:;¿¡"
_QUANTITY = re.compile(r"\d[\d.,]*(?P<unit>[^\W\d_]+)\Z")


def _base(word: str) -> str:
    """The word without its contraction: "What's" -> "what", "Isn't" -> "is", "Can't" -> "can"."""
    lowered = word.lower()
    if lowered.endswith("n't"):
        stem = lowered[:-3]
        return _SHORTENED.get(stem, stem)
    return lowered.split("'", 1)[0]


def _opens_sentence(text: str, token: Token) -> bool:
    before = _OPENING.sub("", text[: token.start])
    return not before or before[-1] in _SENTENCE_END


def _beside_a_sign(tokens: Sequence[Token], index: int) -> bool:
    neighbours = tokens[max(index - 1, 0) : index] + tokens[index + 1 : index + 2]
    return any(other.kind != "word" for other in neighbours)


def _is_pronoun_i(tokens: Sequence[Token], index: int) -> bool:
    """ "I", "I'm", "I've": the pronoun, unless a sign makes it a name (`I++`, `I = 5`)."""
    token = tokens[index]
    return _base(token.text) == "i" and token.text[0] == "I" and not _beside_a_sign(tokens, index)


def _sentence_capital(text: str, token: Token) -> bool:
    """A function word whose capital only opens a sentence ("What", "Is", "What's")."""
    word = token.text
    return (
        token.kind == "word"
        and word[:1].isupper()
        and not any(c.isupper() for c in word[1:])
        and _base(word) in FUNCTION_WORDS
        and _opens_sentence(text, token)
    )


def _stem(word: str) -> str:
    """The word without a possessive or an acronym's plural: "NumPy's" -> "NumPy", "GPUs" -> "GPU"."""
    if word.lower().endswith("'s"):
        return word[:-2]
    if len(word) > 2 and word[-1] == "s" and word[:-1].isupper():
        return word[:-1]
    return word


def _mixed_case(word: str) -> bool:
    letters = [c for c in word if c.isalpha()]
    capital_inside = any(c.isupper() for c in letters[1:])
    lowercase = any(c.islower() for c in letters)
    return (capital_inside and lowercase) or ("_" in word and any(c.isupper() for c in letters))


def _carries_case(text: str, tokens: Sequence[Token], index: int, informative: bool) -> bool:
    token = tokens[index]
    word = token.text
    if token.kind != "word" or not any(c.isupper() or c.islower() for c in word):
        return False
    if _beside_a_sign(tokens, index):
        return True
    if not informative:
        return False
    word = _stem(word)
    quantity = _QUANTITY.match(word)
    if quantity:  # "5MB", "3.5GHz", "5G": a unit written with its number
        return any(c.isupper() for c in quantity["unit"])
    if _mixed_case(word):
        return True
    if len(word) == 2 and word.isalpha() and any(c.isupper() for c in word):
        return not _sentence_capital(text, token)
    if len(word) == 1 and word.isupper():
        return word != "I" and not (word == "A" and _opens_sentence(text, token))
    return False


def case_carries_meaning(text: str, tokens: Sequence[Token]) -> bool:
    """Whether any token of the question is one whose case is its meaning (the module's rules)."""
    informative = any(c.islower() for c in text)
    return any(_carries_case(text, tokens, index, informative) for index in range(len(tokens)))


def with_meaningful_case(text: str, tokens: Sequence[Token]) -> str:
    """The question with its case kept, but its sentence-opening function words and "I" lowercased."""
    pieces, position = [], 0
    for index, token in enumerate(tokens):
        if _sentence_capital(text, token) or _is_pronoun_i(tokens, index):
            pieces += [text[position : token.start], token.text.lower()]
            position = token.end
    return "".join(pieces) + text[position:]
