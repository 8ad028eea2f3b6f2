"""GIFT questions nobody here wrote (GIFT-grammar-PEG.js's test questions, MIT; data/gift_pegjs/README.md):
each reads as Moodle reads it, only category lines are refused, and every one exports and reads back
the same."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from core.exercises.gift import GiftQuestion, parse
from core.exercises.gift_export import format_question

CORPUS = Path(__file__).parent / "data" / "gift_pegjs"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())
FILES = sorted(CORPUS.glob("*.gift"))
READ = {path.name: parse(path.read_text()) for path in FILES}
QUESTIONS = [(name, question) for name, (questions, _) in READ.items() for question in questions]


def test_every_question_reads_as_moodle_reads_it():
    got = []
    for name, (questions, skipped) in READ.items():
        entries = [
            {"line": q.line, "type": q.exercise_type, "draft": q.draft.model_dump(exclude_defaults=True)}
            for q in questions
        ]
        entries += [{"line": s.line, "title": s.title, "refused": s.reason} for s in skipped]
        got += [{"file": name, **entry} for entry in sorted(entries, key=lambda entry: entry["line"])]
    assert len(got) == len(EXPECTED) == 102
    for expected, actual in zip(EXPECTED, got, strict=True):
        assert actual == expected


def test_only_category_lines_are_refused_and_every_type_is_there():
    refused = [s.reason for _, skipped in READ.values() for s in skipped]
    assert refused == ["a category line ($CATEGORY: a question bank folder), not a question"] * 2
    types = Counter(question.exercise_type for _, question in QUESTIONS)
    assert (types["essay"], types["description"], types["matching"], types["multiple_answer"]) == (8, 7, 4, 4)
    options = {len(q.draft.choices) for _, q in QUESTIONS if q.exercise_type == "multiple_choice"}
    assert {2, 7} <= options


@pytest.mark.parametrize(
    ("name", "question"), QUESTIONS, ids=lambda v: v if isinstance(v, str) else f"{v.line}"
)
def test_every_question_exports_and_reads_back_the_same(name: str, question: GiftQuestion):
    written = format_question(question.exercise_type, question.draft)
    (again,), skipped = parse(written)
    assert not skipped, written
    assert (again.exercise_type, again.draft) == (question.exercise_type, question.draft), written
    assert format_question(again.exercise_type, again.draft) == written  # a fixed point
