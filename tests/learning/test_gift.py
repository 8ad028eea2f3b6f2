"""The GIFT reader and writer, without the stack."""

from __future__ import annotations

import pytest

from core.gift import format_exercise, parse


def test_weights_feedback_escapes_and_format_tags_are_understood():
    (question,), skipped = parse("[markdown]What is 50\\% of 10\\{?\\} {=%100%5#right! ~%-50%10#no ~%0%50}")
    assert not skipped
    assert question.draft.prompt == "What is 50\\% of 10{?}"
    assert question.draft.choices == ["5", "10", "50"] and question.draft.answer == "5"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Write an essay. {}", "an essay question"),
        ("How many? {#4:1}", "a numeric question"),
        ("::T:: Pick {=a ~b =c}", "exactly one =right answer"),
        ("No braces here", "no answer block"),
        ("$CATEGORY: course/unit", "a category line"),
    ],
)
def test_what_cannot_be_graded_is_skipped_with_the_reason(text: str, reason: str):
    questions, (skipped,) = parse(text)
    assert not questions and reason in skipped.reason and skipped.line == 1


def test_a_written_question_reads_back_the_same():
    text = format_exercise(
        title="a: title",
        exercise_type="multiple_choice",
        prompt="x = {1}?",
        choices=["~a", "=b", "#c"],
        answer="=b",
    )
    (question,), _ = parse(text)
    assert (question.title, question.draft.prompt) == ("a: title", "x = {1}?")
    assert question.draft.choices == ["=b", "~a", "#c"] and question.draft.answer == "=b"
    with pytest.raises(ValueError, match="no GIFT form"):
        format_exercise(title="t", exercise_type="coding", prompt="p", choices=None, answer="")
