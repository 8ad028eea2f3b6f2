"""The profile's bio check measured from outside (issue 61, item 6: one checker for every caller).

A bio sentence is kept when the agreement check (core/claims.py: names, numbers, negations, hedges)
finds nothing against the source and enough of its content words are the source's
(tasks/profile_ingest/evidence.py `BIO_MIN_COVERAGE`). The question is whether verify(), the check
every answer passes, should replace the word rule. No bios of real people with labels exist here,
so two stand-ins, each an item of (source, text, not stated?):

- BEGIN (Dziri et al., TACL 2022; CC BY 4.0, Topical-Chat part CDLA-Sharing-1.0;
  ../shared/data/grounding-train/begin): a dialogue response judged against the one knowledge
  snippet it was written from, the closest thing to a bio against its person's text. "Fully
  attributable" is stated, "Not fully attributable" is not, "Generic" is left out. Nothing shipped
  learned from it: the support model learned from RAGTruth alone (training/support_train.py).
  Its dev files are development, the WoW test file is held out.
- RAGTruth's QA development set (benchmarks/_ragtruth.py): each judged sentence against its
  answer's passages joined. The support model learned from its training questions and picked its
  threshold on the validation ones, so this is verify()'s home ground.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from devstack.supervisor import PROJECT_ROOT

BEGIN = PROJECT_ROOT.parent / "shared" / "data" / "grounding-train" / "begin"


@dataclass(frozen=True)
class Item:
    source: str
    text: str
    unstated: bool


def begin(split: str) -> list[Item]:
    """BEGIN's responses with a label of support: `dev` (its three dev files) or `test` (WoW's)."""
    held_out = [BEGIN / "wow" / "begin_test_wow.tsv"]
    paths = sorted(BEGIN.glob("*/begin_dev_*.tsv")) if split == "dev" else held_out
    csv.field_size_limit(1 << 24)
    items = []
    for path in paths:
        with Path(path).open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                if row["begin_label"] != "Generic":
                    unstated = row["begin_label"] != "Fully attributable"
                    items.append(Item(row["knowledge"], row["response"], unstated))
    return items


def ragtruth(split: str) -> list[Item]:
    """RAGTruth's judged sentences of the `validation` or `train` questions, each against its
    answer's passages joined."""
    from benchmarks import _ragtruth

    return [
        Item("\n\n".join(p.chunk.text for p in answer.passages), sentence.text, sentence.hallucinated)
        for answer in _ragtruth.load()
        if _ragtruth.in_split(answer, split)
        for sentence in answer.sentences
    ]


def refused(item: Item, *, words: bool, min_score: float | None) -> bool:
    """Whether the bio check refuses the item's text: the agreement check on each sentence, then the
    word rule (`words`) and/or verify() at `min_score` (None: not asked)."""
    from core import claim_text, claims
    from tasks.profile_ingest.evidence import BIO_MIN_COVERAGE
    from workers.support.verify import verify

    sentences = claim_text.sentences(item.text) or [item.text]
    if any(claims.disagreement(s, item.source, hedges=claims.PROFILE_HEDGES) for s in sentences):
        return True
    if words:
        stems = {claim_text.stem(t.lower) for t in claim_text.tokenize(claim_text.plain(item.source))}
        for sentence in sentences:
            content = claim_text.content_stems(claim_text.tokenize(sentence))
            if content and len(content & stems) / len(content) < BIO_MIN_COVERAGE:
                return True
    if min_score is not None:
        return any(not v.kept for v in verify(sentences, [item.source], min_score=min_score))
    return False


def figures(items: list[Item], flags: list[bool]) -> dict[str, float]:
    """Recall (unstated items refused) and false alarms (stated items refused)."""
    bad = [f for item, f in zip(items, flags, strict=True) if item.unstated]
    good = [f for item, f in zip(items, flags, strict=True) if not item.unstated]
    return {
        "items": len(items),
        "unstated": len(bad),
        "recall": sum(bad) / max(len(bad), 1),
        "false_alarms": sum(good) / max(len(good), 1),
    }
