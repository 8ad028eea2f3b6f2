"""The GPU host's lanes: LLM fan-in, head-of-line blocking and per-user fairness, before and after.

    .venv/bin/python -m benchmarks.llm_lanes [--jobs 100] [--backlog 200]

The real stack (embedded PostgreSQL + Redis, the API under uvicorn, Celery workers) against the
fake Ollama acting as a GPU server: `--slots` generations at once (OLLAMA_NUM_PARALLEL), each
paying a prefill delay then a delay per token; requests past the slots wait their turn. Two
topologies in one run, on the same stack:

- before: what compose ran until issue 12: one worker on the model queues, prefork, concurrency 1
  (`-Q llm,embed,query`: the old `worker-gpu`), plus `-Q cpu,maintenance`;
- lanes: `worker-llm` (threads x slots), `worker-query` (one process), and `-Q embed,cpu,maintenance`.

Phases, for each topology:
1. fan-in: `--jobs` chat jobs from 10 users submitted at once; aggregate generated tokens/s from
   the first submit to the last job done, against the server's capacity (every slot busy all the
   time: slots x tokens per job / (prefill + tokens x token delay)). Aim (lanes): >= 0.9.
2. head-of-line: hybrid search p95 (`POST /v1/search`, k 10) on the idle stack, then while 20 long
   LLM jobs (5x the tokens delay) are queued and running. Aim (lanes): within 1.5x of idle.
Then, lanes only: 3. fairness: user A submits `--backlog` jobs, then user B one; B's wait (its job's
queue_ms) against one job's run time, with per-user admission (MENTORQ_LLM_USER_SLOTS = slots)
and without it (0, through a second API process). Aim: B waits at most one job's run time per slot.

Nothing is asserted (PASS/MISS against the aims is printed).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import time
import uuid

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
from tests.support.fake_ollama import FakeOllama
from tests.support.stack import Stack

NAME = "llm_lanes"
USERS = 10
LONG_JOBS = 20
SEARCH = {"query": "how does spaced repetition work?", "k": 10, "mode": "hybrid"}
TOPOLOGIES = {
    "before": [
        ("worker-gpu", "llm,embed,query", 1, "prefork"),
        ("worker-cpu", "cpu,maintenance", 1, "prefork"),
    ],
    "lanes": [
        ("worker-llm", "llm", None, "threads"),
        ("worker-query", "query", 1, "prefork"),
        ("worker-rest", "embed,cpu,maintenance", 1, "prefork"),
    ],
}


def reply_of(tokens: int) -> str:
    return " ".join(f"word{i}" for i in range(tokens)) + "."


def client(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120)


def submit_many(url: str, token: str, prompts: list[str]) -> list[str]:
    with client(url, token) as http:
        ids = []
        for prompt in prompts:
            response = http.post("/v1/jobs", json={"kind": "chat", "input": {"prompt": prompt}})
            response.raise_for_status()
            ids.append(response.json()["id"])
        return ids


def wait_done(stack: Stack, ids: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = stack.sql(
            "SELECT count(*) FROM jobs WHERE id = ANY(%s::uuid[]) "
            "AND status IN ('succeeded', 'failed', 'canceled')",
            ids,
        )[0][0]
        if done == len(ids):
            return
        time.sleep(0.1)
    raise TimeoutError(f"{len(ids)} jobs not done in {timeout:.0f} s")


def start_topology(stack: Stack, name: str, slots: int) -> None:
    for worker, queues, concurrency, pool in TOPOLOGIES[name]:
        stack.start_worker(worker, queues=queues, concurrency=concurrency or slots, pool=pool)
    wait_for_quiet({worker: stack.processes[worker].pid for worker, *_ in TOPOLOGIES[name]})


def stop_topology(stack: Stack, name: str) -> None:
    for worker, *_ in TOPOLOGIES[name]:
        stack.stop(worker)


def fan_in(stack: Stack, fake: FakeOllama, tokens: list[str], jobs: int, capacity: float, slots: int) -> dict:
    per_user = [[f"fan-in {uuid.uuid4().hex} {i}" for i in range(u, jobs, USERS)] for u in range(USERS)]
    generated, busy = fake.generated_tokens, fake.busy_s
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(USERS) as pool:
        ids = [i for batch in pool.map(submit_many, [stack.api_url] * USERS, tokens, per_user) for i in batch]
    wait_done(stack, ids, timeout=600)
    wall = time.perf_counter() - started
    rate = (fake.generated_tokens - generated) / wall
    return {
        "jobs": jobs,
        "wall_s": wall,
        "tokens_per_s": rate,
        "capacity_tokens_per_s": capacity,
        "of_capacity": rate / capacity,
        # The platform's share alone: how much of the time the server's slots held a generation
        # (the fake's own overhead, on the same two cores, lowers tokens/s but not this).
        "slot_occupancy": (fake.busy_s - busy) / (slots * wall),
        "peak_running": fake.peak_running,
    }


def searches(http: httpx.Client, *, seconds: float, at_most: int) -> tuple[list[float], int]:
    latencies, errors = [], 0
    end = time.monotonic() + seconds
    while time.monotonic() < end and len(latencies) < at_most:
        began = time.perf_counter()
        response = http.post("/v1/search", json=SEARCH)
        latencies.append(time.perf_counter() - began)
        errors += response.status_code != 200
        time.sleep(0.1)
    return latencies, errors


def head_of_line(stack: Stack, fake: FakeOllama, token: str, token_delay: float) -> dict:
    with client(stack.api_url, token) as http:
        for _ in range(5):
            http.post("/v1/search", json=SEARCH)
        idle, idle_errors = searches(http, seconds=6, at_most=40)
        fake.token_delay_s = token_delay * 5
        ids = submit_many(stack.api_url, token, [f"long {uuid.uuid4().hex} {i}" for i in range(LONG_JOBS)])
        time.sleep(0.5)
        busy, busy_errors = searches(http, seconds=8, at_most=40)
        for job_id in ids:
            http.post(f"/v1/jobs/{job_id}/cancel")
        wait_done(stack, ids, timeout=600)
        fake.token_delay_s = token_delay
    idle_ms, busy_ms = latency_summary_ms(idle), latency_summary_ms(busy)
    return {
        "idle": idle_ms,
        "idle_errors": idle_errors,
        "busy": busy_ms,
        "busy_errors": busy_errors,
        "p95_ratio": ratio(busy_ms["p95_ms"], idle_ms["p95_ms"]),
    }


def fairness(stack: Stack, api_url: str, backlog: int) -> dict:
    heavy, light = register_token(api_url), register_token(api_url)
    heavy_ids = submit_many(api_url, heavy, [f"backlog {uuid.uuid4().hex} {i}" for i in range(backlog)])
    (single,) = submit_many(api_url, light, ["just one"])
    wait_done(stack, [*heavy_ids, single], timeout=900)
    with client(api_url, light) as http:
        mine = http.get(f"/v1/jobs/{single}").json()
    run_ms = stack.sql(
        "SELECT percentile_cont(0.5) WITHIN GROUP "
        "(ORDER BY extract(epoch FROM completed_at - started_at) * 1000) "
        "FROM jobs WHERE id = ANY(%s::uuid[])",
        heavy_ids,
    )[0][0]
    return {"b_queue_ms": mine["metrics"]["queue_ms"], "job_run_ms_p50": float(run_ms)}


def main(argv: list[str] | None = None) -> int:
    parser: argparse.ArgumentParser = argument_parser(NAME, __doc__)
    add = parser.add_argument
    add("--jobs", type=int, default=100, help="chat jobs in the fan-in (default 100)")
    add("--slots", type=int, default=4, help="the fake server's parallel slots = MENTORQ_LLM_PARALLEL (4)")
    add("--tokens", type=int, default=50, help="tokens per answer (default 50: a short paragraph)")
    add("--token-delay", type=float, default=0.02, help="seconds per token (default 0.02)")
    add("--prefill", type=float, default=0.02, help="seconds of prefill per request (default 0.02)")
    add("--backlog", type=int, default=200, help="user A's jobs in the fairness phase (default 200)")
    args = parser.parse_args(argv)
    run = begin_run()
    fake = FakeOllama(
        slots=args.slots,
        token_delay_s=args.token_delay,
        prefill_delay_s=args.prefill,
        reply=reply_of(args.tokens),
    ).start()
    capacity = args.slots * args.tokens / (args.prefill + args.tokens * args.token_delay)
    results: dict = {"machine": run.machine, "args": vars(args), "topologies": {}}
    env = {"MENTORQ_LLM_PARALLEL": str(args.slots), "MENTORQ_MAX_ACTIVE_JOBS_PER_USER": "100000"}
    try:
        with bench_stack(ollama_url=fake.url, llm_provider="ollama", keep=args.keep, extra_env=env) as stack:
            stack.start_api()
            tokens = [register_token(stack.api_url) for _ in range(USERS)]
            for name in TOPOLOGIES:
                print(f"topology {name}: {TOPOLOGIES[name]}", flush=True)
                start_topology(stack, name, args.slots)
                fake.peak_running = 0
                figures = {"fan_in": fan_in(stack, fake, tokens, args.jobs, capacity, args.slots)}
                figures["head_of_line"] = head_of_line(stack, fake, tokens[0], args.token_delay)
                results["topologies"][name] = figures
                if name == "lanes":
                    results["fairness"] = {"admission": fairness(stack, stack.api_url, args.backlog)}
                    with stack.extra_api(MENTORQ_LLM_USER_SLOTS="0") as uncapped:
                        results["fairness"]["no_admission"] = fairness(stack, uncapped, args.backlog)
                stop_topology(stack, name)
    finally:
        fake.stop()

    rows = []
    for name, figures in results["topologies"].items():
        f, h = figures["fan_in"], figures["head_of_line"]
        rows.append(
            [
                name,
                fmt(f["tokens_per_s"]),
                fmt(f["capacity_tokens_per_s"]),
                fmt(f["of_capacity"], 2),
                fmt(f["slot_occupancy"], 2),
                f["peak_running"],
                fmt(h["idle"]["p95_ms"]),
                fmt(h["busy"]["p95_ms"]),
                fmt(h["p95_ratio"], 2),
                h["busy_errors"],
            ]
        )
    print_table(
        [
            "topology",
            "tokens/s",
            "capacity",
            "of capacity",
            "slots busy",
            "peak slots",
            "search p95 idle",
            "p95 busy",
            "busy/idle",
            "search errors",
        ],
        rows,
        title=f"{args.jobs} chat jobs, fake server {args.slots} slots, "
        f"{args.tokens} tokens x {args.token_delay}s + {args.prefill}s prefill; "
        f"{LONG_JOBS} long jobs for head-of-line",
    )
    lanes = results["topologies"]["lanes"]
    print(
        f"fan-in >= 0.9 of capacity: {verdict(lanes['fan_in']['of_capacity'] >= 0.9)}; "
        f"search p95 busy within 1.5x idle: {verdict((lanes['head_of_line']['p95_ratio'] or 99) <= 1.5)}"
    )
    fair = results["fairness"]
    fair_rows = [
        [
            mode,
            fmt(v["b_queue_ms"]),
            fmt(v["job_run_ms_p50"]),
            fmt(ratio(v["b_queue_ms"], v["job_run_ms_p50"]), 2),
        ]
        for mode, v in fair.items()
    ]
    print_table(
        ["per-user cap", "B waited ms", "one job's run ms", "in job times"],
        fair_rows,
        title=f"user B's one job behind user A's {args.backlog} (lanes)",
    )
    within = fair["admission"]["b_queue_ms"] <= fair["admission"]["job_run_ms_p50"] * 1.0 + 250
    print(f"B waits at most one job's run time per slot (admission): {verdict(within)}")
    write_results(NAME, results)
    print(f"total {run.total.elapsed():.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
