"""Citations that agree, not just resemble: the labelled set (benchmarks/data/citation_claims.json)
through the checker's own rule (the real embedding model, then the agreement rules), and the issue's
cases through the real `check()` of an ask job on the stack."""

from __future__ import annotations

import importlib.util
import json
import re
import uuid
from collections import Counter
from pathlib import Path

import pytest

from core.settings import get_settings
from tasks.ask.grounded_answer import Passage, Support, judge, support_matrix
from tests.ask.test_ask import ask
from tests.conftest import ApiClient
from tests.documents.test_api import ingest
from tests.support.fake_ollama import FakeOllama
from workers.retrieval import Retrieved

REPO = Path(__file__).resolve().parents[2]
LABELS = json.loads((REPO / "benchmarks" / "data" / "citation_claims.json").read_text())
SAMPLES = REPO / "samples" / "knowledge"
KINDS = ("faithful", "negated", "changed_number", "swapped_entity", "wrong_passage")


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def sample_text(document: str) -> str:
    """A sample document's words as a reader sees them (the PDF's from the script that writes it)."""
    path = SAMPLES / document
    if path.suffix == ".pdf":
        spec = importlib.util.spec_from_file_location("make_pdf", SAMPLES / "make_pdf.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return flat(" ".join(text for page in module.PAGES for _, text in page))
    if path.suffix == ".srt":
        lines = path.read_text().splitlines()
        return flat(" ".join(line for line in lines if line.strip() and not re.match(r"^\d+$|^\d\d:", line)))
    return flat(path.read_text())


def test_the_labelled_set_is_large_varied_and_verbatim_from_the_samples():
    claims = LABELS["claims"]
    assert len(claims) >= 60
    counts = Counter(claim["label"] for claim in claims)
    assert set(counts) == set(KINDS) and min(counts.values()) >= 10, counts
    assert all(c["expected"] == ("supported" if c["label"] == "faithful" else "unsupported") for c in claims)
    assert {p["document"] for p in LABELS["passages"].values()} == {
        "spaced-repetition.md",
        "active-recall.md",
        "feynman-technique.md",
        "lecture-memory.srt",
        "study-skills.pdf",
    }
    for name, passage in LABELS["passages"].items():
        assert flat(passage["text"]) in sample_text(passage["document"]), name
    assert all(claim["passage"] in LABELS["passages"] for claim in claims)
    # The known misses stay a minority of what must be caught.
    misses = sum(1 for claim in claims if claim.get("known_miss"))
    assert misses <= 0.2 * sum(1 for claim in claims if claim["expected"] == "unsupported")


def passage_for(name: str) -> Passage:
    """A labelled passage as a retrieved chunk, with a stable chunk id (its sentence vectors are kept)."""
    text = LABELS["passages"][name]["text"]
    chunk_id = uuid.uuid5(uuid.NAMESPACE_URL, f"citation-claims/{name}").int % 2**31
    return Passage(
        1, Retrieved(chunk_id, uuid.uuid4(), LABELS["passages"][name]["document"], text, "samples", 1.0)
    )


@pytest.fixture(scope="module")
def model() -> str:
    return get_settings().embed_model


def checked(model: str, sentence: str, passage: Passage):
    row = support_matrix([sentence], [passage], model=model)[0]
    return row[1], judge(sentence, [passage], row, [passage], threshold=get_settings().citation_min_support)


@pytest.mark.parametrize(
    "claim",
    [
        pytest.param(
            claim,
            id=f"{claim['label']}-{index}",
            marks=[pytest.mark.xfail(strict=True, reason=claim.get("note", "known miss"))]
            if claim.get("known_miss")
            else [],
        )
        for index, claim in enumerate(LABELS["claims"])
    ],
)
def test_each_labelled_sentence_gets_its_verdict(model: str, claim: dict):
    support, choice = checked(model, claim["sentence"], passage_for(claim["passage"]))
    assert choice.unsupported is (claim["expected"] == "unsupported"), (support.score, choice.disagrees)
    close = support.score >= get_settings().citation_min_support
    if close and choice.unsupported:  # similar enough: the reason is the rule that caught it
        assert choice.disagrees in ("negation", "antonym", "number", "unit", "entity", "hedge")


def test_similarity_alone_passes_what_the_agreement_rules_catch(model: str):
    """Why the rules exist: on the labelled set, most contradictions score above the threshold."""
    threshold = get_settings().citation_min_support
    slipped = 0
    for claim in LABELS["claims"]:
        if claim["label"] in ("negated", "changed_number") and not claim.get("known_miss"):
            support, choice = checked(model, claim["sentence"], passage_for(claim["passage"]))
            slipped += support.score >= threshold
            assert choice.unsupported
    assert slipped >= 25


def test_judge_moves_a_citation_to_the_passage_that_agrees_and_flags_one_none_agrees_with():
    """The rule alone, with the similarities given: both passages are close to the sentence."""
    old = Passage(1, Retrieved(1, uuid.uuid4(), "2023 policy", "Refunds are paid within 2 weeks.", "c", 1.0))
    new = Passage(2, Retrieved(2, uuid.uuid4(), "2024 policy", "Refunds are paid within 3 weeks.", "c", 1.0))
    row = {
        1: Support(0.97, "Refunds are paid within 2 weeks."),
        2: Support(0.95, "Refunds are paid within 3 weeks."),
    }
    choice = judge("Refunds are paid within three weeks.", [old], row, [old, new], threshold=0.5)
    assert [p.label for p, _ in choice.cited] == [2] and choice.by == "checker" and not choice.unsupported
    choice = judge("Refunds are paid within 2 weeks.", [old], row, [old, new], threshold=0.5)
    assert [p.label for p, _ in choice.cited] == [1] and choice.by == "model"
    choice = judge("Refunds are paid within 5 weeks.", [new], row, [old, new], threshold=0.5)
    assert choice.unsupported and choice.cited == [] and choice.disagrees == "number"
    # Far below the threshold: unsupported for want of similarity, no agreement asked.
    far = {1: Support(0.2, ""), 2: Support(0.1, "")}
    choice = judge("Refunds are paid within 5 weeks.", [new], far, [old, new], threshold=0.5)
    assert choice.unsupported and choice.disagrees is None


REFUNDS = """# Refunds

Refunds are paid within 3 weeks of the request, to the card used for the purchase.
Digital downloads are not refundable once opened, and boxes can be returned for free.

# Threads

The global interpreter lock (GIL) lets only one thread execute Python bytecode at a time.
Threads still help with I/O-bound work, because the GIL is released while a thread waits.
"""


def refund_library(client: ApiClient) -> str:
    collection = f"refunds-{uuid.uuid4().hex[:6]}"
    document = ingest(client, "policy.md", REFUNDS.encode(), collection=collection)
    assert document["status"] == "ready", document["error"]
    return collection


def test_the_issues_contradictions_are_unsupported_through_the_real_check(
    client: ApiClient, fake_ollama: FakeOllama
):
    collection = refund_library(client)
    question = f"How are refunds paid? {uuid.uuid4().hex[:6]}"
    fake_ollama.script(
        question,
        "Refunds are paid within 2 weeks of the request [1]. "
        "Digital downloads are refundable once opened [1]. "
        "Refunds are paid within three weeks, to the card used for the purchase [7].",
    )
    output = ask(client, question, collections=[collection])["output"]
    # The two that disagree are removed, counted by why; the true one stays.
    assert output["removed"] == {"number": 1, "negation": 1} and output["unsupported_sentences"] == 2
    assert "2 weeks" not in output["answer"] and "refundable once opened" not in output["answer"]
    # Cited to a passage the model was not shown, and true: the checker attributes the right one.
    [faithful] = output["sentences"]
    assert faithful["text"].startswith("Refunds are paid within three weeks")
    assert not faithful["unsupported"] and faithful["disagrees"] is None and faithful["markers"] == [1]
    [citation] = output["citations"]
    assert "3 weeks" in citation["quote"] and citation["attributed_by"] == "checker"
    assert output["grounded"] is True

    question = f"Does the GIL stop threads? {uuid.uuid4().hex[:6]}"
    fake_ollama.script(
        question,
        "The GIL lets only one thread execute Python bytecode at a time [1]. "
        "The GIL is not released while a thread waits [1]. "
        "The global interpreter lock allows many threads to execute Python bytecode at the same time [1].",
    )
    output = ask(client, question, collections=[collection])["output"]
    [one_thread] = output["sentences"]
    assert one_thread["text"].startswith("The GIL lets only one thread") and one_thread["markers"] == [1]
    assert output["removed"] == {"negation": 1, "number": 1}


def test_an_answer_whose_every_sentence_disagrees_stays_withheld(client: ApiClient, fake_ollama: FakeOllama):
    collection = refund_library(client)
    question = f"Can I get my money back? {uuid.uuid4().hex[:6]}"
    fake_ollama.script(
        question,
        "Refunds are paid within 2 weeks of the request [1]. "
        "Digital downloads are refundable once opened [1].",
    )
    output = ask(client, question, collections=[collection])["output"]
    assert output["grounded"] is False and output["withheld"] == "no_supported_sentence"
    assert output["citations"] == [] and "2 weeks" not in output["answer"]
