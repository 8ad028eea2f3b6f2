"""Text from a target, a CV, a profile or a model, made clean where it is stored and where a report
shows it: what a reader should see, never an instruction to a renderer.

`one_line` is the text as one line a layout can hold: control characters, bidirectional overrides
and isolates, zero-width and other format characters, surrogates and noncharacters removed; line
and paragraph breaks of every kind (newline, carriage return, form feed, vertical tab, U+0085,
U+2028, U+2029) and tabs collapsed into single spaces with the other spacing; a pile of combining
marks cut to a few per letter; the whole cut to a limit with an ellipsis (fpdf2 breaks a word
wider than its cell on its own; the limit keeps a table row within one page).

`lines` is a target's text as stored: the same characters removed, every kind of line break a
newline, the lines otherwise as written.

`markdown` is a `one_line` as Markdown text that makes no markup: a link-like word (a URL, a bare
`www.`, an e-mail address) in a code span, which no renderer links (GitHub links an e-mail address
even with its `@` escaped), every other active character backslash-escaped.
"""

from __future__ import annotations

import re
import unicodedata

_REMOVED_CATEGORIES = {"Cc", "Cf", "Cs"}  # controls, format characters (bidi, zero-width), surrogates
_MARKS_PER_LETTER = 3  # more than any script needs; a few hundred stacked marks overflow a line


def _is_noncharacter(code: int) -> bool:
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def _visible(text: str) -> str:
    """Every character a reader should see (a newline too); every other space or break a space."""
    kept: list[str] = []
    marks = 0
    for character in text:
        category = unicodedata.category(character)
        if character.isspace() or category in ("Zs", "Zl", "Zp"):
            kept.append("\n" if character == "\n" else " ")
            marks = 0
        elif category in _REMOVED_CATEGORIES or _is_noncharacter(ord(character)):
            continue
        elif category.startswith("M"):
            marks += 1
            if marks <= _MARKS_PER_LETTER:
                kept.append(character)
        else:
            kept.append(character)
            marks = 0
    return "".join(kept)


# Every spelling of a line break: CRLF, CR, vertical tab, form feed, the file/group/record
# separators, NEL, and Unicode's line and paragraph separators.
_LINE_BREAK = re.compile("\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def lines(text: str) -> str:
    """The text with its lines kept (each break a newline) and nothing invisible in them."""
    return _visible(_LINE_BREAK.sub("\n", unicodedata.normalize("NFC", text)))


def one_line(text: object, *, limit: int | None = None) -> str:
    """The text as one line of at most `limit` characters (an ellipsis where cut), safe to lay out."""
    if text is None:
        return ""
    line = " ".join(_visible(unicodedata.normalize("NFC", str(text))).split())
    if limit is not None and len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return line


# A word a renderer may turn into a link (GitHub's and markdown-it's autolinks): a scheme's "://", a
# bare "www.", an "@" (an e-mail address, a mention). Backticks, pipes, angle brackets and
# backslashes end it: they are escaped outside the code span.
_LINK_LIKE = re.compile(r"[^\s`|<>\\]*(?:://|www\.|@)[^\s`|<>\\]*", re.IGNORECASE)
# CommonMark's (and GitHub's) active characters: escapes, code, emphasis, links and images, raw
# HTML and entities, table cells, headings, strikethrough, math; and a colon that could open an
# emoji shortcode (":warning:"), but not the one in "10:30".
_ACTIVE = re.compile(r"([\\`*_\[\]<>|#!&~$]|(?<!\w):(?=[\w+-]))")
# A dot inside a word ("main.py"): markdown-it's linkify reads it as a domain.
_DOMAIN_DOT = re.compile(r"(?<=\w)\.(?=[^\W\d_])")


def _escaped(text: str) -> str:
    return _DOMAIN_DOT.sub(r"\\.", _ACTIVE.sub(r"\\\1", text))


def markdown(text: object, *, limit: int) -> str:
    """`one_line(text)` as Markdown that shows it as written: never a link, markup or a new cell."""
    line = one_line(text, limit=limit)
    pieces, position = [], 0
    for link in _LINK_LIKE.finditer(line):
        pieces += [_escaped(line[position : link.start()]), f"`{link.group()}`"]
        position = link.end()
    return "".join(pieces) + _escaped(line[position:])
