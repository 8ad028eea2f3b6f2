"""Format detection and parsing of every supported format, and every way a document can be refused."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pytest
from fpdf import FPDF

from workers.documents import DocumentError, ParsedDocument, detect_format, formats_office, parse_document

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "knowledge"
PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"


def make_pdf(pages: list[str], *, title: str | None = None) -> bytes:
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def make_docx() -> bytes:
    document = docx.Document()
    document.core_properties.title = "Study guide"
    document.add_paragraph("A short preface.")
    document.add_heading("Memory", level=1)
    document.add_paragraph("Memory fades unless reviewed.")
    document.add_heading("Spacing", level=2)
    document.add_paragraph("Review after one day, then three.")
    document.add_paragraph("Use flashcards", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Interval", "Days"
    table.cell(1, 0).text, table.cell(1, 1).text = "second review", "3"
    document.add_heading("Recall", level=1)
    document.add_paragraph("Test yourself.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def parse(data: bytes, filename: str | None = None, content_type: str | None = None) -> ParsedDocument:
    return parse_document(data, filename=filename, content_type=content_type)


def refused(data: bytes, filename: str | None = None, content_type: str | None = None) -> DocumentError:
    with pytest.raises(DocumentError) as caught:
        parse(data, filename, content_type)
    return caught.value


# -- detection --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "content_type", "head", "expected"),
    [
        ("notes.txt", None, b"%PDF-1.7\n...", "pdf"),  # magic bytes beat the extension
        (None, None, b"\xef\xbb\xbfWEBVTT\n\n00:01.000 --> 00:02.000\nhi", "vtt"),
        ("talk.txt", None, b"WEBVTT - a talk\n", "vtt"),
        ("notes.md", None, b"# Title", "markdown"),
        ("NOTES.MARKDOWN", None, b"text", "markdown"),
        ("page.htm", "text/plain", b"hello", "html"),  # the extension beats the content type
        ("lecture.srt", None, b"1\n00:00:01,000 --> 00:00:02,000\nhi", "srt"),
        ("captions.vtt", None, b"no header", "vtt"),
        (None, "text/markdown; charset=utf-8", b"# x", "markdown"),
        (None, "application/pdf", b"garbage", "pdf"),
        ("upload", "text/vtt", b"x", "vtt"),
        (None, None, b"1\r\n00:00:01,000 --> 00:00:02,000\r\nhi", "srt"),  # sniffed
        (None, "application/octet-stream", b"<!DOCTYPE html><html><p>x</p></html>", "html"),
        (None, None, b"just some words", "text"),
    ],
)
def test_detect_format(filename: str | None, content_type: str | None, head: bytes, expected: str) -> None:
    assert detect_format(filename, content_type, head) == expected


def test_detect_format_tells_docx_from_zip_by_content_not_name() -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("notes.md", "# hi")
    assert detect_format("report.docx", None, archive.getvalue()) == "zip"
    assert detect_format("upload.zip", None, make_docx()) == "docx"
    assert detect_format(None, None, make_docx()[:4096]) == "docx"  # only the head: Word parts come first


@pytest.mark.parametrize(
    ("filename", "content_type", "head"),
    [
        ("photo.png", None, PNG_HEAD),
        ("notes.txt", "text/plain", PNG_HEAD),  # a PNG whatever its name says
        (None, None, b"\xff\xd8\xff\xe0\x00\x10JFIF"),
        ("notes.txt", None, b"GIF89a" + b"\x01\x02" * 40),  # by its signature alone: no NUL bytes
        ("old.doc", None, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 32),
        ("program.exe", None, b"MZ\x90\x00\x03\x00\x00\x00"),
        ("slides.pptx", None, b"hello"),
        (None, "image/svg+xml", b"<svg/>"),
        (None, None, b"\x00\x01\x02binary"),
    ],
)
def test_unsupported_types_are_refused(filename: str | None, content_type: str | None, head: bytes) -> None:
    with pytest.raises(DocumentError) as caught:
        detect_format(filename, content_type, head)
    assert caught.value.code == "unsupported_type"
    assert caught.value.http_status == 415


def test_parse_document_refuses_an_image_and_a_zip() -> None:
    assert refused(PNG_HEAD + b"\x00" * 100, "diagram.png").code == "unsupported_type"
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.txt", "hello")
    error = refused(archive.getvalue(), "bundle.zip")
    assert error.code == "unsupported_type" and "iter_archive" in error.message


def test_unknown_error_codes_are_a_programming_error() -> None:
    with pytest.raises(ValueError):
        DocumentError("no_such_code", "x")


# -- plain text and encodings ----------------------------------------------------------


def test_text_is_one_section_with_normalised_line_breaks_and_no_nul() -> None:
    data = b"\xef\xbb\xbfFirst paragraph.\r\n\r\nSecond\x00 paragraph.   \r\n\r\n\r\n\r\n" + b"Third. " * 20
    doc = parse(data, "notes.txt")
    assert doc.format == "text"
    expected = "First paragraph.\n\nSecond paragraph.\n\n" + ("Third. " * 20).strip()
    assert [s.text for s in doc.sections] == [expected]
    assert doc.sections[0].heading_path == []
    assert doc.metadata["filename"] == "notes.txt" and doc.metadata["bytes"] > 0


def test_invalid_utf8_is_refused_not_guessed() -> None:
    error = refused("caf\u00e9 cr\u00e8me".encode("latin-1"), "menu.txt")
    assert error.code == "invalid_encoding"
    assert "byte 3" in error.message
    assert refused("hello".encode("utf-16"), "notes.txt").code == "invalid_encoding"


def test_a_declared_charset_is_honoured() -> None:
    doc = parse("caf\u00e9".encode("latin-1"), "menu.txt", "text/plain; charset=iso-8859-1")
    assert doc.sections[0].text == "caf\u00e9"


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"", "empty.txt"),
        (b"   \n\t\r\n  ", "blank.txt"),
        (b"\xef\xbb\xbf", "bom-only.txt"),
        (b"# Only\n## Headings\n", "headings.md"),
        (b"<html><head><title>T</title><script>var x = 1;</script></head><body> </body></html>", "page.html"),
        (b"WEBVTT\n\nNOTE nothing here\n", "empty.vtt"),
        (b"1\n00:00:01,000 --> 00:00:02,000\n\n", "no-text.srt"),
    ],
)
def test_empty_documents_are_refused(data: bytes, filename: str) -> None:
    assert refused(data, filename).code == "empty_document"


def test_documents_over_the_size_limit_are_refused() -> None:
    with pytest.raises(DocumentError) as caught:
        parse_document(b"x" * 1001, filename="big.txt", content_type=None, max_bytes=1000)
    assert caught.value.code == "too_large"
    assert caught.value.http_status == 413


# -- Markdown ---------------------------------------------------------------------------

MARKDOWN = b"""---
title: "Learning notes"
tags: memory
---
Intro before any heading.

