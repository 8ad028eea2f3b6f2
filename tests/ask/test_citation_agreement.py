"""Citations that agree, not just resemble: the labelled set (benchmarks/data/citation_claims.json) is
what it says it is (tests/ask/test_verify.py holds the support model to it), and contradictions,
refusals and fragments go through the real `check()` of an ask job on the stack."""

from __future__ import annotations

import importlib.util
import json
import re
import uuid
from collections import Counter
from pathlib import Path

from tests.ask.test_ask import ask
from tests.conftest import ApiClient
from tests.documents.test_api import ingest
from tests.support.fake_ollama import FakeOllama

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
        "Each process on a multicore server gets its own interpreter and memory budget [1].",
    )
    output = ask(client, question, collections=[collection])["output"]
    [one_thread] = output["sentences"]
    assert one_thread["text"].startswith("The GIL lets only one thread") and one_thread["markers"] == [1]
    assert output["removed"] == {"negation": 1, "unsupported": 1}
    # Every sentence of the draft has its verdict, in order, with its place in the draft.
    verdicts = output["verdicts"]
    assert [v["kept"] for v in verdicts] == [True, False, False]
    assert [v["reason"] for v in verdicts] == [None, "negation", "unsupported"]
    for verdict in verdicts:
        assert output["draft"][verdict["start"] : verdict["end"]].startswith(verdict["text"][:-1])
        assert verdict["kind"] == "claim" and 0 <= verdict["score"] <= 1
    assert verdicts[0]["chunk_ids"] == [output["citations"][0]["chunk_id"]] and verdicts[1]["chunk_ids"] == []


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


def test_a_refusal_is_not_a_removed_claim_and_a_fragment_never_reaches_the_learner(
    client: ApiClient, fake_ollama: FakeOllama
):
    collection = refund_library(client)
    question = f"When are refunds paid? {uuid.uuid4().hex[:6]}"
    fake_ollama.script(
        question,
        "Refunds are paid within 3 weeks of the request [1].\n"
        "document.write(` Refunds are paid at once\n"
        "The passages do not say whether gift cards can be refunded.",
    )
    output = ask(client, question, collections=[collection])["output"]
    kinds = [(v["kind"], v["kept"], v["reason"]) for v in output["verdicts"]]
    assert kinds == [("claim", True, None), ("fragment", False, "fragment"), ("refusal", True, None)]
    assert output["removed"] == {"fragment": 1} and "document.write" not in output["answer"]
    assert "gift cards" in output["answer"] and output["grounded"] is True
