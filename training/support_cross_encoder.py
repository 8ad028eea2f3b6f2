"""Train a sentence-vs-evidence cross-encoder for the support check (issue 61), from the packaged
all-MiniLM-L6-v2 weights (known origin, installed with the platform), on licensed grounding data.

    MENTORQ_ENV=dev .venv/bin/python -m training.support_cross_encoder --out DIR [--minutes N]

Resumable: every CHECKPOINT_EVERY steps the model, the optimiser and the step go to DIR; a run
started again on the same DIR goes on from there. Deterministic order (SEED). At the end, and at
each checkpoint, it scores the RAGTruth development set's validation questions (the third that
training/support_train.py's `is_validation` keeps out) and prints ROC AUC and recall at false
alarms 0.05 / 0.10 / 0.15, beside the shipped logistic model on the same sentences.

The data (../shared/data, each with its licence and NOTICE):
- BEGIN (CC BY 4.0; Topical-Chat part CDLA-Sharing-1.0): a response against its knowledge snippet;
  `Fully attributable` is supported, `Not fully attributable` is not, `Generic` is left out.
- HaluEval QA (MIT): the question with its right answer (supported) and with its hallucinated
  answer (not), against the knowledge.
- RAGTruth's QA development set (MIT), the questions outside the validation third: each judged
  sentence against its evidence window, hallucinated or not as annotated.
The RAGTruth held-out questions are never read.

Evidence windows: the passage sentences that share the claim's rarest words (workers/support's
own ranking), up to WINDOW_SENTENCES of them in passage order, cut to MAX_TOKENS with the claim.

Status (2026-11-27, not shipped: verify() still uses the logistic model). 7,227 training pairs
(4,749 BEGIN, 1,000 HaluEval, 1,478 RAGTruth sentences), 788 validation sentences (76
hallucinated); steps of 16 pairs of up to 256 tokens, 2-3 s each on 2 idle cores. Training loss
0.69 at step 60, 0.48 at 140, 0.32 at 360: it learns BEGIN and HaluEval. Validation ROC AUC at
steps 100 to 500: 0.568, 0.498, 0.541, 0.554, 0.551 (recall at false alarms 0.10: 0.09, 0.07,
0.04, 0.08, 0.11), where the shipped logistic model has AUC 0.817 and recall 0.51 on the same
sentences. What it learns from dialogue responses and short QA answers does not carry over to
RAGTruth's LLM answers, and RAGTruth's own training sentences are few (174 hallucinated): the next
things to try are weighting RAGTruth's pairs up, the library-passage swaps issue 61 lists (made
in RAGTruth's own passages), and starting from an NLI-trained checkpoint were one of known origin
to be had. A run goes on from its checkpoint with the same --out.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import sys
import time
from pathlib import Path

from devstack.supervisor import PROJECT_ROOT

SEED = 20261127
DATA = PROJECT_ROOT.parent / "shared" / "data"
MAX_TOKENS = 256
WINDOW_SENTENCES = 4
BATCH = 16
LEARNING_RATE = 3e-5
CHECKPOINT_EVERY = 100


def evidence_window(claim: str, passages: list[str]) -> str:
    """The passage sentences the claim most likely rests on, in their passages' order."""
    from collections import Counter

    from workers.support.evidence import passage_sentences
    from workers.support.features import content

    sentences = passage_sentences(passages)
    bags = [{stem for stem, _ in content(s.text)} for s in sentences]
    frequency = Counter(stem for bag in bags for stem in bag)
    wanted = {stem for stem, _ in content(claim)}
    weights = [sum(math.log(1 + len(sentences) / frequency[stem]) for stem in wanted & bag) for bag in bags]
    ranked = sorted(range(len(sentences)), key=lambda i: -weights[i])[:WINDOW_SENTENCES]
    return " ".join(sentences[i].text for i in sorted(ranked))


def begin_pairs() -> list[tuple[str, str, int]]:
    pairs = []
    for path in sorted((DATA / "grounding-train" / "begin").glob("*/*.tsv")):
        with path.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
                label = row["begin_label"]
                if label == "Generic":
                    continue
                pairs.append((row["knowledge"], row["response"], int(label != "Fully attributable")))
    return pairs


def halueval_pairs() -> list[tuple[str, str, int]]:
    pairs = []
    path = DATA / "grounding-train" / "halueval-qa" / "qa_one-turn_data.json"
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        pairs.append((row["knowledge"], f"{row['question']} {row['right_answer']}", 0))
        pairs.append((row["knowledge"], f"{row['question']} {row['hallucinated_answer']}", 1))
    return pairs


