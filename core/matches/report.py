"""A match's report as Markdown and as PDF, both rendered from the one detail the JSON shows
(api/matches/service.py: match_detail, as JSON), so the three never disagree.

The PDF is fpdf2 with TrueType fonts, so names in any script the fonts cover print as written:
DejaVu Sans (Latin, Greek, Cyrillic, Hebrew, Arabic, …) and a CJK fallback (WenQuanYi Micro Hei)
by default, `MENTORQ_REPORT_FONTS` to choose others."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.settings import get_settings

STATUS_WORDS = {"met": "met", "partial": "partly met", "gap": "missing"}
Detail = dict[str, Any]  # a Detail as JSON


class ReportUnavailable(Exception):
    """No font of MENTORQ_REPORT_FONTS is installed on this host."""


def markdown(detail: Detail) -> str:
    lines = [
        f"# {_md(detail['target_title'])}",
        "",
        f"Learner: {_md(detail['learner'] or '—')}  ",
        f"Candidate: {detail['candidate']}  ",
        f"Score: **{_score(detail)}**",
        "",
        "## How the score was computed",
        "",
        detail["how_scored"],
        "",
        "| requirement | importance | weight | status | credit |",
        "|---|---|---|---|---|",
        *(
            f"| {_md(_named(r))} | {r['importance']} | {r['weight']} | "
            f"{STATUS_WORDS[r['status']]} | {r['credit']:g} |"
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
        lines.append(f"- **{_md(item['skill'])}** ({state}): {_md(item['recommendation'])}")
        for title in _resource_titles(item):
            lines.append(f"  - Read: {_md(title)}")
        exercise = (item["exercise_job"] or {}).get("result")
        if exercise:
            lines.append(f"  - Exercise: {_md(exercise.get('title') or exercise.get('topic'))}")
    if not detail["plan"]:
        lines.append("Nothing to plan.")
    if len(detail["history"]) > 1:
        lines += ["", "## Score history", ""]
        lines += [f"- {_when(p['at'])} {p['score']:g} ({p['reason']})" for p in detail["history"]]
    return "\n".join(lines) + "\n"


def _named(r: dict[str, Any]) -> str:
    return f"{r['skill']} ({r['level']})" if r["level"] else r["skill"]


def _when(at: str) -> str:
    return at[:16].replace("T", " ")


def _score(detail: Detail) -> str:
    return "—" if detail["score"] is None else f"{detail['score']:g} / 100"


# Markdown's active characters: a learner's or a model's text is shown as written, never as a
# link, an image, raw HTML or a table cell of its own (CommonMark backslash escapes).
_MARKDOWN_ACTIVE = re.compile(r"([\\`*_\[\]<>|#!])")


def _md(text: object) -> str:
    """Text from a target, a CV, a profile or a model, safe inside the report's Markdown."""
    return _MARKDOWN_ACTIVE.sub(r"\\\1", " ".join(str(text).split()))


def _evidence_lines(r: dict[str, Any], *, escape: Callable[[object], str] = _md, bold: str = "**") -> str:
    """A requirement with the evidence of both sides, as a Markdown item (escaped) or, for the PDF,
    as plain text (`escape=str`, no bold)."""
    have = r["evidence"]["candidate"]
    mastery = r["evidence"]["mastery"]
    quote = escape(r["evidence"]["target_quote"])
    parts = [f'- {bold}{escape(r["skill"])}{bold} ({STATUS_WORDS[r["status"]]}): the target says "{quote}"']
    if have and have.get("quote"):
        parts.append(f'; the CV says "{escape(have["quote"])}"')
    elif have:
        parts.append(f"; your profile (revision {have.get('revision')}) lists {escape(have['name'])}")
        if have.get("level"):
            parts.append(f" at {have['level']} level")
    if mastery:
        parts.append(f"; mastery {mastery['p_known']:.0%} over {mastery['events']} event(s)")
    return "".join(parts)


def _resource_titles(item) -> list[str]:
    result = (item["resources_job"] or {}).get("result") or {}
    return [document["title"] for document in result.get("documents", [])]


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
    """The report as a PDF (A4, one column), readable back as text."""
    fonts = _needed(_fonts(tuple(get_settings().report_fonts)), json.dumps(detail, ensure_ascii=False))
    # Imported here, not at the top: fpdf and Pillow weigh about 60 MB and half a second in every
    # API process, and only a PDF report needs them.
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos
    from fpdf.fonts import FontFace

    document = FPDF(format="A4")
    document.set_title(f"Match report: {detail['target_title']}")
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

    heading(detail["target_title"], 18)
    para(f"Learner: {detail['learner'] or '—'}    Candidate: {detail['candidate']}")
    heading(f"Score: {_score(detail)}", 16)
    heading("How the score was computed", 13)
    para(detail["how_scored"])
    document.ln(1)
    # Headings shaded, not bold: one regular face per font is all the report installs.
    headings = FontFace(emphasis="", fill_color=(225, 230, 240))
    with document.table(
        col_widths=(50, 20, 14, 22, 14), text_align="LEFT", line_height=5.5, headings_style=headings
    ) as table:
        table.row(("Requirement", "Importance", "Weight", "Status", "Credit"))
        for r in detail["requirements"]:
            skill = _named(r)
            table.row(
                (skill, r["importance"], str(r["weight"]), STATUS_WORDS[r["status"]], f"{r['credit']:g}")
            )
    for title, items, empty in (
        ("Strengths", detail["strengths"], "None yet."),
        ("Gaps", detail["gaps"], "None."),
    ):
        heading(title, 13)
        for r in items:
            para(_evidence_lines(r, escape=str, bold="")[2:])
        if not items:
            para(empty)
    heading("Plan", 13)
    for item in detail["plan"]:
        para(f"{item['skill']} ({'closed' if item['closed'] else 'open'}): {item['recommendation']}")
        for resource in _resource_titles(item):
            para(f"    Read: {resource}")
    if not detail["plan"]:
        para("Nothing to plan.")
    if len(detail["history"]) > 1:
        heading("Score history", 13)
        for point in detail["history"]:
            para(f"{_when(point['at'])}  {point['score']:g}  ({point['reason']})")
    return bytes(document.output())