# Memory

How memory works.

## Forgetting curve

Memories fade.

```python
# not a heading: this is a comment in a code block

print("still code")
```

### Details

Fine print.

## Spacing

Review later.

Recall
======

Setext heading body.
"""


def test_markdown_sections_follow_the_heading_hierarchy() -> None:
    doc = parse(MARKDOWN, "notes.md")
    assert doc.format == "markdown"
    assert doc.title == "Learning notes"  # front matter beats the first h1
    assert doc.metadata["front_matter"] == {"title": "Learning notes", "tags": "memory"}
    assert [(s.heading_path, s.text.split("\n")[0]) for s in doc.sections] == [
        ([], "Intro before any heading."),
        (["Memory"], "How memory works."),
        (["Memory", "Forgetting curve"], "Memories fade."),
        (["Memory", "Forgetting curve", "Details"], "Fine print."),
        (["Memory", "Spacing"], "Review later."),
        (["Recall"], "Setext heading body."),
    ]


def test_markdown_code_blocks_stay_intact() -> None:
    doc = parse(MARKDOWN, "notes.md")
    curve = doc.sections[2].text
    code = '```python\n# not a heading: this is a comment in a code block\n\nprint("still code")\n```'
    assert code in curve


def test_markdown_title_falls_back_to_the_first_h1() -> None:
    doc = parse(b"Preface.\n\n# The title #\n\ntext\n\n# Second\n\nmore", "n.md")
    assert doc.title == "The title"
    assert [s.heading_path for s in doc.sections] == [[], ["The title"], ["Second"]]


# -- HTML -------------------------------------------------------------------------------

HTML = b"""<!DOCTYPE html>
<html><head><title>Study Guide</title><style>p { color: red }</style>
<script>alert("no")</script></head>
<body>
<nav><a href="/">Home</a> <a href="/about">About</a></nav>
<h1>Memory</h1>
<p>Memory fades <b>quickly</b>
   without review.</p>
