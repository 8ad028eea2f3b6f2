"""A match's reports hold whatever a target, a CV, a profile or a model wrote: issue 42's probe made
the PDF fail in fpdf2 (a skill name of 94 newlines or form feeds: "row too high") and passed
bidirectional overrides, zero-width and control characters and a bare `www.` link into the Markdown.

Attacked here as an attacker would: the probe's reproductions through the real stack and the real
renderers, hypothesis over arbitrary Unicode in every text field of a report (it always renders
with nothing invisible and no markup of theirs, or raises the coded error), a font whose glyph no
cell can hold (the coded 500, not a bare one), and a target's title and text cleaned at the door."""

from __future__ import annotations

import json
import subprocess
import unicodedata
from pathlib import Path

import httpx
import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from core.matches import report
from tests.conftest import ApiClient
from tests.matches.test_matches import TARGET, requirements_answer, start_match
from tests.profiles.support import wait_job
from tests.support.fake_ollama import FakeOllama
from tests.support.stack import Stack

# GitHub's dialect as far as CommonMark parsers here go: tables and strikethrough.
PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
MARKUP = {"link_open", "image", "html_inline", "html_block", "em_open", "s_open", "hr", "blockquote_open"}
MARKUP |= {"fence", "code_block", "ordered_list_open", "heading_open"}
LINK_LIKE = ("://", "www.", "@")
LINE_BREAKS = ["\n", "\r", "\r\n", "\f", "\v", "\x85", "\u2028", "\u2029", "\x1c"]
INVISIBLE = [
    "\u202e",
    "\u202d",
    "\u2066",
    "\u2067",
    "\u2069",
    "\u200e",
    "\u200b",
    "\u200d",
    "\ufeff",
    "\u00ad",
]


def requirement(skill: str = "SQL", quote: str = "You must write SQL every day", **fields) -> dict:
    return {
        "index": 0,
        "skill": skill,
        "level": None,
        "importance": "must",
        "weight": 3,
        "status": "gap",
        "credit": 0.0,
        "because": "missing",
        "evidence": {"target_quote": quote, "candidate": None, "mastery": None},
        "corrected": [],
    } | fields


def detail(*requirements: dict, **fields) -> dict:
    return {
        "target_title": "Junior data engineer",
        "learner": "Ada",
        "candidate": "profile",
        "score": 0.0,
        "how_scored": "Each requirement earns a credit.",
        "requirements": list(requirements),
        "strengths": [r for r in requirements if r["status"] == "met"],
        "gaps": [r for r in requirements if r["status"] != "met"],
        "plan": [],
        "history": [],
    } | fields


def pdf_text(content: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(content)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True, text=True).stdout


def shown(character: str) -> bool:
    """Whether a report may carry this character: a newline of its own, or one a reader sees."""
    category = unicodedata.category(character)
    return character == "\n" or category not in ("Cc", "Cf", "Cs", "Zl", "Zp")


def assert_no_markup_of_theirs(markdown: str, report_detail: dict) -> None:
    """The Markdown's structure is the report's own: its headings, one table of five columns, its
    items, bold only where it puts it, code spans only around link-like words, nothing else."""
    assert all(shown(c) for c in markdown), [c for c in markdown if not shown(c)][:5]
    tokens = PARSER.parse(markdown)
    inline = [child for token in tokens if token.children for child in token.children]
    assert not [t.type for t in tokens + inline if t.type in MARKUP - {"heading_open"}]
    assert [t.tag for t in tokens if t.type == "heading_open"][:1] == ["h1"]
    assert sum(t.type == "heading_open" for t in tokens) == 5 + (len(report_detail["history"]) > 1)
    cells = [t for t in tokens if t.type in ("th_open", "td_open")]
    assert len(cells) == 5 * (1 + len(report_detail["requirements"]))
    plan = report_detail["plan"]
    items = len(report_detail["strengths"]) + len(report_detail["gaps"]) + len(plan)
    assert sum(t.type == "list_item_open" for t in tokens) >= items
    assert sum(t.type == "strong_open" for t in inline) == 1 + items
    for code in (t for t in inline if t.type == "code_inline"):
        assert any(mark in code.content.lower() for mark in LINK_LIKE), code.content


