"""The support cross-encoder's data (issue 61): every (claim, evidence, label) pair it learns from or
is validated on, built here with the project's own sentence splitting and evidence ranking, and
written to one gzip'd JSON-lines file that the training loop (training/support_cross_encoder.py)
reads with nothing of the project imported, so that it also runs on a lent GPU machine.

    MENTORQ_ENV=dev .venv/bin/python -m training.support_data --out .gpu-carry/support_pairs.jsonl.gz

Sources (../shared/data and benchmarks/data, each with its licence and NOTICE). Label 1 means the
evidence does not state the claim.
- begin: BEGIN (CC BY 4.0; Topical-Chat part CDLA-Sharing-1.0), a dialogue response against its
  knowledge snippet; `Fully attributable` is 0, `Not fully attributable` is 1, `Generic` left out.
- halueval: HaluEval QA (MIT), one-turn and multi-turn, the question with its right answer (0) and
  with its hallucinated answer (1), against the knowledge.
- wice: WiCE's development split (CC BY-SA 4.0; benchmarks/data/wice), a Wikipedia claim against
  the cited page; `supported` is 0, `partially_supported` and `not_supported` are 1. Its test split
  is never read here (it measures the check from outside).
- ragtruth: RAGTruth's QA development set (MIT), each judged sentence against its evidence window,
  hallucinated or not as annotated. Questions in the validation third (training/support_train.py's
  `is_validation`, shared with the logistic model) are written with split "validation" and never
  trained on. The held-out RAGTruth questions are never read.
- swap: sentences of RAGTruth's training passages as they stand (0) and changed (1): a number
  changed, a negation put in or taken out, two names swapped or one replaced by another name of
  the passages, and a sentence of another question's passages.

Evidence: the passage sentences that share the claim's rarest words (`evidence_window`), in passage
order, WINDOW sentences of them (the record keeps windows of 4 and 8 sentences); for BEGIN and
HaluEval the knowledge snippet as it stands; for a WiCE claim its cited sentences first.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

from devstack.supervisor import PROJECT_ROOT
from workers.support.evidence import evidence_window

SEED = 20261127
DATA = PROJECT_ROOT.parent / "shared" / "data"
WICE_DEV = PROJECT_ROOT / "benchmarks" / "data" / "wice" / "dev.jsonl.gz"
WINDOWS = (4, 8)
SWAP_MIN_WORDS = 8

_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)?\b")
_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*\b")
_AUXILIARY = re.compile(r"\b(is|are|was|were|can|will|does|do|did|has|have|should|could|would)\b")
_NEGATED = re.compile(r"\b(is|are|was|were|can|will|does|do|did|has|have|should|could|would) not\b")


def _split(passages: list[str]) -> list[str]:
    from workers.support.evidence import passage_sentences

    return [s.text for s in passage_sentences(passages)]


def _record(source: str, split: str, claim: str, sentences: list[str], label: int, first=()) -> dict:
    windows = {f"window{n}": evidence_window(claim, sentences, n, first) for n in WINDOWS}
    return {"source": source, "split": split, "claim": claim, "label": label, **windows}


def _plain(source: str, evidence: str, claim: str, label: int) -> dict:
    return {"source": source, "split": "train", "claim": claim, "label": label} | {
        f"window{n}": evidence for n in WINDOWS
    }


def begin() -> list[dict]:
    records = []
    for path in sorted((DATA / "grounding-train" / "begin").glob("*/*.tsv")):
        with path.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
                if row["begin_label"] != "Generic":
                    unsupported = int(row["begin_label"] != "Fully attributable")
                    records.append(_plain("begin", row["knowledge"], row["response"], unsupported))
    return records


def halueval() -> list[dict]:
    records = []
    for name in ("qa_one-turn_data.json", "qa_multi-turn_data.json"):
        path = DATA / "grounding-train" / "halueval-qa" / name
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            for answer, label in ((row["right_answer"], 0), (row["hallucinated_answer"], 1)):
                records.append(_plain("halueval", row["knowledge"], f"{row['question']} {answer}", label))
    return records


def wice() -> list[dict]:
    records = []
    with gzip.open(WICE_DEV, "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            cited = tuple(row["supporting_sentences"][0]) if row["supporting_sentences"] else ()
            label = int(row["label"] != "supported")
            records.append(_record("wice", "train", row["claim"], row["evidence"], label, cited))
    return records


def ragtruth() -> list[dict]:
    from benchmarks import _ragtruth
    from training.support_train import is_validation

    records = []
    for answer in _ragtruth.load():
        split = "validation" if is_validation(answer.source) else "train"
        sentences = _split([p.chunk.text for p in answer.passages])
        for sentence in answer.sentences:
            records.append(_record("ragtruth", split, sentence.text, sentences, int(sentence.hallucinated)))
    return records


def changed(sentence: str, names: list[str], rng: random.Random) -> str | None:
    """The sentence with one fact changed (a number, a negation, a name), or None if none can be."""
    ways = []
    if numbers := _NUMBER.findall(sentence):
        number = rng.choice(numbers)
        digits = number.replace(",", "")
        other = str(int(float(digits)) + rng.choice((1, 2, 3, 5, 10)) * rng.choice((1, -1)))
        if other != digits and not other.startswith("-"):
            ways.append(sentence.replace(number, other, 1))
    if _NEGATED.search(sentence):
        ways.append(_NEGATED.sub(r"\1", sentence, count=1))
    elif _AUXILIARY.search(sentence):
        ways.append(_AUXILIARY.sub(r"\1 not", sentence, count=1))
    found = [n for n in dict.fromkeys(_NAME.findall(sentence[1:])) if len(n) > 3]
    if len(found) >= 2:
        a, b = rng.sample(found, 2)
        ways.append(sentence.replace(a, "\0").replace(b, a).replace("\0", b))
    elif found:
        others = [n for n in names if n not in sentence and len(n) > 3]
        if others:
            ways.append(sentence.replace(found[0], rng.choice(others), 1))
    return rng.choice(ways) if ways else None


def swaps(rng: random.Random) -> list[dict]:
    from benchmarks import _ragtruth
    from training.support_train import is_validation

    questions = {}
    for answer in _ragtruth.load():
        if not is_validation(answer.source):
            questions[answer.source] = _split([p.chunk.text for p in answer.passages])
    records = []
    sources = sorted(questions)
    for source in sources:
        sentences = questions[source]
        names = [n for s in sentences for n in _NAME.findall(s)]
        usable = [s for s in sentences if len(s.split()) >= SWAP_MIN_WORDS]
        for sentence in rng.sample(usable, min(20, len(usable))):
            records.append(_record("swap", "train", sentence, sentences, 0))
            if (other := changed(sentence, names, rng)) is not None:
                records.append(_record("swap", "train", other, sentences, 1))
        elsewhere = questions[rng.choice([s for s in sources if s != source])]
        for sentence in rng.sample(elsewhere, min(2, len(elsewhere))):
            records.append(_record("swap", "train", sentence, sentences, 1))
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    rng = random.Random(SEED)
    records = begin() + halueval() + wice() + ragtruth() + swaps(rng)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.out, "wt", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    counts = Counter((r["source"], r["split"], r["label"]) for r in records)
    for key in sorted(counts):
        print(*key, counts[key])
    return 0


if __name__ == "__main__":
    sys.exit(main())