<!-- a comment -->
<h2>Spacing</h2>
<ul><li>Day one</li><li>Day three</li></ul>
<pre>def review():

    pass</pre>
<table><tr><th>Interval</th><th>Days</th></tr><tr><td>second</td><td>3</td></tr></table>
<h2>Recall</h2>
<div>Close the book.<br>Write what you remember.</div>
<script>tracker()</script>
</body></html>
"""


def test_html_drops_scripts_styles_and_navigation_and_follows_headings() -> None:
    doc = parse(HTML, "guide.html")
    assert doc.format == "html"
    assert doc.title == "Study Guide"
    assert [s.heading_path for s in doc.sections] == [["Memory"], ["Memory", "Spacing"], ["Memory", "Recall"]]
    everything = "\n".join(s.text for s in doc.sections)
    for junk in ("alert", "color: red", "Home", "About", "tracker", "a comment"):
        assert junk not in everything
    assert doc.sections[0].text == "Memory fades quickly without review."
    spacing = doc.sections[1].text
    assert "- Day one\n\n- Day three" in spacing
    assert "```\ndef review():\n\n    pass\n```" in spacing
    assert "Interval | Days\nsecond | 3" in spacing
    assert doc.sections[2].text == "Close the book.\nWrite what you remember."


def test_html_title_falls_back_to_h1_and_prefers_main() -> None:
    page = b"<body><header>Site banner</header><main><h1>Notes</h1><p>Body.</p></main><footer>(c)</footer>"
    doc = parse(page, "x.html")
    assert doc.title == "Notes"
    assert [(s.heading_path, s.text) for s in doc.sections] == [(["Notes"], "Body.")]


# -- PDF --------------------------------------------------------------------------------


def test_pdf_gives_one_section_per_page_with_its_number() -> None:
    data = make_pdf(["First page about spacing.", "", "Third page about recall."], title="Study PDF")
    doc = parse(data, "study.pdf")
    assert doc.format == "pdf"
    assert doc.title == "Study PDF"
    assert doc.metadata["pages"] == 3
    assert [(s.page, s.text) for s in doc.sections] == [
        (1, "First page about spacing."),
        (3, "Third page about recall."),
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage without xref",
        b"this is not a pdf at all",
    ],
)
def test_corrupt_pdf_is_refused(data: bytes) -> None:
    assert refused(data, "broken.pdf").code == "corrupt_document"


def test_truncated_pdf_is_refused() -> None:
    data = make_pdf(["Some text that will be cut off."])
    assert refused(data[: len(data) // 3], "truncated.pdf").code == "corrupt_document"


def test_pdf_without_extractable_text_is_empty() -> None:
    error = refused(make_pdf(["", ""]), "scan.pdf")
    assert error.code == "empty_document"
    assert "2 pages" in error.message


# -- DOCX -------------------------------------------------------------------------------


def test_docx_headings_build_the_heading_path() -> None:
    doc = parse(make_docx(), "guide.docx")
    assert doc.format == "docx"
    assert doc.title == "Study guide"
    assert [(s.heading_path, s.text) for s in doc.sections] == [
        ([], "A short preface."),
        (["Memory"], "Memory fades unless reviewed."),
        (
            ["Memory", "Spacing"],
            "Review after one day, then three.\n\n- Use flashcards\n\nInterval | Days\nsecond review | 3",
        ),
        (["Recall"], "Test yourself."),
    ]


def test_corrupt_docx_is_refused() -> None:
    data = make_docx()
    assert refused(data[: len(data) // 2], "guide.docx").code == "corrupt_document"

    broken = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            content = source.read(item)
            if item.filename == "word/document.xml":
                content = b"<w:document><unclosed"
            target.writestr(item, content)
    assert refused(broken.getvalue(), "guide.docx").code == "corrupt_document"


def test_docx_that_inflates_past_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formats_office, "DOCX_MAX_INFLATED_BYTES", 1_000_000)
    bomb = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(make_docx())) as source,
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            target.writestr(item, source.read(item))
        target.writestr("word/media/padding.bin", b"\x00" * 3_000_000)
    assert len(bomb.getvalue()) < 100_000
    assert refused(bomb.getvalue(), "guide.docx").code == "too_large"


# -- transcripts ------------------------------------------------------------------------

SRT = b"""1
00:00:01,000 --> 00:00:03,500
Welcome to the lecture.

