"""A match's report as Markdown and as PDF, both rendered from the one detail the JSON shows
(api/matches/service.py: match_detail, as JSON), so the three never disagree.

Every string of the detail is someone else's text (the target's, the CV's, the profile's, the
model's) and passes through core/matches/clean.py on its way in: one line, cut to a length
the layout holds, with nothing a renderer would act on. What fpdf2 still cannot lay out is
`ReportUnrenderable`, never a stray exception.

The PDF is fpdf2 with TrueType fonts, so names in any script the fonts cover print as written:
DejaVu Sans (Latin, Greek, Cyrillic, Hebrew, Arabic, …) and a CJK fallback (WenQuanYi Micro Hei)
by default, `MENTORQ_REPORT_FONTS` to choose others."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.matches import clean
from core.settings import get_settings

log = logging.getLogger(__name__)

STATUS_WORDS = {"met": "met", "partial": "partly met", "gap": "missing"}
Detail = dict[str, Any]  # a Detail as JSON
# The longest each kind of field is shown (characters). A table row must fit on one page: a name
# and its level in the 50 mm column, a word in a 20 mm one, in the widest glyphs of the default
# fonts (1.74 em, "‱"), take at most 20 lines, 110 mm.
TITLE, NAME, QUOTE, LINE, WORD = 200, 120, 600, 300, 20


class ReportUnavailable(Exception):
    """No font of MENTORQ_REPORT_FONTS is installed on this host."""


class ReportUnrenderable(Exception):
    """The PDF layout refused the report's text (fpdf2 raised): a coded error, never a bare 500."""


def _md(text: object, limit: int = LINE) -> str:
    """Text from a target, a CV, a profile or a model, safe inside the report's Markdown ("—" for
    none: "****" would be no bold)."""
    return clean.markdown(text, limit=limit) or "—"


def _plain(text: object, limit: int = LINE) -> str:
    """The same text for the PDF: one line, nothing invisible, cut to what the layout holds."""
    return clean.one_line(text, limit=limit) or "—"


def markdown(detail: Detail) -> str:
    """The report as Markdown: every string of theirs escaped, so it shows as written."""
    lines = [
        f"# {_md(detail['target_title'], TITLE)}",
        "",
        f"Learner: {_md(detail['learner'] or '—', NAME)}  ",
        f"Candidate: {_md(detail['candidate'], NAME)}  ",
        f"Score: **{_score(detail)}**",
        "",
        "## How the score was computed",
        "",
        _md(detail["how_scored"], QUOTE),
        "",
        "| requirement | importance | weight | status | credit |",
        "|---|---|---|---|---|",
        *(
            f"| {_named(r, _md)} | {_md(r['importance'], WORD)} | {r['weight']} | "
            f"{_md(_status(r), WORD)} | {r['credit']:g} |"
            for r in detail["requirements"]
        ),
        "",
        "## Strengths",
        "",
        *(_evidence_lines(r) for r in detail["strengths"]),
        *(["None yet."] if not detail["strengths"] else []),
        "",
        "## Gaps",
        "",
        *(_evidence_lines(r) for r in detail["gaps"]),
        *(["None."] if not detail["gaps"] else []),
        "",
        "## Plan",
        "",
    ]
    for item in detail["plan"]:
        state = "closed" if item["closed"] else "open"
        lines.append(f"- **{_md(item['skill'], NAME)}** ({state}): {_md(item['recommendation'])}")
        for title in _resource_titles(item):
            lines.append(f"  - Read: {_md(title)}")
        exercise = (item["exercise_job"] or {}).get("result")
        if exercise:
            lines.append(f"  - Exercise: {_md(exercise.get('title') or exercise.get('topic'))}")
    if not detail["plan"]:
        lines.append("Nothing to plan.")
    if len(detail["history"]) > 1:
        lines += ["", "## Score history", ""]
        lines += [
            f"- {_md(_when(p['at']), NAME)} {p['score']:g} ({_md(p['reason'], NAME)})"
            for p in detail["history"]
        ]
    return "\n".join(lines) + "\n"


def _named(r: dict[str, Any], escape: Callable[[object, int], str]) -> str:
    skill = escape(r["skill"], NAME)
    return f"{skill} ({escape(r['level'], WORD)})" if r["level"] else skill


def _status(r: dict[str, Any]) -> str:
    return STATUS_WORDS.get(r["status"], str(r["status"]))


def _when(at: object) -> str:
    return str(at)[:16].replace("T", " ")


def _score(detail: Detail) -> str:
    return "—" if detail["score"] is None else f"{detail['score']:g} / 100"


def _evidence_lines(
    r: dict[str, Any], *, escape: Callable[[object, int], str] = _md, bold: str = "**"
) -> str:
    """A requirement with the evidence of both sides, as a Markdown item (escaped) or, for the PDF,
    as plain text (`escape=_plain`, no bold)."""
    have = r["evidence"]["candidate"]
    mastery = r["evidence"]["mastery"]
    quote = escape(r["evidence"]["target_quote"], QUOTE)
    status = escape(_status(r), WORD)
    parts = [f'- {bold}{escape(r["skill"], NAME)}{bold} ({status}): the target says "{quote}"']
    if have and have.get("quote"):
        parts.append(f'; the CV says "{escape(have["quote"], QUOTE)}"')
    elif have:
        revision = escape(have.get("revision"), NAME)
        parts.append(f"; your profile (revision {revision}) lists {escape(have.get('name'), NAME)}")
        if have.get("level"):
            parts.append(f" at {escape(have['level'], WORD)} level")
    if mastery:
        parts.append(f"; mastery {mastery['p_known']:.0%} over {mastery['events']} event(s)")
    return "".join(parts)


