"""verify(): the support model on sentences whose answer is known, the non-claims it keeps, and
long sentences judged in parts (workers/support)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workers.support.model import support_model
from workers.support.verify import PART_WORDS, kind_of, parts, verify

PASSAGES = [
    "Refunds are paid within three weeks of the request. A refund is not available for courses "
    "finished more than half way.",
    "Marie Curie won the Nobel Prize in Physics in 1903 with Pierre Curie and Henri Becquerel. "
    "In 1911 she won the Nobel Prize in Chemistry alone.",
]


@pytest.mark.parametrize(
    "sentence",
    [
        "A refund is paid within three weeks of asking for it.",
        "Marie Curie received the 1911 Nobel Prize in Chemistry on her own.",
    ],
)
def test_a_sentence_the_passages_state_is_kept_and_rests_on_its_passage(sentence: str) -> None:
    (found,) = verify([sentence], PASSAGES)
    assert found.kind == "claim" and found.kept, found
    assert found.passages[0] == (0 if "refund" in sentence.lower() else 1)
    assert found.score >= 1 - support_model().threshold


@pytest.mark.parametrize(
    ("sentence", "reason"),
    [
        ("Refunds are paid within five weeks of the request.", "number"),
        ("Marie Curie won the Nobel Prize in Physics in 1905 with Pierre Curie.", "number"),
        ("A refund is available for courses finished more than half way.", "negation"),
        ("Refunds are not paid within three weeks of the request.", "negation"),
        ("The campus bookshop gives every learner a voucher each term.", "unsupported"),
        (
            "Refunds are paid by bank transfer through the registrar's office after a written appeal.",
            "unsupported",
        ),
        (
            "Marie Curie was born in Warsaw and studied at the Flying University before moving to France.",
            "unsupported",
        ),
    ],
)
def test_a_sentence_that_says_something_else_is_removed(sentence: str, reason: str) -> None:
    (found,) = verify([sentence], PASSAGES)
    assert found.kind == "claim" and not found.kept and found.reason == reason, found
    assert found.passages == []


@pytest.mark.parametrize(
    "sentence",
    [
        "Pierre Curie won the Nobel Prize in Chemistry alone in 1911.",  # who did it
        "Marie Curie won the Nobel Prize in Chemistry many times.",  # "alone" against "many times"
        # A few invented words in a sentence that restates the passage: clean LLM sentences add as many.
        "Marie Curie won the Nobel Prize in Physics for discovering radium and polonium in her laboratory.",
    ],
)
def test_what_the_check_cannot_see_roles_swapped_or_a_few_words_invented(sentence: str) -> None:
    """Known blind spots (docs/limits.md): all or most words are in the passages, so the model keeps
    these. The agreement rules that catch them on the team's own sentences removed paraphrases of
    real LLM answers nine times for each hallucination they caught (training/support_train.py's
    docstring). This test fails when the check learns them: then move them to the test above."""
    (found,) = verify([sentence], PASSAGES)
    assert found.kept


@pytest.mark.parametrize(
    ("sentence", "kind"),
    [
        ("Unable to answer based on given passages.", "refusal"),
        ("I can't answer that from these passages.", "refusal"),
        ("The passages do not mention the refund period for workshops.", "refusal"),
        ("What does a refund cover?", "question"),
        ("In short:", "connective"),
        ("document.write(` The first thing to do is to remember", "fragment"),
        ('{"answer": "Refunds', "fragment"),
        ("Refunds are paid within three weeks.", "claim"),
    ],
)
def test_what_is_not_a_claim_is_told_apart(sentence: str, kind: str) -> None:
    assert kind_of(sentence) == kind


def test_a_refusal_is_kept_as_a_non_claim_and_a_fragment_is_removed() -> None:
    refusal, fragment = verify(
        ["Unable to answer based on given passages.", "document.write(` Refunds are paid within three weeks"],
        PASSAGES,
    )
    assert refusal.kept and refusal.score is None and refusal.reason is None
    assert not fragment.kept and fragment.reason == "fragment"


def test_a_refusal_that_also_claims_is_judged_as_a_claim() -> None:
    sentence = (
        "The passages do not say it, but every course, however far along, can be refunded in full "
        "by writing to the registrar before the end of the term of study."
    )
    assert kind_of(sentence) == "claim"
    (found,) = verify([sentence], PASSAGES)
    assert not found.kept


def test_a_long_sentence_is_judged_in_parts_and_every_part_counts() -> None:
    supported = "Refunds are paid within three weeks of the request"
    invented = "and the campus bookshop gives every learner a voucher each term"
    long = ", ".join([supported] * 6) + "."  # 54 words: judged clause by clause
    pieces = parts(long)
    assert len(pieces) == 6 and all(len(p.split()) <= PART_WORDS for p in pieces)
    assert " ".join(pieces).split() == long.split()  # nothing cut away
    assert verify([long], PASSAGES)[0].kept
    (found,) = verify([f"{long[:-1]}, {invented}."], PASSAGES)
    assert not found.kept  # the invented tail is judged on its own, not diluted by the rest
    unbroken = " ".join(["refunds are paid within three weeks"] * 20)  # no comma: cut every 40 words
    assert [len(p.split()) for p in parts(unbroken)] == [40, 40, 40]
    assert parts("short, and then, a clause") == ["short, and then, a clause"]
    assert parts("short, and then, a clause") == ["short, and then, a clause"]


def test_no_passages_support_nothing() -> None:
    (found,) = verify(["Refunds are paid within three weeks of the request."], [])
    assert not found.kept and found.reason == "unsupported"


LABELLED = Path(__file__).parents[2] / "benchmarks" / "data" / "citation_claims.json"


def test_the_labelled_set_precision_and_recall_of_unsupported() -> None:
    """The project's own labelled sentences (benchmarks.citations reports them in full): the model
    must keep doing as well as when it was trained (a regression in the model or in the evidence it
    is shown fails here)."""
    data = json.loads(LABELLED.read_text())
    sentences = data["claims"]
    flags = [
        not verify([entry["sentence"]], [data["passages"][entry["passage"]]["text"]])[0].kept
        for entry in sentences
    ]
    expected = [entry["expected"] == "unsupported" for entry in sentences]
    true_flags = sum(f and e for f, e in zip(flags, expected, strict=True))
    precision = true_flags / max(sum(flags), 1)
    recall = true_flags / sum(expected)
    assert precision >= PRECISION_FLOOR and recall >= RECALL_FLOOR, (precision, recall)


# Measured when the model was trained: precision 0.95, recall 0.57 (the team's sentences change a
# number, a negation or a name and keep every other word; a swapped name is what the check cannot
# see, docs/limits.md).
PRECISION_FLOOR = 0.9
RECALL_FLOOR = 0.5
