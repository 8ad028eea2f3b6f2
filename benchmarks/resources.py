"""Resource suggestions through the API vs the hybrid search alone, in one run.

    .venv/bin/python -m benchmarks.resources [--runs 40]

The real stack (embedded PostgreSQL + Redis, the API under uvicorn, one worker on every queue
with prefork 2, beat off) with an in-process fake Ollama server that answers at once: so what is
measured is the platform's share of a suggestion, not a model's. The bundled sample library
(samples/knowledge: Markdown notes, a PDF, a transcript) is ingested first.

Interleaved, one at a time, after 5 uncounted warm-ups of each:
- search alone: `POST /v1/search` (hybrid, k 10) with the query: the query embedding on a gpu
  worker, then vector and keyword ranks fused, as the API serves it;
- suggestion: `POST /api/learning/resources` (k 3) with `Prefer: wait` until the `resources` job
  succeeded: the job's row and message, the learner's profile and mastery read, the same hybrid
  search (30 chunks) with the query embedded in the job, grouping by document, the (instant)
  model call, the checks and the output. Also the job's own run time (metrics.run_ms).

Nothing is asserted; the issue sets no number (informative).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import httpx

from benchmarks._harness import (
    argument_parser,
    begin_run,
    bench_stack,
    fmt,
    latency_summary_ms,
    print_table,
    ratio,
    start_platform,
    wait_for_quiet,
    write_results,
)
from tests.support.fake_ollama import FakeOllama
from tests.support.stack import REPO

NAME = "resources"
QUERY = "how long should I wait between reviews?"
SAMPLES = REPO / "samples" / "knowledge"


def ingest_samples(http: httpx.Client) -> int:
    files = sorted(p for p in SAMPLES.iterdir() if p.suffix in {".md", ".pdf", ".srt"})
    answer = http.post(
        "/v1/documents",
        files=[("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in files],
        data={"collection": "bench-library"},
    )
    answer.raise_for_status()
    ids = [item["document"]["id"] for item in answer.json()["items"]]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        states = [http.get(f"/v1/documents/{doc}").json()["status"] for doc in ids]
        if all(state in ("ready", "failed") for state in states):
            return states.count("ready")
        time.sleep(0.5)
    raise TimeoutError("the sample library was not ingested in 300 s")


def search(http: httpx.Client) -> float:
    started = time.perf_counter()
    http.post("/v1/search", json={"query": QUERY, "k": 10, "mode": "hybrid"}).raise_for_status()
    return time.perf_counter() - started


def suggest(http: httpx.Client) -> tuple[float, int]:
    started = time.perf_counter()
    job = (
        http.post("/api/learning/resources", json={"query": QUERY, "k": 3}, headers={"Prefer": "wait=30"})
        .raise_for_status()
        .json()
    )
    while job["status"] not in ("succeeded", "failed", "canceled"):
        job = http.get(f"/v1/jobs/{job['id']}", headers={"Prefer": "wait=30"}).raise_for_status().json()
    elapsed = time.perf_counter() - started
    assert job["status"] == "succeeded" and len(job["output"]["resources"]) == 3, job
    return elapsed, job["metrics"]["run_ms"]


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(NAME, __doc__)
    parser.add_argument("--runs", type=int, default=40)
    args: argparse.Namespace = parser.parse_args(argv)
    run = begin_run()
    fake = FakeOllama(token_delay_s=0.0).start()
    # The fake picks nothing (an instant, valid answer): the job's checks fill the 3 slots.
    fake.script(QUERY, json.dumps({"resources": []}))
    try:
        with bench_stack(ollama_url=fake.url, llm_provider="ollama", keep=args.keep) as stack:
            token = start_platform(stack, concurrency=2)
            with httpx.Client(
                base_url=stack.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=120
            ) as http:
                ready = ingest_samples(http)
                wait_for_quiet({"api": stack.processes["api"].pid, "worker": stack.processes["worker"].pid})
                for _ in range(5):
                    search(http)
                    suggest(http)
                search_s, suggest_s, run_ms = [], [], []
                for _ in range(args.runs):
                    search_s.append(search(http))
                    elapsed, job_ms = suggest(http)
                    suggest_s.append(elapsed)
                    run_ms.append(job_ms / 1000)
    finally:
        fake.stop()

    searched, suggested, job_run = (latency_summary_ms(v) for v in (search_s, suggest_s, run_ms))
    rows = [
        ["POST /v1/search (hybrid, k 10)", args.runs, fmt(searched["p50_ms"]), fmt(searched["p95_ms"])],
        [
            "POST /api/learning/resources, to done",
            args.runs,
            fmt(suggested["p50_ms"]),
            fmt(suggested["p95_ms"]),
        ],
        ["  of which the job's run (run_ms)", args.runs, fmt(job_run["p50_ms"]), fmt(job_run["p95_ms"])],
    ]
    print_table(
        ["path", "runs", "p50 ms", "p95 ms"], rows, title=f"{ready} sample documents, fake LLM at once"
    )
    print(
        f"suggestion / search alone: p50 {fmt(ratio(suggested['p50_ms'], searched['p50_ms']), 2)}x, "
        f"p95 {fmt(ratio(suggested['p95_ms'], searched['p95_ms']), 2)}x"
    )
    results = {
        "machine": run.machine,
        "args": vars(args),
        "documents": ready,
        "search": searched,
        "suggestion": suggested,
        "job_run": job_run,
    }
    print(f"results: {write_results(NAME, results)}  ({run.total.elapsed():.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
