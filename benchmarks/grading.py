"""Graded coding submissions: end to end through the platform vs the same code run bare, in one run.

    .venv/bin/python -m benchmarks.grading [--runs 40] [--submissions 200] [--clients 8]

The real stack (embedded PostgreSQL + Redis, the API under uvicorn, one worker on the cpu, io
and maintenance queues with prefork 2 = cores, as production runs the workers that grade code),
with the sandbox's production limits. A coding exercise (`add(a, b)`, two
visible tests and one hidden) is written straight into the database for a fresh learner: no LLM
is involved in grading code.

- Bare: `subprocess.run([python, "-I", "-S", "check.py"])`, where check.py is the submission
  followed by the three tests' asserts: the least any grader that runs code in a child pays.
- Platform, one at a time: `POST /api/learning/exercises/{id}/submissions` with `Prefer: wait`,
  until the grade job has succeeded: the client's latency, and the job's own run time
  (`metrics.run_ms`: load the submission, run the tests in the sandbox, record the grade and the
  learner model in one transaction). Interleaved with the bare runs, after 5 warm-ups of each.
- Throughput: --clients learners' clients submitting --submissions in all, back to back:
  graded submissions per second on these cores.

The aim (issue 10): a graded submission under 3x the bare run. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from benchmarks._harness import (
    argument_parser,
    begin_run,
    bench_stack,
    fmt,
    latency_summary_ms,
    print_table,
    ratio,
    register_token,
    verdict,
    wait_for_quiet,
    write_results,
)
from workers.sandbox.runner import interpreter

NAME = "grading"
AIM_RATIO = 3.0
SUBMISSION = "def add(a, b):\n    return a + b\n"
TESTS = [
    {"name": "adds small numbers", "call": "add(2, 3)", "expected": "5"},
    {"name": "adds negatives", "call": "add(-2, -3)", "expected": "-5"},
]
HIDDEN = [{"name": "zero", "call": "add(0, 0)", "expected": "0", "hidden": True}]
PRODUCTION_SANDBOX = {"MENTORQ_SANDBOX_CPU_SECONDS": "5", "MENTORQ_SANDBOX_WALL_SECONDS": "10"}


def insert_exercise(stack, user_id: str) -> str:
    exercise_id = str(uuid.uuid4())
    key = {"answer": None, "rubric": None, "solution_code": SUBMISSION, "hidden_tests": HIDDEN}
    stack.sql(
        """INSERT INTO exercises (id, owner_id, source, exercise_type, topic, skills, prompt, starter_code,
               visible_tests, hints, cited_chunk_ids, grounded, key)
           VALUES (%s, %s, 'authored', 'coding', 'addition', '["python"]', 'Write add(a, b).',
                   'def add(a, b):\n    pass\n', %s, '[]', '[]', false, %s)""",
        exercise_id,
        user_id,
        json.dumps(TESTS),
        json.dumps(key),
    )
    return exercise_id


def bare(folder: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [interpreter(), "-I", "-S", "check.py"],
        cwd=folder,
        env={},
        capture_output=True,
        timeout=10,
        check=False,
    )
    assert done.returncode == 0, done
    return time.perf_counter() - started


def graded(http: httpx.Client, exercise_id: str) -> tuple[float, int]:
    started = time.perf_counter()
    answer = http.post(
        f"/api/learning/exercises/{exercise_id}/submissions",
        json={"answer": SUBMISSION},
        headers={"Prefer": "wait=30"},
    )
    answer.raise_for_status()
    job = answer.json()
    while job["status"] not in ("succeeded", "failed", "canceled"):
        job = http.get(f"/v1/jobs/{job['id']}", headers={"Prefer": "wait=30"}).raise_for_status().json()
    elapsed = time.perf_counter() - started
    assert job["status"] == "succeeded" and job["output"]["score"] == 1.0, job
    return elapsed, job["metrics"]["run_ms"]


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(NAME, __doc__)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    args: argparse.Namespace = parser.parse_args(argv)
    run = begin_run()
    with (
        bench_stack(llm_provider="ollama", keep=args.keep, extra_env=PRODUCTION_SANDBOX) as stack,
        tempfile.TemporaryDirectory(prefix="mentorq-bench-grading-") as folder,
    ):
        checks = "\n".join(f"assert {t['call']} == {t['expected']}" for t in TESTS + HIDDEN)
        Path(folder, "check.py").write_text(SUBMISSION + checks + "\n")
        # As production splits it: code is graded by cpu workers (which never load a model).
        stack.start_api()
        stack.start_worker("worker", queues="cpu,io,maintenance", concurrency=2)
        token = register_token(stack.api_url)
        wait_for_quiet({"api": stack.processes["api"].pid, "worker": stack.processes["worker"].pid})
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=stack.api_url, headers=headers, timeout=60) as http:
            user_id = http.get("/users/me").json()["id"]
            exercise_id = insert_exercise(stack, user_id)
            for _ in range(5):
                bare(Path(folder))
                graded(http, exercise_id)
            bare_s, platform_s, run_ms = [], [], []
            for _ in range(args.runs):
                bare_s.append(bare(Path(folder)))
                elapsed, job_run_ms = graded(http, exercise_id)
                platform_s.append(elapsed)
                run_ms.append(job_run_ms / 1000)
        tokens = [register_token(stack.api_url) for _ in range(args.clients)]
        exercises = []
        for learner_token in tokens:
            with httpx.Client(
                base_url=stack.api_url, headers={"Authorization": f"Bearer {learner_token}"}
            ) as http:
                exercises.append((learner_token, insert_exercise(stack, http.get("/users/me").json()["id"])))

        def client(index: int) -> int:
            learner_token, exercise = exercises[index]
            count = args.submissions // args.clients
            with httpx.Client(
                base_url=stack.api_url, headers={"Authorization": f"Bearer {learner_token}"}, timeout=60
            ) as http:
                for _ in range(count):
                    graded(http, exercise)
            return count

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            done = sum(pool.map(client, range(args.clients)))
        per_s = done / (time.perf_counter() - started)

    bare_summary = latency_summary_ms(bare_s)
    platform_summary = latency_summary_ms(platform_s)
    run_summary = latency_summary_ms(run_ms)
    p50_ratio = ratio(platform_summary["p50_ms"], bare_summary["p50_ms"])
    rows = [
        [
            "bare subprocess.run (code + asserts)",
            args.runs,
            fmt(bare_summary["p50_ms"]),
            fmt(bare_summary["p95_ms"]),
        ],
        [
            "graded submission, client end to end",
            args.runs,
            fmt(platform_summary["p50_ms"]),
            fmt(platform_summary["p95_ms"]),
        ],
        [
            "  of which the grade job's run (run_ms)",
            args.runs,
            fmt(run_summary["p50_ms"]),
            fmt(run_summary["p95_ms"]),
        ],
    ]
    print_table(["path", "runs", "p50 ms", "p95 ms"], rows, title="one coding submission at a time")
    print(
        f"end to end / bare, p50: {fmt(p50_ratio, 2)}x; job run / bare: "
        f"{fmt(ratio(run_summary['p50_ms'], bare_summary['p50_ms']), 2)}x"
    )
    print(f"throughput: {per_s:.1f} graded submissions/s with {args.clients} clients ({done} submissions)")
    met = p50_ratio is not None and p50_ratio < AIM_RATIO
    print(f"aim: end to end under {AIM_RATIO:.0f}x the bare run: {verdict(met)}")
    results = {
        "machine": run.machine,
        "args": vars(args),
        "bare": bare_summary,
        "platform": platform_summary,
        "job_run": run_summary,
        "p50_ratio": p50_ratio,
        "throughput_per_s": per_s,
        "aim_met": met,
    }
    print(f"results: {write_results(NAME, results)}  ({run.total.elapsed():.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
