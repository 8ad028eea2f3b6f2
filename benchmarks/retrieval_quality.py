"""Retrieval quality on a labelled set from the bundled library: recall@5 and MRR of hybrid search
beside vector-only and keyword-only, the same questions in the same run.

    .venv/bin/python -m benchmarks.retrieval_quality [--k 5]

The real stack (embedded PostgreSQL + Redis, the API under uvicorn, one worker, the configured
embedding model: all-MiniLM-L6-v2 by default) with the sample library (samples/knowledge: three
Markdown notes, a lecture transcript and a PDF) ingested through the API.

The labels (benchmarks/data/retrieval_questions.json): 32 questions a learner might ask, most in
words of their own, each with a short verbatim quote from the passage that answers it. A result
is relevant when its chunk's text contains the quote (whitespace and case normalised), so the
labels survive a change of chunking; where the same fact is in two documents, either counts.

Per question and mode (`POST /v1/search {query, k, mode}`, the same k for each):
  recall@k  the share of questions with a relevant chunk among the first k;
  MRR@k     the mean of 1 / rank of the first relevant chunk (0 when none in the first k).
Search latency per mode is printed too. Nothing is asserted; the questions a mode missed are
listed so a change to the search can be judged question by question.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import httpx

from benchmarks._harness import (
    argument_parser,
    begin_run,
    bench_stack,
    fmt,
    latency_summary_ms,
    print_table,
    start_platform,
    write_results,
)
from benchmarks.resources import ingest_samples

NAME = "retrieval_quality"
LABELS = Path(__file__).with_name("data") / "retrieval_questions.json"
MODES = ("hybrid", "vector", "keyword")


def normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def first_relevant_rank(items: list[dict], quote: str) -> int | None:
    needle = normalised(quote)
    for rank, item in enumerate(items, start=1):
        if needle in normalised(item["text"]):
            return rank
    return None


def judge(http: httpx.Client, questions: list[dict], *, k: int) -> dict[str, dict]:
    """Per mode: each question's first relevant rank, and the search latencies."""
    results = {mode: {"ranks": [], "latencies_s": []} for mode in MODES}
    for entry in questions:
        for mode in MODES:  # interleaved, so a slow moment of the machine hits every mode alike
            started = time.perf_counter()
            response = http.post("/v1/search", json={"query": entry["question"], "k": k, "mode": mode})
            results[mode]["latencies_s"].append(time.perf_counter() - started)
            response.raise_for_status()
            results[mode]["ranks"].append(first_relevant_rank(response.json()["items"], entry["quote"]))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(NAME, __doc__)
    parser.add_argument("--k", type=int, default=5)
    args: argparse.Namespace = parser.parse_args(argv)
    run = begin_run()
    questions = json.loads(LABELS.read_text())["questions"]
    with bench_stack(llm_provider="ollama", keep=args.keep) as stack:
        token = start_platform(stack, concurrency=2)
        with httpx.Client(
            base_url=stack.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=120
        ) as http:
            ready = ingest_samples(http)
            # Every label must be findable at all: a quote in no chunk is a broken label, not a miss.
            unfindable = [
                q["question"]
                for q in questions
                if first_relevant_rank(
                    http.post("/v1/search", json={"query": q["quote"], "k": 50, "mode": "keyword"})
                    .raise_for_status()
                    .json()["items"],
                    q["quote"],
                )
                is None
            ]
            if unfindable:
                print("labels whose quote is in no chunk:\n  " + "\n  ".join(unfindable))
                return 1
            judge(http, questions[:3], k=args.k)  # warm-up, uncounted
            results = judge(http, questions, k=args.k)

    rows, summary = [], {}
    for mode in MODES:
        ranks = results[mode]["ranks"]
        recall = sum(rank is not None for rank in ranks) / len(ranks)
        mrr = sum(1 / rank for rank in ranks if rank) / len(ranks)
        latency = latency_summary_ms(results[mode]["latencies_s"])
        summary[mode] = {"recall": recall, "mrr": mrr, "latency": latency, "ranks": ranks}
        rows.append([mode, f"{recall:.3f}", f"{mrr:.3f}", fmt(latency["p50_ms"]), fmt(latency["p95_ms"])])
    print_table(
        ["mode", f"recall@{args.k}", f"MRR@{args.k}", "p50 ms", "p95 ms"],
        rows,
        title=f"{len(questions)} labelled questions, {ready} sample documents",
    )
    for mode in MODES:
        missed = [q["question"] for q, rank in zip(questions, summary[mode]["ranks"]) if rank is None]
        print(f"{mode} missed {len(missed)}: " + ("; ".join(missed) if missed else "none"))
    hybrid = summary["hybrid"]["recall"]
    best_single = max(summary["vector"]["recall"], summary["keyword"]["recall"])
    print(f"hybrid recall@{args.k} {hybrid:.3f} vs the better single mode {best_single:.3f}")
    results_path = write_results(
        NAME, {"machine": run.machine, "args": vars(args), "documents": ready, "modes": summary}
    )
    print(f"results: {results_path}  ({run.total.elapsed():.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