# --- the probe's reproductions -------------------------------------------------------------------


@pytest.mark.parametrize("separator", LINE_BREAKS, ids=repr)
def test_a_skill_name_of_many_line_breaks_renders_on_one_line(separator: str, tmp_path: Path):
    hostile = requirement(skill="S" + separator * 94 + "QL")
    report_detail = detail(hostile, plan=[])
    text = pdf_text(report.pdf(report_detail), tmp_path)
    assert "S QL" in text
    markdown = report.markdown(report_detail)
    assert "| S QL | must | 3 | missing | 0 |" in markdown
    assert_no_markup_of_theirs(markdown, report_detail)


def test_a_long_unbroken_name_and_quote_are_laid_out_and_cut(tmp_path: Path):
    hostile = requirement(skill="x" * 5_000, quote="y" * 20_000, level="z" * 3_000)
    report_detail = detail(hostile, target_title="t" * 3_000, learner="李" * 3_000)
    text = pdf_text(report.pdf(report_detail), tmp_path).replace("\n", "")
    assert "x" * report.NAME not in text and "x" * 60 in text and "…" in text
    assert "李" * 60 in text and "李" * (report.NAME + 1) not in text


def test_invisible_and_control_characters_never_reach_a_report(tmp_path: Path):
    title = "Role" + "".join(INVISIBLE) + "\x1b[31m\x07 end"
    hostile = requirement(
        skill="S\u202eLQ\u2066 x\u200by\x08", quote="You must\u2069 write SQL\x00 every day"
    )
    report_detail = detail(hostile, target_title=title, learner="A\u202eda")
    markdown = report.markdown(report_detail)
    assert markdown.startswith("# Role\\[31m end\n") and "Learner: Ada" in markdown
    assert "SLQ xy" in markdown and '"You must write SQL every day"' in markdown
    assert_no_markup_of_theirs(markdown, report_detail)
    text = pdf_text(report.pdf(report_detail), tmp_path)
    assert "Role[31m end" in text and "SLQ xy" in text
    assert not any(c in text for c in INVISIBLE)


def test_a_link_or_markup_in_their_text_stays_text():
    quote = "Apply at www.evil.example, https://evil.example/x or jobs@evil.example; see main.py"
    hostile = requirement(
        skill="**SQL** _x_ ~~y~~ `z` $a$ :warning: &lt;b&gt; <i> [l](u) ![i](u) | #",
        quote=quote,
        level="<script>",
    )
    plan = [
        {
            "skill": "[click](javascript:alert(1))",
            "closed": False,
            "recommendation": "See WWW.EVIL.EXAMPLE now",
            "resources_job": {"result": {"documents": [{"title": "<img src=x onerror=alert(1)>"}]}},
            "exercise_job": {"result": {"title": "ftp://evil.example", "topic": "x"}},
        }
    ]
    report_detail = detail(hostile, plan=plan)
    markdown = report.markdown(report_detail)
    assert_no_markup_of_theirs(markdown, report_detail)
    assert "`www.evil.example,`" in markdown and "`https://evil.example/x`" in markdown
    assert "`jobs@evil.example;`" in markdown and "main\\.py" in markdown and "`WWW.EVIL.EXAMPLE`" in markdown
    assert (
        r"\*\*SQL\*\* \_x\_ \~\~y\~\~ \`z\` \$a\$ \:warning: \&lt;b\&gt; \<i\> \[l\](u) \!\[i\](u) \| \#"
        in markdown
    )
    rendered = PARSER.render(markdown)
    assert "<a " not in rendered and "<img" not in rendered and "<script" not in rendered


def test_html_links_and_images_in_their_text_show_as_written():
    hostile = (
        "Know <script>alert(1)</script> and [click](http://evil.example) | ![x](http://evil.example/x.png)"
    )
    report_detail = detail(
        requirement(skill="SQL <b>", quote=hostile),
        target_title="# Role\n\n<img src=x onerror=alert(1)>",
        learner="Ada *bold*",
    )
    text = report.markdown(report_detail)
    assert_no_markup_of_theirs(text, report_detail)
    # No raw HTML: every "<" of theirs is backslash-escaped; a link or an image is a code span.
    assert r"\<script\>alert(1)\</script\>" in text
    assert "`[click](http://evil.example)`" in text and "`![x](http://evil.example/x.png)`" in text
    assert text.startswith(r"# \# Role \<img src=x onerror=alert(1)\>") and r"Ada \*bold\*" in text
    row = next(line for line in text.splitlines() if line.startswith("| SQL"))
    assert row.count(" | ") == 4 and r"SQL \<b\>" in row


