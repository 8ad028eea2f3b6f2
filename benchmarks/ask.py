"""Grounded answers through the API: a cache miss beside a cache hit, the answer cache's hit
ratio over a replayed list of repeated, paraphrased, negated and different questions, and the
cache's rule over the labelled question pairs (false hits, paraphrase hit share).

    .venv/bin/python -m benchmarks.ask [--runs 30] [--pairs-only] [--check-only]

The real stack (embedded PostgreSQL + Redis, the API under uvicorn, one worker on every queue
with prefork 2, beat off) with an in-process fake Ollama server that answers at once with a
sentence from the library, so what is measured is the platform's share of an answer: the
question's embedding, the hybrid search, the citation checks (every sentence and passage
embedded), the cache, the job round trip. The bundled sample library is ingested first.

Latency, interleaved, after 5 uncounted warm-ups: the cache is purged (untimed), the question is
asked (a miss: `POST /api/ask` with `Prefer: wait`), then asked again (an exact hit, answered by
the API without a job run).

Hit ratio: each base question is asked once (a miss that fills the cache), then its variants:
the same question re-typed (must hit), paraphrases with the same content words (should hit),
its negation (must never hit) and a different question on the same subject (must never hit).
A false hit is a negated or different question answered from the cache. Nothing is asserted.

Labelled pairs (benchmarks/data/question_pairs.json, after the stack is stopped; `--pairs-only`
runs only these, with no stack): each pair through the ask job's rule with the real embedding
model, beside the rule before issue 23 in the same run (see benchmarks/_question_pairs.py).

The check's cost (`--check-only` runs only this, with no stack): what verify() (the support model)
adds to an answer of six sentences against five passages, beside the rules-only check it replaced,
in the same run (see benchmarks/_check_cost.py). Aim (issue 50): p50 added <= 150 ms on 2 cores.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import httpx

from benchmarks import _question_pairs
from benchmarks._harness import (
    argument_parser,
    begin_run,
    bench_stack,
    fmt,
    latency_summary_ms,
    print_table,
    ratio,
    start_platform,
    verdict,
    wait_for_quiet,
    write_results,
)
from benchmarks.resources import ingest_samples
from tests.support.fake_ollama import FakeOllama

NAME = "ask"
LATENCY_QUESTION = "How often should I review new material?"
LATENCY_ANSWER = (
    "Review it again one day later, then after three days, one week, two weeks and one month [1]."
)

# (base question, the library's answer to it, variants by kind)
REPLAY = [
    (
        "Is massed practice effective?",
        "Massed practice feels productive, but familiarity is easy to mistake for knowledge [1].",
        {
            "repeat": ["is massed practice effective"],
            "paraphrase": ["Massed practice: is it effective?", "Is massed practice really effective?"],
            "negation": ["Is massed practice ineffective?", "Isn't massed practice effective?"],
            "different": ["Why does massed practice feel productive?"],
        },
    ),
    (
        "What is active recall?",
        "Active recall means studying by pulling information out of your memory [1].",
        {
            "repeat": ["What is ACTIVE RECALL"],
            "paraphrase": ["What's active recall?", "Explain active recall."],
            "negation": ["What is not active recall?"],
            "different": ["What is the testing effect?"],
        },
    ),
    (
        "Who was the Feynman technique named after?",
        "The Feynman technique is named after the physicist Richard Feynman [1].",
        {
            "repeat": ["who was the feynman technique named after?"],
            "paraphrase": ["The Feynman technique was named after who?"],
            "negation": ["Who was the Feynman technique not named after?"],
            "different": ["What are the steps of the Feynman technique?"],
        },
    ),
    (
        "Should I review on the day I learn something?",
        "Review new material on the day you learn it [1].",
        {
            "repeat": ["Should I review on the day I learn something"],
            "paraphrase": ["Should I review something on the day I learn it?"],
            "negation": ["Shouldn't I review on the day I learn something?"],
            "different": ["Should I skip a review step if an item feels trivial?"],
        },
    ),
]
SHOULD_HIT = {"repeat", "paraphrase"}


def asked(http: httpx.Client, question: str) -> tuple[float, dict]:
    started = time.perf_counter()
    job = (
        http.post("/api/ask", json={"question": question}, headers={"Prefer": "wait=30"})
        .raise_for_status()
        .json()
    )
    while job["status"] not in ("succeeded", "failed", "canceled"):
        job = http.get(f"/v1/jobs/{job['id']}", headers={"Prefer": "wait=30"}).raise_for_status().json()
    elapsed = time.perf_counter() - started
    assert job["status"] == "succeeded", job
    return elapsed, job["output"]


def replay(http: httpx.Client) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {
        kind: {"asked": 0, "hits": 0} for kind in ("repeat", "paraphrase", "negation", "different")
    }
    ungrounded = 0
    for base, _, variants in REPLAY:
        _, first = asked(http, base)
        ungrounded += 0 if first["grounded"] else 1
        for kind, questions in variants.items():
            for question in questions:
                _, output = asked(http, question)
                counts[kind]["asked"] += 1
                counts[kind]["hits"] += 1 if output["cached"] else 0
    counts["base"] = {"asked": len(REPLAY), "hits": 0, "ungrounded": ungrounded}
    return counts


def check_cost() -> dict:
    from benchmarks import _check_cost

    found = _check_cost.report()
    print_table(
        ["path", "answers", "wall p50 ms", "wall p90 ms", "CPU p50 ms"],
        [
            [
                name,
                str(row["answers"]),
                f"{row['wall_ms_p50']:.0f}",
                f"{row['wall_ms_p90']:.0f}",
                f"{row['cpu_ms_p50']:.0f}",
            ]
            for name, row in found.items()
        ],
        title="The support check per answer: 6 RAGTruth sentences against 5 passages "
        "(embedding: both paths; rules only: what it replaced; support model: what it adds)",
    )
    added = found["support model"]["wall_ms_p50"]
    print(f"  added by the support model, p50: {added:.0f} ms  {verdict(added <= 150)} (aim <= 150 ms)")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(NAME, __doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument(
        "--check-only",
        action="store_true",
        help="only the support check's cost per answer (no stack; about a minute)",
    )
    parser.add_argument(
        "--pairs-only",
        action="store_true",
        help="only the labelled question pairs (no stack; under a minute)",
    )
    args: argparse.Namespace = parser.parse_args(argv)
    run = begin_run()
    if args.check_only:
        results = {"machine": run.machine, "args": vars(args), "check_cost": check_cost()}
        print(f"results: {write_results(f'{NAME}_check', results)}  ({run.total.elapsed():.0f} s)")
        return 0
    if args.pairs_only:
        results = {"machine": run.machine, "args": vars(args), "question_pairs": _question_pairs.report()}
        print(f"results: {write_results(f'{NAME}_pairs', results)}  ({run.total.elapsed():.0f} s)")
        return 0
    fake = FakeOllama(token_delay_s=0.0).start()
    fake.script(LATENCY_QUESTION, LATENCY_ANSWER)
    for base, answer, variants in REPLAY:
        for question in [base, *(q for qs in variants.values() for q in qs)]:
            fake.script(question, answer)
    try:
        with bench_stack(ollama_url=fake.url, llm_provider="ollama", keep=args.keep) as stack:
            token = start_platform(stack, concurrency=2)
            stack.sql("UPDATE users SET is_superuser = true")  # the benchmark's one user purges the cache
            with httpx.Client(
                base_url=stack.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=120
            ) as http:
                ready = ingest_samples(http)
                wait_for_quiet({"api": stack.processes["api"].pid, "worker": stack.processes["worker"].pid})
                misses, hits, timings = [], [], []
                for number in range(5 + args.runs):
                    http.delete("/v1/admin/cache").raise_for_status()
                    miss_s, miss = asked(http, LATENCY_QUESTION)
                    hit_s, hit = asked(http, LATENCY_QUESTION)
                    assert miss["grounded"] and not miss["cached"] and hit["cached"], (miss, hit)
                    if number >= 5:
                        misses.append(miss_s)
                        hits.append(hit_s)
                        timings.append(miss["timings_ms"])
                http.delete("/v1/admin/cache").raise_for_status()
                counts = replay(http)
    finally:
        fake.stop()

    missed, hit = latency_summary_ms(misses), latency_summary_ms(hits)
    print_table(
        ["path", "runs", "p50 ms", "p95 ms"],
        [
            [
                "POST /api/ask, a miss (search, fake LLM, checks)",
                args.runs,
                fmt(missed["p50_ms"]),
                fmt(missed["p95_ms"]),
            ],
            [
                "POST /api/ask, an exact hit (the API alone)",
                args.runs,
                fmt(hit["p50_ms"]),
                fmt(hit["p95_ms"]),
            ],
        ],
        title=f"{ready} sample documents, fake LLM at once",
    )
    steps = {step: statistics.median(t[step] for t in timings) for step in ("search", "llm", "check")}
    print("a miss's job, median ms: " + ", ".join(f"{step} {fmt(ms)}" for step, ms in steps.items()))
    print(
        f"hit / miss: p50 {fmt(ratio(hit['p50_ms'], missed['p50_ms']), 3)}x, "
        f"p95 {fmt(ratio(hit['p95_ms'], missed['p95_ms']), 3)}x"
    )
    rows = [
        [kind, c["asked"], c["hits"], "should hit" if kind in SHOULD_HIT else "must miss"]
        for kind, c in counts.items()
        if kind != "base"
    ]
    print_table(["variant", "asked", "answered from the cache", "expected"], rows, title="replayed questions")
    replayed = sum(c["asked"] for k, c in counts.items() if k != "base")
    total_hits = sum(c["hits"] for k, c in counts.items() if k != "base")
    false_hits = counts["negation"]["hits"] + counts["different"]["hits"]
    should = sum(counts[k]["asked"] for k in SHOULD_HIT)
    print(
        f"hit ratio {total_hits}/{replayed} = {total_hits / replayed:.2f} over the variants "
        f"({total_hits}/{should} of those that should hit); false hits: {false_hits}; "
        f"base questions not grounded (so not cached): {counts['base']['ungrounded']}"
    )
    question_pairs = _question_pairs.report()
    checking = check_cost()
    results = {
        "machine": run.machine,
        "args": vars(args),
        "documents": ready,
        "miss": missed,
        "hit": hit,
        "miss_steps_ms": steps,
        "replay": counts,
        "false_hits": false_hits,
        "question_pairs": question_pairs,
        "check_cost": checking,
    }
    print(f"results: {write_results(NAME, results)}  ({run.total.elapsed():.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
