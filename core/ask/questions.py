"""What makes two questions the same question, for the answer cache: a normalized form for exact
hits, a content signature for semantic ones, and the keys an entry is stored and found under.

The rule: a word or sign wrongly kept costs a cache miss; one wrongly dropped could answer another
question. So both forms drop only what never changes what is asked.

**Exact key** (`normalize_question`). Folded: width (NFKC), spacing, invisible characters, the
emoji presentation selector, the punctuation that only ends, frames or quotes a sentence (`? . , ;
" ` « »`, a colon before a space, an exclamation mark after a word), and case, unless a token's
case is its meaning (`%M`/`%m`, `\\D`/`\\d`, `-A`/`-a`, `O(n)`/`o(n)`, `MB`/`Mb`, `getId`/`getID`:
core/ask/case.py says which), when the question keeps its case but for its sentence-opening
function words. Kept, each a token of its own: operator runs (`+ - * / = < > ! # % ^ & | ~ @ \\`,
so `==`, `!=`, `<=`, `->`, `++`, `**`), a minus before a number, brackets, a colon inside code
(`a[1:]`, `std::vector`), every other sign, symbol and emoji (`$ € × ≤ √ → ° ‰ § ✓ ✗ 👍`), a
factorial (`5!`), a prime (`f'(x)`), superscripts (`5²` is `5^2`, never `52`), decimals (`3.5`),
dotted names (`os.path`, `.net`), underscores (`__init__`) and combining marks, with the letter they
mark (`x̄`, `p̂`, a keycap), and a conditional expression's `?` and `:` (`a ? b : c`, never `a b c`). A
hyphen between two words of two or more letters is a space
(`self-attention`); any other hyphen is a minus (`x-1`, `c-style`).

**Content signature** (`content_signature`), compared only once the embeddings are close:

- Folded, for paraphrases: contractions (`what's` = `what is`, `isn't` = `is not`), plurals (but
  a plural form right after a singular verb names one thing: `what is pandas` is not `what is a
  panda`), number words (`three` = `3`), `are/am` = `is`, `were` = `was`, `which` = `what`. A
  request for a thing (`explain X`, `describe X`, `define X`, `tell me about X`, `what does X
  mean`, `what is meant by X`, `could you please explain X`) asks `what is X`; a request around a
  question asks that question (`explain how X works` = `how X works`); `how to` = `how do I`. A
  leading clause set off by a comma (`In Python, how do I ...`, `If I fail, can I ...`) moves to
  the end.
- Dropped: articles, politeness and greetings, `something`/`anyone`-style pronouns, intensifiers
  (`really`, `actually`; never a word of precision or bound: `exactly`, `only`, `at least`), a
  question's present-tense `do/does` (`how does X work` = `how X works`) and the subject pronoun
  right after it or after the question's verb (`how do I/you/we`, `is it`). Every other pronoun
  is a word: `can I help you?` is not `can you help me?`.
- Content: question words (`when` is not `where`), modals (`can` is not `must`), tense (`was`,
  `will`, `did`, `has`), negation (`not`, `never`, `no`), numbers, units, every sign the exact key
  keeps (with the case it keeps), and every other word.
- Order carries roles, so words keep their order (`is a dog bigger than a cat` is not `is a cat
  bigger than a dog`, `convert C to F` is not `convert F to C`, `did A beat B` is not `did B beat
  A`). What may move: the question words, anywhere, and in each clause its first run of tense,
  modal and negation words, which a question puts before the subject and a statement after it
  (`X: is it safe?` = `is X safe?`, `X was named after who?` = `who was X named after?`). Clauses
  end at conjunctions and subordinators (`and`, `if`, `when`, `that`, `than`, `before`, ...), so
  a `can` and a `must` in different clauses never trade places.

Both forms carry a version (`KEY_VERSION`, `SIGNATURE_VERSION`): an entry stored under an older
rule is never found again and expires with its TTL, rather than answering under rules it was not
written for."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from core.ask import case

# Part of every lookup key: an entry keyed by an older normalization must never answer a question
# under the new one (version 1 folded "C++" into "c"; version 2 folded "%M" into "%m" and dropped ✓;
# version 3 dropped a conditional expression's `?` and `:`).
KEY_VERSION = 4
# The first element of every signature; an old entry's sorted word list never starts with it.
SIGNATURE_VERSION = "sig:4"

# --------------------------------------------------------------------------- characters

_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱ", "0123456789+-=()ni")
_SUPERSCRIPT_RUN = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱ]+")
# After NFKC: curly quotes, primes and the many dashes and slashes folded to their ASCII sign.
_CHARACTERS = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "′": "'",
        "“": '"',
        "”": '"',
        "\u2212": "-",  # minus sign
        "\u2010": "-",  # hyphen
        "\u2011": "-",  # non-breaking hyphen
        "\u2012": "-",  # figure dash
        "\u2013": "-",  # en dash: ranges, "3–5"
        "\u2014": " ",  # em dash: prose punctuation
        "\u2044": "/",  # fraction slash: NFKC turns "½" into "1⁄2"
        "\u2215": "/",  # division slash
    }
)
# A hyphen between two words of two or more letters joins them ("self-attention"); next to a single
# letter or a digit it is a minus ("x-1", "c-style").
_WORD_JOINER = re.compile(r"(?<=[^\W\d_]{2})-(?=[^\W\d_]{2})")


_TOKEN = re.compile(
    r"""
    (?P<word>(?:(?<!\S)\.(?=\w))?\w+(?:(?:[.']|(?<=\d),(?=\d))\w+)*)  # 3.5, 1,000, os.path, .net, don't
    | (?P<operator>[-+*/=<>!#%^&|~@\\]+)                         # ==, !=, ->, ++, a lone sign
    | (?P<prime>'+)                                               # f'(x), or a quote
    | (?P<bracket>[()\[\]{}])
    | (?P<colon>:+(?=\S))                                         # a[1:], std::vector; not "X: is it"
    | (?P<other>[^\w\s])                                          # $ € × √ ° ✓ ✗ 👍 §, or punctuation
    """,
    re.VERBOSE,
)
# What only ends, frames or quotes a sentence; every other sign, symbol or emoji is kept.
_FRAMING = set("""?.,;:"`¿¡…""") | {"。", "、", "・"}
_FRAMING_CATEGORIES = {"Pi", "Pf"}  # opening and closing quotation marks: « » ‹ › „
# Variation selectors 15 and 16 choose text or emoji presentation ("✓" or "✓️"), never a meaning.
_PRESENTATION = {"\ufe0e", "\ufe0f"}
_WORDLIKE = re.compile(r"\.?\w")


def _prepared(question: str) -> str:
    """The question's text, its case folded unless a token's case is its meaning (core.ask.case)."""
    text = _SUPERSCRIPT_RUN.sub(lambda run: "^" + run.group().translate(_SUPERSCRIPT), question)
    text = unicodedata.normalize("NFKC", text).translate(_CHARACTERS)
    # Invisible characters (zero-width spaces, soft hyphens) could split or hide a word.
    text = "".join(
        " " if unicodedata.category(c) == "Cc" else c
        for c in text
        if unicodedata.category(c) != "Cf" and c not in _PRESENTATION
    )
    text = _WORD_JOINER.sub(" ", text)
    tokens = _kept_tokens(text)
    if case.case_carries_meaning(text, tokens):
        return case.with_meaningful_case(text, tokens)
    return unicodedata.normalize("NFKC", text.casefold())


# A conditional expression, `a ? b : c`: its `?` and `:` are operators, not the end of a question and a
# colon before an explanation ("What does a ? b : c return?" is not "What does a b c return?").
_CONDITIONAL = re.compile(r"(?<=\S)\s*(\?)\s*[^\s?:][^?:]*?\s*(:)(?=\s*[^\s?])")


def _kept_tokens(text: str) -> list[case.Token]:
    tokens: list[case.Token] = []
    operators = {m.start(group) for m in _CONDITIONAL.finditer(text) for group in (1, 2)}
    for match in _TOKEN.finditer(text):
        if match.start() in operators and match.group() in ("?", ":"):
            tokens.append(case.Token("operator", match.group(), match.start(), match.end()))
            continue
        kind, token = match.lastgroup or "other", match.group()
        before = text[match.start() - 1] if match.start() else " "
        after = text[match.end()] if match.end() < len(text) else " "
        if kind == "operator" and set(token) == {"!"}:
            # "5!" and "(n-1)!" are factorials, "!x" is a logical not; "Python!" just ends a sentence.
            if not (before.isdigit() or before in ")]" or after.isalnum() or after in "(_"):
                continue
        elif kind == "prime":
            # A prime follows a one-letter name or a bracket directly: f'(x), y'', (f+g)'.
            previous = tokens[-1].text if tokens else ""
            attached = not before.isspace() and (before in ")]" or len(previous) == 1)
            if not attached or after.isalnum():
                continue
        elif kind == "other":
            if unicodedata.category(token).startswith("M") and tokens and tokens[-1].end == match.start():
                # A combining mark is part of what it marks: x̄ is not x, p̂ not p, 1⃣ not 1.
                tokens[-1] = tokens[-1]._replace(text=tokens[-1].text + token, end=match.end())
                continue
            if token in _FRAMING or unicodedata.category(token) in _FRAMING_CATEGORIES:
                continue
        tokens.append(case.Token(kind, token, match.start(), match.end()))
    return tokens


def _tokens(text: str) -> list[str]:
    return [token.text for token in _kept_tokens(text)]


def normalize_question(question: str) -> str:
    """The exact form: `"What is  C++?"` == `"what is C++"`, but never `"what is C#"`, `"what is c"`
    or `"what is c++"` (a sign makes case meaningful), and `"%M"` is never `"%m"`."""
    return " ".join(_tokens(_prepared(question)))


# --------------------------------------------------------------------------- content signature

_CONTRACTIONS = [
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bshan't\b"), "shall not"),
    (re.compile(r"\bain't\b"), "is not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"\bcannot\b"), "can not"),
    (re.compile(r"\b(what|who|where|when|why|how|it|that|there|here|he|she|this)'s\b"), r"\1 is"),
    (re.compile(r"\blet's\b"), "let us"),
    (re.compile(r"'re\b"), " are"),
    (re.compile(r"'ve\b"), " have"),
    (re.compile(r"'ll\b"), " will"),
    (re.compile(r"'m\b"), " am"),
    (re.compile(r"'d\b"), " would"),
    (re.compile(r"(?<=\w)'s\b"), ""),  # a possessive: "Python's GIL" names the same GIL
]
_GREETING = re.compile(r"^\s*(?:(?:hi|hello|hey|please|ok|okay|so|well|um|uh)\b[\s,!.:;-]*)+")
# "In Python, how do I ..." asks "how do I ... in Python": a leading clause set off by a comma.
_FRONTED_CLAUSE = re.compile(
    r"^(?P<front>(?:in|for|on|at|with|without|within|during|after|before|if|using|as|from|to|by|under)"
    r"\b[^,;:?]{1,80}?),\s*(?P<rest>\S.*)$",
    re.DOTALL,
)

_POLITENESS = {"please", "kindly", "thanks", "thx"}  # and "thank you", anywhere
_ADDRESSEES = {"you", "someone", "somebody", "anyone", "anybody"}
_REQUEST_MODALS = {"can", "could", "would", "will"}
_REQUESTS = [
    ("help", "me", "understand"),
    ("explain", "to", "me"),
    ("tell", "me", "about"),
    ("tell", "us", "about"),
    ("tell", "me"),
    ("tell", "us"),
    ("explain",),
    ("describe",),
    ("define",),
    ("clarify",),
]
_ASIDES = [  # "I want to know what X is" asks "what is X"
    ("i", "want", "to", "know"),
    ("i", "would", "like", "to", "know"),
    ("i", "wonder"),
    ("i", "am", "wondering"),
    ("i", "was", "wondering"),
    ("do", "you", "know"),
    ("does", "anyone", "know"),
]
_DEFINITION_OPENERS = [
    ("what", "is", "meant", "by"),
    ("what", "is", "the", "meaning", "of"),
    ("what", "is", "the", "definition", "of"),
    ("what", "do", "you", "mean", "by"),
]

_INTERROGATIVES = {"what", "which", "who", "whom", "whose", "why", "how", "whether", "when", "where"}
# Question words that are also subordinators: "when X fails" inside a question is a clause.
_SUBORDINATING_INTERROGATIVES = {"when", "where"}
# Words that start a new clause; tense, modal and negation words never move across one.
_CLAUSE_BOUNDARIES = {
    "and", "or", "but", "because", "since", "if", "unless", "until", "while", "although", "though",
    "whereas", "than", "that", "before", "after", "when", "where",
}  # fmt: skip
_TENSE_AND_MODALS = {
    "is", "was", "be", "been", "being", "have", "had", "did", "will", "would", "shall", "should",
    "can", "could", "may", "might", "must", "ought",
}  # fmt: skip
_HELPERS = {"do", "did"}
_SINGULAR_VERBS = {"is", "was", "does", "has"}
_NEGATIONS = {"not", "no", "never", "none", "nobody", "nothing", "nowhere", "neither", "nor"}
STOP_WORDS = frozenset(
    """a an the hi hello hey
    something anything someone anyone somebody anybody
    really actually basically""".split()
)
# The asker's pronouns, by person. A subject pronoun right after the question's helper is dropped
# ("how do I/you/we ...", "is it ..."); every other one is a word: "can I help you?" is not
# "can you help me?", and "my loop" is not "your loop".
_SUBJECTS = {"i", "you", "we", "it"}
_PERSONS = {
    "me": "i", "my": "i", "mine": "i", "myself": "i",
    "your": "you", "yours": "you", "yourself": "you", "yourselves": "you",
    "our": "we", "ours": "we", "ourselves": "we",
}  # fmt: skip
_FOLDS = {
    "are": "is",
    "am": "is",
    "were": "was",
    "has": "have",
    "does": "do",
    "which": "what",
    "whom": "who",
    "versus": "vs",
    "zero": "0",
}
_FOLDS |= {
    word: str(number)
    for number, word in enumerate(
        "two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split(),
        start=2,
    )
}
_FOLDS |= {
    word: str(tens * 10)
    for tens, word in enumerate("thirty forty fifty sixty seventy eighty ninety".split(), 3)
}
# Words ending in "s" that are not plurals, or whose singular is another word.
_NOT_PLURALS = frozenset(
    """news series species physics mathematics economics politics statistics ethics genetics
    linguistics lens gas bias means windows always perhaps""".split()
)


def _singular(word: str) -> str:
    if len(word) <= 3 or not word.isalpha() or word in _NOT_PLURALS:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "ches", "shes", "xes", "zes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _starts(tokens: list[str], prefix: Sequence[str]) -> bool:
    return tuple(tokens[: len(prefix)]) == tuple(prefix)


def _as_question(tokens: list[str]) -> list[str]:
    """A request or an aside around a question is that question; a request for a thing is "what is"."""
    addressed = len(tokens) > 1 and tokens[0] in _REQUEST_MODALS and tokens[1] in _ADDRESSEES
    body = tokens[2:] if addressed else tokens
    for request in _REQUESTS:
        if _starts(body, request):
            rest = body[len(request) :]
            if rest[:1] == ["about"]:
                rest = rest[1:]
            return rest if rest[:1] and rest[0] in _INTERROGATIVES else ["what", "is", *rest]
    for aside in _ASIDES:
        rest = tokens[len(aside) :]
        if _starts(tokens, aside) and rest[:1] == ["about"]:
            return ["what", "is", *rest[1:]]
        if _starts(tokens, aside) and rest[:1] and rest[0] in _INTERROGATIVES:
            return rest
    return tokens


def _definition(tokens: list[str]) -> list[str]:
    """ "What is meant by X", "what is the meaning of X" and "what does X mean" ask "what is X"."""
    normalized = ["is" if t == "are" else t for t in tokens]
    for opener in _DEFINITION_OPENERS:
        if _starts(normalized, opener):
            return ["what", "is", *tokens[len(opener) :]]
    if len(tokens) > 3 and tokens[0] == "what" and tokens[1] in ("does", "do") and tokens[-1] == "mean":
        return ["what", "is", *tokens[2:-1]]
    if tokens[:2] == ["how", "to"]:
        return ["how", *tokens[2:]]
    return tokens


def _clause_tokens(question: str) -> list[str]:
    text = _prepared(question)
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    text = _GREETING.sub("", text)
    fronted = _FRONTED_CLAUSE.match(text)
    if fronted:
        text = f"{fronted['rest']} {fronted['front']}"
    tokens = _tokens(text)
    thanked = {i for i, pair in enumerate(zip(tokens, tokens[1:])) if pair == ("thank", "you")}
    tokens = [
        token
        for i, token in enumerate(tokens)
        if token not in _POLITENESS and i not in thanked and i - 1 not in thanked
    ]
    return _definition(_as_question(tokens))


def content_signature(question: str) -> list[str]:
    """What is asked, as a list to compare for equality: the question words (any order), then clause
    by clause the first run of tense/modal/negation words (any order) and the rest in order."""
    tokens = _clause_tokens(question)
    signature = _signature(tokens, drop_stop_words=True)
    if not any(part.startswith("w:") for part in signature):
        # Nothing named but small words ("what does 'the' mean?"): then they are what is asked.
        signature = _signature(tokens, drop_stop_words=False)
    return signature


def _signature(tokens: list[str], *, drop_stop_words: bool) -> list[str]:
    asked: list[str] = []
    kept: list[tuple[str, str]] = []  # (kind, token): "f" tense/modal/negation, "b" clause boundary, "w" word
    previous = ""  # the token before, stop words aside: what decides a helper "do" or a subject pronoun
    names = _names(tokens)
    for index, raw in enumerate(tokens):
        if drop_stop_words and raw in STOP_WORDS and not _beside_a_sign(tokens, index):
            continue
        token = _FOLDS.get(raw, raw)
        at_start = previous == ""
        after_helper = any(
            previous in group for group in (_INTERROGATIVES, _TENSE_AND_MODALS, _HELPERS, _NEGATIONS)
        )
        previous = token
        if token in _INTERROGATIVES and (
            token not in _SUBORDINATING_INTERROGATIVES or index in (0, len(tokens) - 1)
        ):
            asked.append(token)
        elif token == "do" and (at_start or after_helper or (kept and kept[-1][0] == "b")):
            pass  # the present-tense helper of a question: "how does X work" asks "how X works"
        elif token in _SUBJECTS and drop_stop_words and after_helper and not _beside_a_sign(tokens, index):
            pass  # the subject of a question: "how do I ...", "how do you ...", "is it ..."
        elif token in _CLAUSE_BOUNDARIES:
            kept.append(("b", token))
        elif token in _TENSE_AND_MODALS or token in _NEGATIONS:
            kept.append(("f", token))
        else:
            word = _PERSONS.get(token, token)
            kept.append(("w", word if index in names else _singular(word)))
    signature = [SIGNATURE_VERSION, *(f"q:{word}" for word in sorted(asked))]
    clause: list[tuple[str, str]] = []
    for position, (kind, token) in enumerate(kept):
        # A conjunction that opens or closes the question joins nothing: "named after" ends in a word.
        if kind == "b" and 0 < position < len(kept) - 1:
            signature += _clause(clause) + [f"b:{token}"]
            clause = []
        else:
            clause.append(("w", token) if kind == "b" else (kind, token))
    return signature + _clause(clause)


def _names(tokens: list[str]) -> set[int]:
    """Where a plural form right after a singular verb names one thing ("what is pandas?", "how does
    Rails work?"): never folded into the singular, which is another word ("what is a panda?").
    After "are", "do" or an article it is a plural: "what are closures?" = "what is a closure?"."""
    names = set()
    for index, token in enumerate(tokens):
        verb = index - 1
        while verb >= 0 and tokens[verb] in _NEGATIONS:
            verb -= 1
        if verb >= 0 and tokens[verb] in _SINGULAR_VERBS and token.endswith("s"):
            names.add(index)
    return names


def _beside_a_sign(tokens: list[str], index: int) -> bool:
    """A name in a formula ("i++", "a && b") is never a pronoun or an article."""
    neighbours = tokens[max(index - 1, 0) : index] + tokens[index + 1 : index + 2]
    return any(not _WORDLIKE.match(token) for token in neighbours)


def _clause(clause: list[tuple[str, str]]) -> list[str]:
    """The clause's first run of tense/modal/negation words as a sorted set, where the subject may
    stand before or after it ("is X safe" = "X: is it safe"); every other word in its place."""
    start = next((i for i, (kind, _) in enumerate(clause) if kind == "f"), len(clause))
    end = next((i for i in range(start, len(clause)) if clause[i][0] != "f"), len(clause))
    floating = sorted(f"f:{token}" for _, token in clause[start:end])
    return floating + [f"{kind}:{token}" for kind, token in clause[:start] + clause[end:]]


def same_content(a: Sequence[str], b: Sequence[str]) -> bool:
    """Whether two stored signatures ask the same thing; an entry signed under an older rule never does."""
    return list(a[:1]) == [SIGNATURE_VERSION] and list(a) == list(b)


# --------------------------------------------------------------------------- keys


def context_key(
    *,
    collection_versions: Mapping[uuid.UUID, int],
    owner_id: uuid.UUID | None,
    instructions_version: int | None,
    model: str,
    embed_model: str,
    speakers: Sequence[str] = (),
) -> str:
    """Everything but the question that decides an answer: the collections searched and the
    version of each one's content, whose they are, the instructions, both models, and the speakers
    the passages were limited to (named only when there are some, so that keys stored before the
    filter existed still match)."""
    document: dict[str, Any] = {
        "collections": sorted([str(cid), version] for cid, version in collection_versions.items()),
        "owner": str(owner_id) if owner_id else None,
        "instructions": instructions_version,
        "model": model,
        "embed_model": embed_model,
    }
    if speakers:
        document["speakers"] = sorted(set(speakers))
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def lookup_key(context: str, question: str) -> str:
    """The exact key: the context and the normalized question, under this module's key version."""
    return hashlib.sha256(f"q{KEY_VERSION}\n{context}\n{normalize_question(question)}".encode()).hexdigest()