def ragtruth_pairs(split: str) -> list[tuple[str, str, int]]:
    from benchmarks import _ragtruth

    pairs = []
    for answer in _ragtruth.load():
        if not _ragtruth.in_split(answer, split):
            continue
        passages = [p.chunk.text for p in answer.passages]
        for sentence in answer.sentences:
            pairs.append(
                (evidence_window(sentence.text, passages), sentence.text, int(sentence.hallucinated))
            )
    return pairs


def auc(scores: list[float], labels: list[int]) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


def recall_at(scores: list[float], labels: list[int], false_alarms: float) -> float:
    """Recall of unsupported sentences at the threshold that flags `false_alarms` of supported ones."""
    good = sorted((s for s, y in zip(scores, labels, strict=True) if y == 0), reverse=True)
    cut = good[min(len(good) - 1, int(false_alarms * len(good)))]
    bad = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    return sum(s > cut for s in bad) / max(len(bad), 1)


def report(name: str, scores: list[float], labels: list[int]) -> dict:
    row = {
        "model": name,
        "auc": round(auc(scores, labels), 4),
        **{
            f"recall@fa{int(fa * 100):02d}": round(recall_at(scores, labels, fa), 4)
            for fa in (0.05, 0.10, 0.15)
        },
    }
    print(json.dumps(row), flush=True)
    return row


def scored(model, tokenizer, pairs: list[tuple[str, str, int]]) -> list[float]:
    import torch

    model.eval()
    out: list[float] = []
    with torch.inference_mode():
        for start in range(0, len(pairs), 64):
            batch = pairs[start : start + 64]
            encoded = tokenizer(
                [p[1] for p in batch],
                [p[0] for p in batch],
                truncation="only_second",
                max_length=MAX_TOKENS,
                padding=True,
                return_tensors="pt",
            )
            out.extend(torch.softmax(model(**encoded).logits, -1)[:, 1].tolist())
    model.train()
    return out


def logistic_scores(pairs_answers) -> tuple[list[float], list[int]]:
    """The shipped logistic model's score on each validation sentence, as verify() computes it."""
    from workers.support.verify import verify

    scores, labels = [], []
    for answer in pairs_answers:
        verdicts = verify([s.text for s in answer.sentences], [p.chunk.text for p in answer.passages])
        for sentence, verdict in zip(answer.sentences, verdicts, strict=True):
            scores.append(0.0 if verdict.score is None else 1 - verdict.score)  # a non-claim is kept
            labels.append(int(sentence.hallucinated))
    return scores, labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--minutes", type=float, default=60.0, help="stop (after a checkpoint) past this")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from benchmarks import _ragtruth
    from core.catalog import packaged_minilm_path

    torch.manual_seed(SEED)
    torch.set_num_threads(args.threads)
    began = time.monotonic()
    train = begin_pairs() + halueval_pairs() + ragtruth_pairs("train")
    random.Random(SEED).shuffle(train)
    validation = ragtruth_pairs("validation")
    print(
        f"{len(train)} training pairs ({sum(p[2] for p in train)} unsupported); {len(validation)} validation"
    )

    source = args.out if (args.out / "config.json").is_file() else packaged_minilm_path()
    tokenizer = AutoTokenizer.from_pretrained(packaged_minilm_path())
    model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=2)
    optimiser = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
    state = args.out / "training_state.pt"
    step = 0
    if state.is_file():
        saved = torch.load(state)
        optimiser.load_state_dict(saved["optimiser"])
        step = saved["step"]
    total = args.epochs * math.ceil(len(train) / BATCH)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / 100) * max(0.0, 1 - s / total), last_epoch=step - 1
    )
    validation_answers = [a for a in _ragtruth.load() if _ragtruth.in_split(a, "validation")]
    report("logistic (shipped)", *logistic_scores(validation_answers))
    model.train()
    losses: list[float] = []
    while step < total:
        start = (step * BATCH) % len(train)
        batch = train[start : start + BATCH]
        encoded = tokenizer(
            [p[1] for p in batch],
            [p[0] for p in batch],
            truncation="only_second",
            max_length=MAX_TOKENS,
            padding=True,
            return_tensors="pt",
        )
        loss = model(**encoded, labels=torch.tensor([p[2] for p in batch])).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
        losses.append(loss.item())
        step += 1
        if step % 20 == 0:
            print(
                f"step {step}/{total} loss {sum(losses[-20:]) / 20:.4f} {time.monotonic() - began:.0f} s",
                flush=True,
            )
        if step % CHECKPOINT_EVERY == 0 or step == total:
            model.save_pretrained(args.out)
            torch.save({"optimiser": optimiser.state_dict(), "step": step}, state)
            report(
                f"cross-encoder step {step}", scored(model, tokenizer, validation), [p[2] for p in validation]
            )
            if time.monotonic() - began > args.minutes * 60:
                print("time is up; run again with the same --out to go on")
                return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
