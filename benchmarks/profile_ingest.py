"""Profile ingestions per minute on the local model, and where each job's time goes.

    .venv/bin/python -m benchmarks.profile_ingest [--jobs 4] [--file samples/profiles/intro.md]

The real stack (embedded PostgreSQL + Redis, the API under uvicorn, one worker on every queue
with prefork 1, MENTORQ_LLM_PROVIDER=local: SmolLM2-135M through llama.cpp on the CPU). One
uncounted warm-up ingestion loads the model. Then --jobs learners (one account each) upload the
same file to `POST /api/profiles/ingest` at once, and the run ends when every job is terminal.

Figures:

- ingestions per minute: jobs / (first upload -> last job completed);
- per job: queue wait (queue_ms) and run time (run_ms) from the job row, and the job's own
  `timings_ms` {parse, llm, save}: the LLM's share of the run time, and the platform's (claim,
  parse, evidence checks, the profile revision, the wiki's embedding, events);
- the in-run baseline: the LLM alone, as the ingestions per minute that the measured LLM time
  would allow back to back (60 s / mean llm_ms). The ratio of the two is the platform's cost
  around the model; the gpu queue runs one LLM job at a time here, so queue waits are the
  jobs before it, not overhead.
- what the checks did: skills kept, items dropped for want of evidence, windows.

Nothing is asserted; the issue sets no number, so this is informative.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from benchmarks._harness import (
    CpuMeter,
    argument_parser,
    begin_run,
    bench_stack,
    fmt,
    print_table,
    ratio,
    register_token,
    start_platform,
    write_results,
)
from tests.support.stack import REPO

NAME = "profile_ingest"
TERMINAL = {"succeeded", "failed", "canceled"}
DEADLINE_S = 1800


def upload(api_url: str, token: str, path: Path) -> str:
    headers = {"Authorization": f"Bearer {token}"}
    answer = httpx.post(
        f"{api_url}/api/profiles/ingest",
        headers=headers,
        files={"file": (path.name, path.read_bytes(), "text/markdown")},
        timeout=120,
    )
    answer.raise_for_status()
    return answer.json()["id"]


def wait_terminal(api_url: str, token: str, job_id: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Prefer": "wait=30"}
    began = time.perf_counter()
    with httpx.Client(base_url=api_url, headers=headers, timeout=60) as http:
        while True:
            job = http.get(f"/v1/jobs/{job_id}").raise_for_status().json()
            if job["status"] in TERMINAL:
                return job
            if time.perf_counter() - began > DEADLINE_S:
                raise TimeoutError(f"job {job_id} still {job['status']} after {DEADLINE_S} s")


def one_ingestion(api_url: str, token: str, path: Path) -> dict[str, Any]:
    job = wait_terminal(api_url, token, upload(api_url, token, path))
    figures: dict[str, Any] = {
        "job_id": job["id"],
        "status": job["status"],
        "queue_ms": job["metrics"]["queue_ms"],
        "run_ms": job["metrics"]["run_ms"],
        "completed_at": job["completed_at"],
    }
    if job["status"] != "succeeded":
        return figures | {"error": job.get("error")}
    output = job["output"]
    timings = output["timings_ms"]
    return figures | {
        "parse_ms": timings.get("parse"),
        "llm_ms": timings.get("llm"),
        "save_ms": timings.get("save"),
        "skills_kept": len(output["skills"]),
        "kept": output["kept"],
        "dropped_unsupported": output["dropped_unsupported"],
        "windows": output["windows"],
        "dropped_sample": output["dropped"][:5],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(NAME, __doc__)
    parser.add_argument("--jobs", type=int, default=4, help="measured ingestions (default 4)")
    parser.add_argument("--file", type=Path, default=REPO / "samples" / "profiles" / "intro.md")
    args: argparse.Namespace = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    run = begin_run()
    with bench_stack(llm_provider="local", keep=args.keep) as stack:
        warm_token = start_platform(stack, concurrency=1)
        print("warm-up: one ingestion (the worker loads the model) ...", flush=True)
        warm = one_ingestion(stack.api_url, warm_token, args.file)
        print(f"  warm-up {warm['status']}, run {warm['run_ms']} ms", flush=True)
        tokens = [register_token(stack.api_url) for _ in range(args.jobs)]
        meter = CpuMeter(
            {
                "api": stack.processes["api"].pid,
                "worker": stack.processes["worker"].pid,
                "postgres": stack.postgres.pid,
            }
        )
        print(f"{args.jobs} ingestions of {args.file.name} at once ...", flush=True)
        meter.start()
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            jobs = list(pool.map(lambda token: one_ingestion(stack.api_url, token, args.file), tokens))
        wall_s = time.perf_counter() - started
        cpu = meter.stop()

    succeeded = [job for job in jobs if job["status"] == "succeeded"]
    per_minute = len(succeeded) * 60 / wall_s
    mean = (lambda key: statistics.fmean(job[key] for job in succeeded)) if succeeded else (lambda key: None)
    llm_ms, run_ms = mean("llm_ms"), mean("run_ms")
    llm_only_per_minute = 60_000 / llm_ms if llm_ms else None
    rows = [
        [
            index + 1,
            job["status"],
            job["queue_ms"],
            job["run_ms"],
            job.get("parse_ms"),
            job.get("llm_ms"),
            job.get("save_ms"),
            fmt(100 * ratio(job.get("llm_ms"), job["run_ms"]) if job.get("llm_ms") else None),
            job.get("skills_kept"),
            job.get("dropped_unsupported"),
        ]
        for index, job in enumerate(jobs)
    ]
    print_table(
        [
            "job",
            "status",
            "queue ms",
            "run ms",
            "parse ms",
            "llm ms",
            "save ms",
            "llm %",
            "skills",
            "dropped",
        ],
        rows,
        title=f"{args.jobs} profile ingestions, local model, one gpu worker process",
    )
    print(
        f"platform: {fmt(per_minute, 2)} ingestions/min "
        f"({len(succeeded)}/{len(jobs)} succeeded in {wall_s:.1f} s)"
    )
    print(
        f"baseline, the LLM alone back to back: {fmt(llm_only_per_minute, 2)} ingestions/min "
        f"(mean llm {fmt(llm_ms, 0)} ms); ratio {fmt(ratio(per_minute, llm_only_per_minute), 2)}x"
    )
    print(
        f"mean run {fmt(run_ms, 0)} ms: LLM {fmt(100 * ratio(llm_ms, run_ms) if llm_ms else None)} %, "
        f"platform (claim, parse, checks, save, wiki embedding) "
        f"{fmt(run_ms - llm_ms if llm_ms else None, 0)} ms"
    )
    print(f"CPU s during the measured run: {', '.join(f'{k} {v:.1f}' for k, v in cpu.items())}")
    results = {
        "machine": run.machine,
        "args": {**vars(args), "file": str(args.file)},
        "warm_up": warm,
        "jobs": jobs,
        "wall_s": wall_s,
        "ingestions_per_minute": per_minute,
        "llm_only_per_minute": llm_only_per_minute,
        "mean_run_ms": run_ms,
        "mean_llm_ms": llm_ms,
        "cpu_s": cpu,
    }
    print(f"results: {write_results(NAME, results)}  ({run.total.elapsed():.0f} s)")
    return 0 if succeeded else 1


if __name__ == "__main__":
    sys.exit(main())