2
00:00:04,000 --> 00:00:07,250 X1:10 X2:100 Y1:10 Y2:50
<i>Today</i> we talk
about <b>memory</b> &amp; recall.

00:01:02,5 --> 01:00:00,000
{\\an8}A cue without an index.
"""

VTT = b"""WEBVTT - Lecture 3
Kind: captions

STYLE
::cue { color: yellow }

NOTE This is a comment
that spans two lines

intro
00:01.000 --> 00:03.500 align:start position:10%
<v Ana>Welcome back.

NOTE another comment

00:00:04.000 --> 00:00:06.000
<c.highlight>Spacing</c> <00:00:05.000>works
across lines.

1:02:03.004 --> 1:02:05.000 line:0
Late cue.
"""


def test_srt_gives_one_section_per_cue_with_times() -> None:
    doc = parse(SRT, "lecture.srt")
    assert doc.format == "srt"
    assert [(s.start_s, s.end_s, s.text) for s in doc.sections] == [
        (1.0, 3.5, "Welcome to the lecture."),
        (4.0, 7.25, "Today we talk about memory & recall."),
        (62.5, 3600.0, "A cue without an index."),
    ]
    assert doc.metadata["cues"] == 3 and doc.metadata["duration_s"] == 3600.0


def test_vtt_skips_notes_and_styles_and_reads_cue_settings_and_voices() -> None:
    doc = parse(VTT, "lecture.vtt")
    assert doc.format == "vtt"
    assert doc.metadata["header"] == "- Lecture 3"
    assert [(s.start_s, s.end_s, s.text) for s in doc.sections] == [
        (1.0, 3.5, "Ana: Welcome back."),
        (4.0, 6.0, "Spacing works across lines."),
        (3723.004, 3725.0, "Late cue."),
    ]


def test_vtt_cue_right_after_the_header_is_read() -> None:
    data = (
        b"WEBVTT\nKind: captions\n00:00.500 --> 00:02.000\nNo blank line.\n\n00:03.000 --> 00:04.000\nNext."
    )
    doc = parse(data)
    assert [(s.start_s, s.text) for s in doc.sections] == [(0.5, "No blank line."), (3.0, "Next.")]


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"1\n00:00:01,000 --> 00:00:0x,000\nBad time.\n", "bad.srt"),
        (b"1\n00:00:01,000 -> 00:00:02,000\nNo arrow.\n", "bad.srt"),
        (b"1\n00:00:05,000 --> 00:00:02,000\nBackwards.\n", "bad.srt"),
        (b"1\n00:61:00,000 --> 00:62:00,000\nNo such minute.\n", "bad.srt"),
        (b"Just prose that is not a subtitle file.\n", "bad.srt"),
        (b"WEBVTT\n\n00:01.000 --> later\nBad.\n", "bad.vtt"),
        (b"00:01.000 --> 00:02.000\nNo header.\n", "bad.vtt"),
    ],
)
def test_malformed_transcripts_are_corrupt(data: bytes, filename: str) -> None:
    assert refused(data, filename).code == "corrupt_document"


# -- the bundled demo corpus ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("spaced-repetition.md", "markdown"),
        ("active-recall.md", "markdown"),
        ("feynman-technique.md", "markdown"),
        ("lecture-memory.srt", "srt"),
        ("study-skills.pdf", "pdf"),
    ],
)
def test_the_sample_corpus_parses(name: str, fmt: str) -> None:
    doc = parse((SAMPLES / name).read_bytes(), name)
    assert doc.format == fmt
    assert sum(len(s.text.split()) for s in doc.sections) > 250
    if fmt == "srt":
        assert len(doc.sections) >= 25
    if fmt == "pdf":
        assert [s.page for s in doc.sections] == [1, 2]
