"""What a model's draft stands for, before it is cut into sentences (grounded_answer.readable_draft):
the demo's glued sentences and JSON blobs, and what a hostile or broken model can send."""

from __future__ import annotations

import json

import pytest

from tasks.ask.grounded_answer import readable_draft, split_sentences


def test_literal_line_breaks_become_sentence_ends_outside_code():
    draft = "A session lasts twenty minutes [1].\\nIt's like a mirror.\\nUse `print('a\\nb')` to try it."
    text = readable_draft(draft)
    assert [sentence for sentence, _ in split_sentences(text)] == [
        "A session lasts twenty minutes.",
        "It's like a mirror.",
        "Use `print('a\\nb')` to try it.",
    ]


@pytest.mark.parametrize(
    ("draft", "expected"),
    [
        (json.dumps("It is X.\nY is Z."), "It is X.\nY is Z."),
        (json.dumps({"answer": "Spaced review works [1]."}), "Spaced review works [1]."),
        (json.dumps({"response": "Spaced review works."}), "Spaced review works."),
        ("[1] says spaced review works.", "[1] says spaced review works."),
        (
            '"Spaced repetition" means reviewing at intervals.',
            '"Spaced repetition" means reviewing at intervals.',
        ),
    ],
)
def test_an_answer_wrapped_in_json_or_starting_like_it_is_read_as_text(draft: str, expected: str):
    assert readable_draft(draft) == expected


@pytest.mark.parametrize(
    "draft",
    [
        json.dumps({"learner": {"level": None}, "skills": [{"title": "x"}]}),  # the demo's tutor blob
        '{"learner": {"level": null}, "skills": [',  # cut off mid-object
        json.dumps(["a", "b"]),
        json.dumps(json.dumps({"answer": "nested"})),  # JSON inside JSON
        '{"a":' * 5000,  # deeper than the parser goes
    ],
)
def test_data_that_is_not_an_answer_is_refused(draft: str):
    assert readable_draft(draft) is None


def test_a_bracket_flood_is_text_not_a_crash():
    assert readable_draft("[" * 100_000) == "[" * 100_000
