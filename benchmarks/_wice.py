"""WiCE's claims checked as `ask` checks an answer sentence (benchmarks/data/wice/NOTICE.md says what
WiCE is and under which licences).

A claim's cited page becomes a document of the library would: its sentences joined into text, cut
into passages by the ingestion chunker, each passage carrying the page's opening lines as its head
(the title and first lines, as `grounded_answer.with_heads` gives a chunk). Every passage is
scored against the claim by the embedding model (`support_matrix`), the claim cites nothing, and
`judge()` chooses: a claim is flagged when it is left unsupported. One passage read alone and
similarity alone are measured beside it on the same scores.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from benchmarks._rules_checker import judge, one_passage
from tasks.ask.grounded_answer import HEAD_CHARS, Passage, support_matrix
from workers.documents.chunking import chunk_document
from workers.documents.formats_text import parse_text
from workers.retrieval import Retrieved
from workers.support.verify import verify

DATA = Path(__file__).with_name("data") / "wice"
LABELS = ("supported", "partially_supported", "not_supported")


@dataclass(frozen=True)
class Claim:
    text: str
    label: str
    evidence: list[str]  # the cited page, sentence by sentence; its first line the page's title


def load(split: str) -> list[Claim]:
    """The claims of one split (`dev` or `test`), in the file's order."""
    with gzip.open(DATA / f"{split}.jsonl.gz", "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    return [Claim(row["claim"], row["label"], row["evidence"]) for row in rows]


def passages(claim: Claim) -> list[Passage]:
    """The cited page as the library would hold it: chunks, each with the page's opening as head."""
    text = "\n\n".join(claim.evidence)
    chunks = chunk_document(parse_text(text.encode()))
    opening = text[:HEAD_CHARS]
    found = []
    for label, chunk in enumerate(chunks, start=1):
        # A stable id per chunk text: the checker keeps sentence vectors per chunk id.
        chunk_id = int(hashlib.sha1(chunk.text.encode()).hexdigest()[:12], 16) % 2**62
        title = claim.evidence[0][:120]
        retrieved = Retrieved(chunk_id, uuid.UUID(int=chunk_id), title, chunk.text, "wice", 1.0)
        head = "" if chunk.text.startswith(opening[:80]) else opening
        found.append(Passage(label, retrieved, head))
    return found


# The rules measured side by side on the same claims and the same similarities.
RULES = ("similarity only", "one passage, own text", "checker", "support model")


def verdicts(claim: Claim, *, model: str, threshold: float) -> dict[str, str | None]:
    """Per rule, why the claim is left unsupported ("similarity", a disagreement's reason) or None
    when it is supported: similarity alone; one passage read alone, without its document's opening
    (what the checker read before issue 42, with today's agreement rules); the checker (`judge`:
    one passage with its document's opening, else the closest few together)."""
    found = passages(claim)
    if not found:
        return dict.fromkeys(RULES, "no_text")
    row = support_matrix([claim.text], found, model=model)[0]
    best = max(support.score for support in row.values())
    before = [replace(passage, head="") for passage in found]
    (model,) = verify([claim.text], [passage.evidence for passage in found])
    return {
        "similarity only": "similarity" if best < threshold else None,
        "one passage, own text": _why(one_passage(claim.text, [], row, before, threshold=threshold)),
        "checker": _why(judge(claim.text, [], row, found, threshold=threshold)),
        "support model": model.reason,
    }


def _why(choice) -> str | None:
    return (choice.disagrees or "similarity") if choice.unsupported else None


def rates(claims: list[Claim], flags: list[bool]) -> dict[str, dict[str, float | int]]:
    """Per label: how many claims, how many flagged, and the share."""
    totals = Counter(claim.label for claim in claims)
    hits = Counter(claim.label for claim, flag in zip(claims, flags) if flag)
    return {
        label: {"claims": totals[label], "flagged": hits[label], "share": hits[label] / max(totals[label], 1)}
        for label in LABELS
    }
