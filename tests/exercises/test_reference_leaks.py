"""The rule that keeps the reference answer out of what a learner reads, word by word (no stack)."""

from __future__ import annotations

import pytest

from core.exercises.reference_leaks import (
    hints_without_reference,
    names_reference,
    same_word,
    stem,
    telling_words,
    without_reference,
)


@pytest.mark.parametrize(
    ("word", "inflected"),
    [
        ("Mitochondria", "mitochondrion"),
        ("Mitochondria", "MITOCHONDRIAL"),
        ("photosynthesis", "photosynthetic"),
        ("virus", "viruses"),
        ("Éclair", "eclairs"),  # accents and case fold away
    ],
)
def test_inflections_and_accents_name_the_same_word(word: str, inflected: str):
    assert same_word(stem(word), stem(inflected))


@pytest.mark.parametrize(
    ("word", "other"), [("cell", "cello"), ("mitosis", "mitochondria"), ("ribosome", "mitochondria")]
)
def test_short_or_different_words_are_not_taken_for_each_other(word: str, other: str):
    assert not same_word(stem(word), stem(other))


def test_a_short_reference_is_named_by_any_one_of_its_words():
    telling = telling_words("Mitochondria", known="Which organelle is the powerhouse of the cell?")
    assert names_reference("The mitochondrion makes energy.", telling)
    assert not names_reference("Ribosomes make proteins.", telling)


def test_a_long_reference_is_named_by_two_of_its_telling_words_not_one():
    reference = "Spaced reviews over several days strengthen long-term memory retention"
    telling = telling_words(reference, known="Why practise?")
    assert len(telling) > 3
    assert not names_reference("Think about memory.", telling)  # one shared word is a topic
    assert names_reference("Spacing your reviews helps.", telling)  # two are the answer


def test_words_the_learner_already_had_tell_nothing():
    # "powerhouse" and "cell" are in the question: only "mitochondria" is telling.
    telling = telling_words(
        "the mitochondria, powerhouse of the cell", known="What is the powerhouse of the cell?"
    )
    assert telling == [stem("mitochondria")]
    assert without_reference(
        "The powerhouse of the cell is inside it. Mitochondria!",
        "the mitochondria, powerhouse of the cell",
        known="What is the powerhouse of the cell?",
    ) == ("The powerhouse of the cell is inside it.")
    # The learner's own answer counts as known: repeating their word back gives nothing away.
    assert without_reference("Ribosome is wrong.", "Ribosome", known="Ribosome") == "Ribosome is wrong."


def test_only_the_sentences_that_name_it_go_and_empty_hints_are_dropped():
    assert (
        without_reference("Close. It is the Mitochondrion. Try again!", "Mitochondria") == "Close. Try again!"
    )
    assert hints_without_reference(
        ["Mitochondria, obviously.", "Think about energy.", "It starts with mitochondri-. Look again."],
        "Mitochondria",
    ) == ["Think about energy.", "Look again."]


def test_a_reference_of_function_words_only_removes_nothing():
    assert without_reference("It is what it is.", "it is") == "It is what it is."
