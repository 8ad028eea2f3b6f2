"""Progress latency: POST /api/profiles/progress with 100 concurrent learners, beside GET /healthz.

    .venv/bin/python -m benchmarks.progress_latency [--clients 100] [--requests 20] [--rate 1]

Starts, on loopback only: embedded PostgreSQL + Redis (migrated) and the API under uvicorn (one
process, as the test stack runs it). No worker: the synchronous answer is what is measured, and
the `progress_insight` jobs each event submits stay queued (one per learner: a learner's later
events find it queued and join it, which is the platform's normal path during a burst).

C learners, each its own account (registered first, not timed), each on its own asyncio
httpx client. Each records R events of `{completed_task, skills: [2 of 6], score, duration_s}`
(one transaction: the event, BKT mastery, the FSRS card, the insight job and its outbox row).
The same clients, in the same run, send as many GET /healthz (the API's cheapest route: the
baseline for HTTP, uvicorn and the event loop on this machine). Two load shapes, each run for
both routes, baseline first:

- paced: every learner sends one request every 1/--rate seconds (start times spread over
  the first period): C x rate requests/s offered, the original service's "100 concurrent
  clients" of a learning site. The aim applies here: p95 under 50 ms, 0 errors.
- saturated: every learner sends its next request as soon as the last one answered (C in
  flight at all times): what the one API process can do at most; the latency is then mostly
  queueing (C / throughput), printed for capacity planning, not judged.

Latency is client-observed, from sending the request to holding the answer. An error is a
timeout, a connection failure or any status other than 202 (progress) / 200 (healthz).
Nothing is asserted; the aim is printed as PASS/MISS.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from benchmarks._harness import (
    CpuMeter,
    argument_parser,
    begin_run,
    bench_stack,
    fmt,
    latency_summary_ms,
    print_table,
    ratio,
    verdict,
    write_results,
)

NAME = "progress_latency"
SKILLS = ["sql", "joins", "indexes", "python", "recursion", "testing"]
PASSWORD = "correct-horse-battery-staple"
AIM_P95_MS = 50.0
REQUEST_TIMEOUT_S = 30.0


@dataclass
class Phase:
    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def record(self, started: float, answer: httpx.Response | None, expected: int, problem: str = "") -> None:
        if answer is not None and answer.status_code == expected:
            self.latencies_s.append(time.perf_counter() - started)
            return
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(problem or f"{answer.status_code}: {answer.text[:200]}")  # type: ignore[union-attr]

    def summary(self) -> dict[str, Any]:
        sent = len(self.latencies_s) + self.errors
        return {
            **latency_summary_ms(self.latencies_s),
            "requests": sent,
            "errors": self.errors,
            "error_samples": self.error_samples,
            "throughput_rps": sent / self.wall_s if self.wall_s else None,
        }


def progress_event(number: int) -> dict[str, Any]:
    return {
        "completed_task": f"exercise-{number % 25}",
        "skills": random.sample(SKILLS, 2),
        "score": round(random.random(), 2),
        "duration_s": random.randint(30, 900),
    }


async def register_learners(api_url: str, count: int) -> list[str]:
    """`count` fresh accounts (bounded concurrency: password hashing is the API's CPU)."""
    gate = asyncio.Semaphore(8)

    async def one(http: httpx.AsyncClient) -> str:
        email = f"learner-{uuid.uuid4().hex[:12]}@example.com"
        async with gate:
            created = await http.post("/auth/register", json={"email": email, "password": PASSWORD})
            created.raise_for_status()
            login = await http.post("/auth/jwt/login", data={"username": email, "password": PASSWORD})
            login.raise_for_status()
            return login.json()["access_token"]

    async with httpx.AsyncClient(base_url=api_url, timeout=120) as http:
        return list(await asyncio.gather(*(one(http) for _ in range(count))))


async def run_phase(api_url: str, tokens: list[str], *, route: str, requests: int, period_s: float) -> Phase:
    """Every learner sends `requests` requests, one per `period_s` (0: back to back).

    Paced sends follow a schedule fixed before the first one (learner i at t0 + (i/C + k) x period),
    so the offered load stays even whatever the answers do; a learner whose answer comes after its
    next slot sends at once (it never has two requests in flight)."""
    phase = Phase()
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [
        httpx.AsyncClient(
            base_url=api_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=REQUEST_TIMEOUT_S,
            limits=limits,
        )
        for token in tokens
    ]
    loop = asyncio.get_running_loop()

    async def learner(index: int, http: httpx.AsyncClient, t0: float) -> None:
        for number in range(requests):
            if period_s:
                await asyncio.sleep(max(0.0, t0 + (index / len(clients) + number) * period_s - loop.time()))
            started = time.perf_counter()
            try:
                if route == "progress":
                    answer = await http.post("/api/profiles/progress", json=progress_event(number))
                    phase.record(started, answer, 202)
                else:
                    answer = await http.get("/healthz")
                    phase.record(started, answer, 200)
            except httpx.HTTPError as error:
                phase.record(started, None, 0, f"{type(error).__name__}: {error}")

    try:
        started = time.perf_counter()
        t0 = loop.time()
        await asyncio.gather(*(learner(index, http, t0) for index, http in enumerate(clients)))
        phase.wall_s = time.perf_counter() - started
    finally:
        await asyncio.gather(*(http.aclose() for http in clients))
    return phase


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(NAME, __doc__)
    parser.add_argument("--clients", type=int, default=100, help="concurrent learners (default 100)")
    parser.add_argument(
        "--requests", type=int, default=20, help="requests per learner per phase (default 20)"
    )
    parser.add_argument("--rate", type=float, default=1.0, help="paced requests per learner per second")
    args: argparse.Namespace = parser.parse_args(argv)
    run = begin_run()
    results: dict[str, Any] = {"machine": run.machine, "args": vars(args), "phases": {}}

    with bench_stack(llm_provider="ollama", keep=args.keep) as stack:
        print("starting the API ...", flush=True)
        stack.start_api()
        api_pid = stack.processes["api"].pid
        print(f"registering {args.clients} learners ...", flush=True)
        tokens = asyncio.run(register_learners(stack.api_url, args.clients))
        # Warm-up (not counted): every learner's first event creates its mastery rows and card.
        asyncio.run(run_phase(stack.api_url, tokens, route="progress", requests=1, period_s=0))
        asyncio.run(run_phase(stack.api_url, tokens, route="healthz", requests=1, period_s=0))

        rows = []
        for shape, period_s in (("paced", 1.0 / args.rate), ("saturated", 0.0)):
            for route in ("healthz", "progress"):
                meter = CpuMeter({"api": api_pid, "postgres": stack.postgres.pid})
                meter.start()
                print(f"{shape} {route}: {args.clients} clients x {args.requests} ...", flush=True)
                phase = asyncio.run(
                    run_phase(stack.api_url, tokens, route=route, requests=args.requests, period_s=period_s)
                )
                cpu = meter.stop()
                summary = phase.summary() | {"cpu_s": cpu}
                results["phases"][f"{shape}_{route}"] = summary
                rows.append(
                    [
                        shape,
                        "GET /healthz" if route == "healthz" else "POST /api/profiles/progress",
                        summary["requests"],
                        fmt(summary["throughput_rps"]),
                        fmt(summary["p50_ms"]),
                        fmt(summary["p95_ms"]),
                        fmt(summary["p99_ms"]),
                        summary["errors"],
                        fmt(cpu.get("api")),
                    ]
                )
        queued = stack.sql("SELECT count(*) FROM jobs WHERE kind = 'progress_insight'")[0][0]
        events = stack.sql("SELECT count(*) FROM progress_events")[0][0]

    phases = results["phases"]
    paced = phases["paced_progress"]
    results["aim"] = {
        "p95_ms": paced["p95_ms"],
        "errors": paced["errors"],
        "met": paced["p95_ms"] is not None and paced["p95_ms"] < AIM_P95_MS and paced["errors"] == 0,
    }
    results["database"] = {"progress_events": events, "insight_jobs": queued}
    print_table(
        ["load", "route", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "API cpu s"],
        rows,
        title=f"{args.clients} concurrent learners, one API process",
    )
    for shape in ("paced", "saturated"):
        factor = ratio(phases[f"{shape}_progress"]["p95_ms"], phases[f"{shape}_healthz"]["p95_ms"])
        print(f"{shape}: progress p95 / healthz p95 = {fmt(factor, 2)}x")
    print(f"stored: {events} progress events, {queued} insight jobs (one queued per learner at a time)")
    for name, phase in phases.items():
        for sample in phase["error_samples"]:
            print(f"error sample ({name}): {sample}")
    print(
        f"aim: paced p95 < {AIM_P95_MS:.0f} ms with 0 errors: {verdict(results['aim']['met'])} "
        f"(p95 {fmt(paced['p95_ms'])} ms, {paced['errors']} errors)"
    )
    print(f"results: {write_results(NAME, results)}  ({run.total.elapsed():.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
