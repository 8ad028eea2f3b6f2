"""How a draft is cut into the sentences that are judged, and where each sits in the draft."""

from __future__ import annotations

from tasks.ask.grounded_answer import sentence_spans, split_sentences


def test_numbered_steps_are_the_sentences_they_are() -> None:
    draft = "To bake it:\n1. Preheat the oven. [1]\n2. Mix the flour and the eggs.\n10. Bake it for an hour."
    assert [text for text, _ in split_sentences(draft)] == [
        "To bake it:",
        "1. Preheat the oven.",
        "2. Mix the flour and the eggs.",
        "10. Bake it for an hour.",
    ]
    inline = "Do this: 1. Preheat the oven. 2. Mix the flour."
    assert [text for text, _ in split_sentences(inline)] == [
        "Do this: 1. Preheat the oven.",
        "2. Mix the flour.",
    ]


def test_each_sentence_knows_its_place_in_the_draft_markers_included() -> None:
    draft = "Refunds take three weeks [1]. They go to the card. [2][3] Why? Because.\nDone [1]"
    spans = sentence_spans(draft)
    assert [(text, numbers, draft[start:end]) for text, numbers, start, end in spans] == [
        ("Refunds take three weeks.", [1], "Refunds take three weeks [1]."),
        ("They go to the card.", [2, 3], "They go to the card. [2][3]"),
        ("Why?", [], "Why?"),
        ("Because.", [], "Because."),
        ("Done", [1], "Done [1]"),
    ]


def test_a_year_or_an_amount_at_a_sentence_end_still_ends_it() -> None:
    assert len(split_sentences("It was built in 1889. It is 330 m tall.")) == 2