def _resource_titles(item) -> list[object]:
    result = (item["resources_job"] or {}).get("result") or {}
    return [document.get("title") for document in result.get("documents", [])]


# --- PDF ----------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _fonts(paths: tuple[str, ...]) -> tuple[str, ...]:
    present = tuple(path for path in paths if Path(path).is_file())
    if not present:
        raise ReportUnavailable(f"no report font is installed (looked for {', '.join(paths)})")
    return present


@lru_cache(maxsize=8)
def _covered(path: str) -> frozenset[int]:
    """The code points a font has glyphs for (read once per process)."""
    from fontTools.ttLib import TTFont

    with TTFont(path, lazy=True, fontNumber=0) as font:
        return frozenset(font.getBestCmap())


def _needed(fonts: tuple[str, ...], text: str) -> list[str]:
    """The first font, and a fallback only when the text has a character the fonts before it lack:
    parsing a CJK font costs most of a report's time, and most reports need none."""
    missing = {ord(c) for c in text if not c.isspace()} - _covered(fonts[0])
    chosen = [fonts[0]]
    for path in fonts[1:]:
        if not missing:
            break
        if missing & _covered(path):
            chosen.append(path)
            missing -= _covered(path)
    return chosen


def pdf(detail: Detail) -> bytes:
    """The report as a PDF (A4, one column), readable back as text; `ReportUnrenderable` if fpdf2
    refuses its layout, `ReportUnavailable` without a font."""
    fonts = _needed(_fonts(tuple(get_settings().report_fonts)), json.dumps(detail, ensure_ascii=False))
    # Imported here, not at the top: fpdf and Pillow weigh about 60 MB and half a second in every
    # API process, and only a PDF report needs them.
    from fpdf.errors import FPDFException

    try:
        return _laid_out(detail, fonts)
    except (FPDFException, ValueError) as error:
        log.warning("match report could not be laid out: %s", error)
        raise ReportUnrenderable(f"the report's text could not be laid out as a PDF ({error})") from error


def _laid_out(detail: Detail, fonts: list[str]) -> bytes:
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos
    from fpdf.fonts import FontFace

    document = FPDF(format="A4")
    document.set_title(f"Match report: {_plain(detail['target_title'], TITLE)}")
    families = []
    for number, path in enumerate(fonts):
        family = f"font{number}"
        document.add_font(family, fname=path)
        families.append(family)
    document.set_font(families[0], size=11)
    if len(families) > 1:
        document.set_fallback_fonts(families[1:])
    document.add_page()
    width = document.epw

    def heading(text: str, size: int = 14) -> None:
        document.ln(2)
        document.set_font(size=size)
        document.multi_cell(width, 8, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        document.set_font(size=11)

    def para(text: str) -> None:
        document.multi_cell(width, 5.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    heading(_plain(detail["target_title"], TITLE), 18)
    para(
        f"Learner: {_plain(detail['learner'] or '—', NAME)}    Candidate: {_plain(detail['candidate'], NAME)}"
    )
    heading(f"Score: {_score(detail)}", 16)
    heading("How the score was computed", 13)
    para(_plain(detail["how_scored"], QUOTE))
    document.ln(1)
    # Headings shaded, not bold: one regular face per font is all the report installs.
    headings = FontFace(emphasis="", fill_color=(225, 230, 240))
    with document.table(
        col_widths=(50, 20, 14, 22, 14), text_align="LEFT", line_height=5.5, headings_style=headings
    ) as table:
        table.row(("Requirement", "Importance", "Weight", "Status", "Credit"))
        for r in detail["requirements"]:
            importance, status = _plain(r["importance"], WORD), _plain(_status(r), WORD)
            table.row((_named(r, _plain), importance, str(r["weight"]), status, f"{r['credit']:g}"))
    for title, items, empty in (
        ("Strengths", detail["strengths"], "None yet."),
        ("Gaps", detail["gaps"], "None."),
    ):
        heading(title, 13)
        for r in items:
            para(_evidence_lines(r, escape=_plain, bold="")[2:])
        if not items:
            para(empty)
    heading("Plan", 13)
    for item in detail["plan"]:
        state = "closed" if item["closed"] else "open"
        para(f"{_plain(item['skill'], NAME)} ({state}): {_plain(item['recommendation'])}")
        for resource in _resource_titles(item):
            para(f"    Read: {_plain(resource)}")
    if not detail["plan"]:
        para("Nothing to plan.")
    if len(detail["history"]) > 1:
        heading("Score history", 13)
        for point in detail["history"]:
            para(f"{_plain(_when(point['at']), NAME)}  {point['score']:g}  ({_plain(point['reason'], NAME)})")
    return bytes(document.output())
