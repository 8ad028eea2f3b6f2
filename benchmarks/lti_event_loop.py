"""Another user's requests while a class launches (issue 59): `GET /users/me` of a signed-in user,
p50/p95, alone and then while 200 learners of one course launch the tool within a minute, in one
run, with the production password cost (Argon2id, 64 MiB, 3 passes) and rate limits.

    .venv/bin/python -m benchmarks.lti_event_loop [--learners 200] [--seconds 60]

The real stack (embedded PostgreSQL + Redis, the API under uvicorn: one process, one event loop;
one worker) and the project's LTI test platform as a process, all on loopback. The launches are
paced evenly over `--seconds` (16 browsers at most at once), each a whole launch (the LMS's link,
the tool's login, the platform's authorization, the form post, the landing page); the other user
asks `/users/me` every PROBE_EVERY_S, one request at a time, for as long as the class launches.
Before issue 59 each first launch hashed an unknowable password with Argon2id on the API's event
loop (about 200 ms each), and every request waited behind it. Aim: p50 within 2x of alone.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

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
    verdict,
    write_results,
)
from benchmarks.lti_classroom import PRODUCTION_LIMITS, class_platform, launch

NAME = "lti_event_loop"
PRODUCTION_PASSWORDS = {"MENTORQ_PASSWORD_HASH_MEMORY_KIB": "65536", "MENTORQ_PASSWORD_HASH_TIME_COST": "3"}
PROBE_EVERY_S = 0.2  # 300 a minute: within the production limit of 600 a minute per user
ALONE_S = 15.0
PARALLEL = 16


def probe(api_url: str, token: str, *, until: threading.Event, limit_s: float) -> list[float]:
    """Seconds each `GET /users/me` took, one after another, until `until` is set or `limit_s` passes."""
    latencies: list[float] = []
    deadline = time.monotonic() + limit_s
    with httpx.Client(base_url=api_url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as http:
        while not until.is_set() and time.monotonic() < deadline:
            started = time.perf_counter()
            http.get("/users/me").raise_for_status()
            latencies.append(time.perf_counter() - started)
            time.sleep(PROBE_EVERY_S)
    return latencies


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(NAME, __doc__)
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0, help="the class launches within this time")
    args: argparse.Namespace = parser.parse_args(argv)
    run = begin_run()
    extra_env = {**PRODUCTION_LIMITS, **PRODUCTION_PASSWORDS}
    with bench_stack(llm_provider="ollama", keep=args.keep, extra_env=extra_env) as stack:
        token = start_platform(stack, concurrency=1)
        learners = [f"pupil-{n}" for n in range(args.learners)]
        with class_platform(stack, learners) as platform:
            launch(stack.api_url, platform, "learner")  # the tool fetches the platform's keys once
            alone = probe(stack.api_url, token, until=threading.Event(), limit_s=ALONE_S)

            done = threading.Event()
            started = time.monotonic()

            def paced(index_and_name: tuple[int, str]) -> tuple[float, int]:
                index, name = index_and_name
                time.sleep(max(0.0, started + index * args.seconds / args.learners - time.monotonic()))
                return launch(stack.api_url, platform, name)

            with (
                ThreadPoolExecutor(max_workers=1) as prober,
                ThreadPoolExecutor(max_workers=PARALLEL) as pool,
            ):
                probing = prober.submit(probe, stack.api_url, token, until=done, limit_s=args.seconds * 3)
                try:
                    class_ = list(pool.map(paced, enumerate(learners)))
                finally:
                    done.set()
                busy = probing.result()
            wall = time.monotonic() - started
    alone_ms, busy_ms = latency_summary_ms(alone), latency_summary_ms(busy)
    refused = [status for _, status in class_ if status != 200]
    slowdown = ratio(busy_ms["p50_ms"], alone_ms["p50_ms"])
    print_table(
        ["another user's GET /users/me", "requests", "p50 ms", "p95 ms", "max ms"],
        [
            [
                "alone",
                str(len(alone)),
                fmt(alone_ms["p50_ms"]),
                fmt(alone_ms["p95_ms"]),
                fmt(alone_ms["max_ms"]),
            ],
            [
                f"while {args.learners} learners launch ({wall:.0f} s)",
                str(len(busy)),
                fmt(busy_ms["p50_ms"]),
                fmt(busy_ms["p95_ms"]),
                fmt(busy_ms["max_ms"]),
            ],
        ],
        title="the API's event loop while a class launches (production password cost)",
    )
    print(f"  launches: {len(class_) - len(refused)} landed, {len(refused)} refused {sorted(set(refused))}")
    print(f"  p50 {fmt(slowdown)}x alone {verdict(slowdown is not None and slowdown <= 2.0)} (aim within 2x)")
    path = write_results(
        NAME,
        {
            "machine": run.machine,
            "args": vars(args),
            "alone": alone_ms,
            "while_launching": busy_ms,
            "p50_ratio": slowdown,
            "launches": len(class_),
            "refused": refused,
            "wall_s": wall,
        },
    )
    print(f"results: {path}  ({run.total.elapsed():.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