# --- hypothesis: anything in any text field -------------------------------------------------------

NASTY = [*LINE_BREAKS, *INVISIBLE, "\t", "\x00", "\x1b", "\u0301", "\ud800", "\ufffe", "\U0010ffff"]
NASTY += ["‱", "﷽", "𒐫", "李", "👍🏽", "مرحبا", "www.", "http://", "a@b.co", ".py", "10:30", ":ok:"]
NASTY += list("[]()*_`<>|#!&~$:\\ ") + ["x" * 80]
TEXT = st.one_of(
    st.text(max_size=30),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=300),
    st.lists(st.sampled_from(NASTY), max_size=120).map("".join),
    st.builds(lambda piece, count: piece * count, st.sampled_from(NASTY), st.integers(1, 2_000)),
)
MAYBE_TEXT = st.none() | TEXT
CANDIDATE = st.none() | st.fixed_dictionaries(
    {"name": TEXT, "level": MAYBE_TEXT, "quote": MAYBE_TEXT, "revision": st.integers(1, 9) | TEXT}
)
MASTERY = st.none() | st.fixed_dictionaries({"p_known": st.floats(0, 1), "events": st.integers(0, 10_000)})
REQUIREMENT = st.fixed_dictionaries(
    {
        "index": st.integers(0, 60),
        "skill": TEXT,
        "level": MAYBE_TEXT,
        "importance": st.sampled_from(["must", "nice"]) | TEXT,
        "weight": st.integers(0, 3),
        "status": st.sampled_from(["met", "partial", "gap"]) | TEXT,
        "credit": st.floats(0, 1),
        "because": TEXT,
        "evidence": st.fixed_dictionaries({"target_quote": TEXT, "candidate": CANDIDATE, "mastery": MASTERY}),
        "corrected": st.lists(TEXT, max_size=2),
    }
)
DOCUMENTS = st.lists(st.fixed_dictionaries({"title": TEXT}), max_size=2)
PLAN_ITEM = st.fixed_dictionaries(
    {
        "skill": TEXT,
        "closed": st.booleans(),
        "recommendation": TEXT,
        "resources_job": st.none()
        | st.fixed_dictionaries({"result": st.fixed_dictionaries({"documents": DOCUMENTS})}),
        "exercise_job": st.none()
        | st.fixed_dictionaries({"result": st.fixed_dictionaries({"title": MAYBE_TEXT, "topic": TEXT})}),
    }
)
SCORE_POINT = st.fixed_dictionaries({"at": TEXT, "score": st.floats(0, 100), "reason": TEXT})


@st.composite
def details(draw) -> dict:
    requirements = draw(st.lists(REQUIREMENT, max_size=4))
    return detail(
        *requirements,
        target_title=draw(TEXT),
        learner=draw(MAYBE_TEXT),
        candidate=draw(TEXT),
        score=draw(st.none() | st.floats(0, 100)),
        how_scored=draw(TEXT),
        plan=draw(st.lists(PLAN_ITEM, max_size=3)),
        history=draw(st.lists(SCORE_POINT, max_size=3)),
    )


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(details())
def test_the_markdown_report_of_anything_shows_it_as_text(report_detail: dict):
    assert_no_markup_of_theirs(report.markdown(report_detail), report_detail)


@settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(details())
def test_the_pdf_report_of_anything_renders_or_raises_the_coded_error(report_detail: dict):
    try:
        content = report.pdf(report_detail)
    except report.ReportUnrenderable:
        return
    assert content.startswith(b"%PDF-") and content.rstrip().endswith(b"%%EOF")


# --- through the API ------------------------------------------------------------------------------


