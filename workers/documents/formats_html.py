"""HTML: readable text by heading, without scripts, styles and navigation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from workers.documents.model import ParsedDocument, Section, clean_text, decode_text

if TYPE_CHECKING:
    from bs4 import Tag

# Never content: code, styling, navigation, embedded objects, form controls.
DROPPED_TAGS = (
    "script",
    "style",
    "nav",
    "noscript",
    "template",
    "svg",
    "math",
    "iframe",
    "object",
    "embed",
    "canvas",
    "button",
    "select",
    "textarea",
    "head",
)
HEADING_TAGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
# Elements that end the paragraph before them and start a new one.
BLOCK_TAGS = {
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "center",
    "dd",
    "details",
    "dialog",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "header",
    "hgroup",
    "hr",
    "li",
    "main",
    "ol",
    "p",
    "section",
    "summary",
    "ul",
    "caption",
}
_LINE_BREAK = "\ue000"  # a <br> while whitespace is collapsed (a private-use character)
_WHITESPACE = re.compile(r"\s+")
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.I)


def parse_html(data: bytes, *, charset: str | None = None) -> ParsedDocument:
    """HTML: sections by h1-h6; title from <title>, else the first <h1>; <main> preferred when present."""
    from bs4 import BeautifulSoup, Comment, Doctype, ProcessingInstruction  # only parsing hosts need it

    declared = charset
    if declared is None:
        meta = _META_CHARSET.search(data[:4096])
        declared = meta.group(1).decode("ascii") if meta else None
    soup = BeautifulSoup(decode_text(data, declared=declared), "lxml")

    title_tag = soup.find("title")
    title = _collapse(title_tag.get_text(" ")) if title_tag else ""
    for tag in soup.find_all(DROPPED_TAGS):
        tag.decompose()
    for tag in soup.find_all(hidden=True):
        tag.decompose()
    for node in soup.find_all(string=lambda s: isinstance(s, (Comment, Doctype, ProcessingInstruction))):
        node.extract()
    if not title:
        first_h1 = soup.find("h1")
        title = _collapse(first_h1.get_text(" ")) if first_h1 else ""

    root = soup.find("main") or soup.find("body") or soup
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    blocks: list[str] = []

    def flush() -> None:
        text = clean_text("\n\n".join(blocks))
        if text.strip():
            sections.append(Section(text=text, heading_path=[name for _, name in stack]))
        blocks.clear()

    for kind, level, text in _events(root):
        if kind == "heading":
            flush()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, text))
        else:
            blocks.append(text)
    flush()
    return ParsedDocument(format="html", title=title or None, sections=sections, metadata={})


def _events(root: Tag) -> Iterator[tuple[str, int, str]]:
    """("heading", level, text) and ("block", 0, text) in document order."""
    from bs4 import NavigableString, Tag

    inline: list[str] = []

    def paragraph() -> Iterator[tuple[str, int, str]]:
        text = _collapse("".join(inline))
        inline.clear()
        if text and text != "-":  # "-" alone: a list item whose content is a nested list
            yield ("block", 0, text)

    def walk(node: Tag) -> Iterator[tuple[str, int, str]]:
        for child in node.children:
            if isinstance(child, NavigableString):
                inline.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name
            if name in HEADING_TAGS:
                yield from paragraph()
                text = _collapse(child.get_text(" "))
                if text:
                    yield ("heading", HEADING_TAGS[name], text)
            elif name == "br":
                inline.append(_LINE_BREAK)
            elif name == "pre":
                yield from paragraph()
                code = child.get_text().strip("\n")
                if code.strip():
                    yield ("block", 0, f"```\n{code}\n```")  # fenced, so the chunker keeps it whole
            elif name == "table":
                yield from paragraph()
                rows = [_table_row(row) for row in child.find_all("tr")]
                text = "\n".join(row for row in rows if row)
                if text:
                    yield ("block", 0, text)
            elif name in BLOCK_TAGS:
                yield from paragraph()
                if name == "li":
                    inline.append("- ")
                yield from walk(child)
                yield from paragraph()
            else:
                if name in ("td", "th"):
                    inline.append(" ")
                yield from walk(child)

    yield from walk(root)
    yield from paragraph()


def _table_row(row: Tag) -> str:
    cells = [_collapse(cell.get_text(" ")) for cell in row.find_all(["td", "th"], recursive=False)]
    return " | ".join(cell for cell in cells if cell)


def _collapse(text: str) -> str:
    collapsed = _WHITESPACE.sub(" ", text)
    return "\n".join(line.strip() for line in collapsed.split(_LINE_BREAK)).strip()
