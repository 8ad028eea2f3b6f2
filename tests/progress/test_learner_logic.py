"""The deterministic parts, without the stack: BKT, FSRS reviews, streaks, the evidence check,
windows and the merge of window answers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from core.progress.learner_model import BKTParameters, bkt_update, is_correct, new_card, review
from db.progress import count_streak
from tasks.profile_ingest.evidence import Source
from tasks.profile_ingest.merge import Merged, windows
from tasks.profile_ingest.spec import Extraction

PARAMS = BKTParameters(prior=0.3, learn=0.1, guess=0.2, slip=0.1)


def test_bkt_follows_the_textbook_update():
    # Correct: P(L|c) = .3*.9 / (.3*.9 + .7*.2) = .6585; then + (1-.6585)*.1 = .6927
    assert bkt_update(0.3, True, PARAMS) == pytest.approx(0.69268, abs=1e-4)
    # Wrong: P(L|w) = .3*.1 / (.3*.1 + .7*.8) = .0508; then + (1-.0508)*.1 = .1458
    assert bkt_update(0.3, False, PARAMS) == pytest.approx(0.14576, abs=1e-4)
    p = 0.3
    for _ in range(10):
        p = bkt_update(p, True, PARAMS)
    assert p > 0.99


def test_a_score_counts_as_correct_from_0_6():
    assert is_correct(0.6) and is_correct(None) and not is_correct(0.59)


def test_fsrs_spaces_reviews_out_after_correct_answers():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    card, due_wrong = review(new_card(), False, now)
    card_ok, due_ok = review(new_card(), True, now)
    assert due_wrong < due_ok
    later = due_ok
    for step in range(4):
        card_ok, later_due = review(card_ok, True, later)
        assert later_due - later >= timedelta(minutes=1), step
        later = later_due
    assert later - now > timedelta(days=3)


def test_streaks():
    today = date(2026, 11, 22)
    day = timedelta(days=1)
    assert count_streak([], today) == 0
    assert count_streak([today, today - day, today - 2 * day, today - 4 * day], today) == 3
    assert count_streak([today - day, today - 2 * day], today) == 2  # today is not over yet
    assert count_streak([today - 2 * day], today) == 0


SOURCE = "I’ve been coding in Python since 2019 — mostly data pipelines. I want to learn Rust."


@pytest.mark.parametrize(
    ("name", "quote", "supported"),
    [
        ("Python", "I've been coding in Python since 2019", True),  # typographic apostrophe, dash
        ("Python", "ive been  coding in python since 2019!", True),  # case, spacing, punctuation
        ("Rust", "I want to learn Rust", True),
        ("Go", "I have shipped Go services", False),  # not in the source
        ("Kubernetes", "I want to learn Rust", False),  # a real quote, an invented name
        ("Python", "Python", False),  # too short to prove anything
        ("Python", "in Python since", True),
        ("Python", "coding in Python", True),
        ("Python", "Python since", False),  # a name and a word: says nothing
        ("Python", "", False),
    ],
)
def test_evidence_must_be_in_the_source(name: str, quote: str, supported: bool):
    assert Source(SOURCE, min_score=90).supports(name, quote) is supported


def test_windows_cover_everything_with_a_small_overlap():
    text = " ".join(f"w{i}" for i in range(250))
    pieces = list(windows(text, words=100))
    assert len(pieces) == 3
    assert pieces[0].split()[-1] == "w99" and pieces[1].split()[0] == "w90"
    assert pieces[-1].split()[-1] == "w249"
    assert list(windows("short text", words=100)) == ["short text"]


def test_the_merge_unions_by_name_and_keeps_the_longest_supported_bio():
    merged = Merged()
    first = "Ana teaches Chemistry. She wants to learn the cello."
    second = "Ana teaches chemistry and directs the school choir for fun."
    merged.add(
        Extraction.model_validate(
            {
                "bio": "A teacher.",
                "bio_evidence": "Ana teaches Chemistry",
                "level": "advanced",
                "skills": [
                    {"name": "Chemistry", "level": "intermediate", "evidence": "Ana teaches Chemistry"}
                ],
                "goals": [{"name": "learn the cello", "evidence": "She wants to learn the cello"}],
            }
        ),
        Source(first, min_score=90),
    )
    merged.add(
        Extraction.model_validate(
            {
                "bio": "A chemistry teacher who directs the school choir.",
                "bio_evidence": "directs the school choir",
                "level": "advanced",
                "skills": [
                    {"name": "chemistry", "level": "advanced", "evidence": "Ana teaches chemistry"},
                    {"name": "choir direction", "evidence": "Ana teaches chemistry"},
                ],
                "interests": [{"name": "choir", "evidence": "directs the school choir for fun"}],
            }
        ),
        Source(second, min_score=90),
    )
    fields = merged.fields("ana")
    assert fields["skills"] == [{"name": "Chemistry", "level": "advanced"}]
    assert fields["bio"] == "A chemistry teacher who directs the school choir."
    assert fields["goals"] == ["learn the cello"] and fields["interests"] == ["choir"]
    assert fields["level"] == "advanced"
    assert [d.name for d in merged.dropped] == ["choir direction"]
    assert "display_name" not in fields  # none found: the learner's own stays
    assert fields["wiki_content"].startswith("# ana\n") and "- Chemistry (advanced)" in fields["wiki_content"]