def test_the_probes_match_report_is_served_in_every_form(
    client: ApiClient, fake_ollama: FakeOllama, tmp_path: Path
):
    # Skill names the match job keeps (each names words of its quote, within the model's 100
    # characters); only stripped, they reached the reports with their breaks.
    answer = json.loads(requirements_answer())
    answer["requirements"][0]["skill"] = "SQL" + "\n" * 94 + "day"
    answer["requirements"][1]["skill"] = "Python" + "\f" * 80 + "\u202eexperience\u200b"
    created, _ = start_match(client, fake_ollama, json.dumps(answer))
    assert wait_job(client, created["job"]["id"])["status"] == "succeeded"
    skills = [r["skill"] for r in client.get(f"/api/matches/{created['id']}").json()["requirements"]]
    assert skills[:2] == [answer["requirements"][0]["skill"], answer["requirements"][1]["skill"]]
    pdf = client.get(f"/api/matches/{created['id']}/report.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf", pdf.text
    text = pdf_text(pdf.content, tmp_path)
    assert "SQL day" in text and "Python experience" in text
    markdown = client.get(f"/api/matches/{created['id']}/report.md").text
    assert "\n| SQL day (" in markdown and "\n| Python experience (" in markdown
    assert all(shown(c) for c in markdown)


def wide_glyph_font(path: Path, character: str) -> Path:
    """A real TrueType font whose `character` is 60 em wide, wider than any cell of the report."""
    builder = FontBuilder(1000, isTTF=True)
    names = [".notdef", "space", "box", "wide"]
    builder.setupGlyphOrder(names)
    printable = {code: "box" for code in range(0x21, 0x7F)}
    builder.setupCharacterMap(printable | {0x20: "space", ord(character): "wide"})
    pen = TTGlyphPen(None)
    pen.moveTo((0, 0)), pen.lineTo((0, 500)), pen.lineTo((400, 500)), pen.closePath()
    builder.setupGlyf(
        {
            ".notdef": TTGlyphPen(None).glyph(),
            "space": TTGlyphPen(None).glyph(),
            "box": pen.glyph(),
            "wide": pen.glyph(),
        }
    )
    builder.setupHorizontalMetrics(
        {".notdef": (500, 0), "space": (250, 0), "box": (500, 0), "wide": (60_000, 0)}
    )
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "Wide", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    builder.save(str(path))
    return path


def test_a_report_the_layout_refuses_is_a_coded_problem(
    client: ApiClient, fake_ollama: FakeOllama, stack: Stack, tmp_path: Path
):
    created, _ = start_match(client, fake_ollama)
    assert wait_job(client, created["job"]["id"])["status"] == "succeeded"
    font = wide_glyph_font(tmp_path / "wide.ttf", "Q")  # "SQL": every report of this target has one
    with (
        stack.extra_api(MENTORQ_REPORT_FONTS=json.dumps([str(font)])) as url,
        httpx.Client(base_url=url, headers=client.headers, timeout=60) as other_api,
    ):
        response = other_api.get(f"/api/matches/{created['id']}/report.pdf")
        assert response.status_code == 500, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "report_unrenderable"
        assert other_api.get(f"/api/matches/{created['id']}/report.md").status_code == 200


def test_a_targets_title_and_text_are_stored_clean(client: ApiClient):
    text = TARGET.format(marker="clean").replace("\n", "\r\n", 3).replace("Solid", "So\u200blid\u202e")
    created = client.post("/api/targets", json={"title": "Data\u202e\u2066 engineer\n\f\x1b x", "text": text})
    assert created.status_code == 201, created.text
    assert created.json()["title"] == "Data engineer x"
    assert created.json()["chars"] == len(text) - 3 - 2  # three CRs and two invisible characters
    for title in ("\u200b\u202e", "\n\f"):
        refused = client.post("/api/targets", json={"title": title, "text": "SQL"})
        assert refused.status_code == 422 and refused.json()["code"] == "validation_error", refused.text
    # A library document's title and text are copied clean too.
    document = client.post(
        "/v1/documents/text",
        json={"title": "Backend\u202e role\u200b", "text": "Backend role.\fYou must know SQL\u2066 well."},
    ).json()
    assert wait_job(client, document["job"]["id"])["status"] == "succeeded"
    copied = client.post("/api/targets", json={"document_id": document["document"]["id"]}).json()
    assert copied["title"] == "Backend role"
    assert copied["chars"] == len("Backend role.\nYou must know SQL well.")
