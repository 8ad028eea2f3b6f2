"""Plain text and Markdown."""

from __future__ import annotations

import re

from workers.documents.model import ParsedDocument, Section, clean_text, decode_text

_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_FRONT_MATTER_FIELD = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:[ \t]*(.*?)[ \t]*$")


def parse_text(data: bytes, *, charset: str | None = None) -> ParsedDocument:
    """Plain text: one section; the chunker finds the paragraphs."""
    text = clean_text(decode_text(data, declared=charset))
    return ParsedDocument(format="text", title=None, sections=[Section(text=text, heading_path=[])])


def parse_markdown(data: bytes, *, charset: str | None = None) -> ParsedDocument:
    """Markdown: a section per ATX (or setext) heading; fenced code blocks are never read as headings."""
    text = clean_text(decode_text(data, declared=charset))
    metadata: dict[str, object] = {}
    front = _FRONT_MATTER.match(text)
    if front:
        metadata["front_matter"] = _front_matter_fields(front.group(1))
        text = text[front.end() :]

    sections: list[Section] = []
    stack: list[tuple[int, str]] = []  # (level, heading text) from the top level down
    body: list[str] = []
    paragraph_start = 0  # index in `body` where the current paragraph began (setext headings)
    first_h1: str | None = None
    fence: str | None = None  # the opening fence while inside a fenced code block

    def flush() -> None:
        section_text = "\n".join(body).strip("\n")
        if section_text.strip():
            sections.append(Section(text=section_text, heading_path=[title for _, title in stack]))
        body.clear()

    def open_heading(level: int, title: str) -> None:
        nonlocal first_h1
        flush()
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        if level == 1 and first_h1 is None:
            first_h1 = title

    for line in text.split("\n"):
        if fence is not None:
            body.append(line)
            stripped = line.strip()
            if stripped.startswith(fence) and set(stripped) == {fence[0]}:
                fence = None
                paragraph_start = len(body)  # a code block is never a setext heading's text
            continue
        opened = _FENCE_OPEN.match(line)
        if opened:
            fence = opened.group(1)
            body.append(line)
            continue
        heading = _ATX_HEADING.match(line)
        if heading:
            open_heading(len(heading.group(1)), (heading.group(2) or "").strip())
            paragraph_start = 0
            continue
        underline = _SETEXT_UNDERLINE.match(line)
        if underline and paragraph_start < len(body) and all(body[paragraph_start:]):
            # The paragraph just above is the heading (CommonMark setext rule).
            title = " ".join(part.strip() for part in body[paragraph_start:])
            del body[paragraph_start:]
            open_heading(1 if underline.group(1)[0] == "=" else 2, title)
            paragraph_start = 0
            continue
        body.append(line)
        if not line.strip():
            paragraph_start = len(body)
    flush()

    fields = metadata.get("front_matter") or {}
    title = fields.get("title") if isinstance(fields, dict) else None
    return ParsedDocument(format="markdown", title=title or first_h1, sections=sections, metadata=metadata)


def _front_matter_fields(block: str) -> dict[str, str]:
    """Top-level `key: value` lines of YAML front matter (no YAML library: scalars only)."""
    fields: dict[str, str] = {}
    for line in block.split("\n"):
        match = _FRONT_MATTER_FIELD.match(line)
        if match and match.group(2):
            fields[match.group(1)] = match.group(2).strip("\"'")
    return fields
