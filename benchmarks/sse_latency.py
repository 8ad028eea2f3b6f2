"""SSE latency: a worker's first token -> the client's first SSE `output` event, beside a Redis subscriber.

    .venv/bin/python -m benchmarks.sse_latency [--jobs 50] [--token-delay 0.02] [--warmup 5]

Starts, on loopback only: embedded PostgreSQL + Redis (migrated), the API under uvicorn, one
platform worker on `-Q llm,embed,query,cpu,io,maintenance` (prefork, concurrency 2), and an in-process fake
Ollama server that streams its reply word by word, `--token-delay` seconds apart.

Per job (one at a time, so every figure is an unloaded latency):

1. POST /v1/jobs {"kind": "chat"}.
2. Two receivers in this process, each on its own thread: a raw Redis pub/sub client subscribed
   to `mentorq:job:{id}` (the worker's channel; waits for the SUBSCRIBE confirmation), and an SSE
   client on GET /v1/jobs/{id}/events (ready once the replayed `queued` status event arrived:
   the API subscribes before it reads the replay, so its hub is listening by then).
3. Only then does the fake Ollama send the first token: its handler waits on a gate until both
   receivers are ready, so neither can miss the first `output` event. The fake stamps
   time.monotonic() right after flushing the first NDJSON chunk (the LLM's first token leaves).
4. Each receiver stamps time.monotonic() (and time.time()) when the first `output` event arrives.
   Both receivers check that it is the same event (the same event id).

Figures: first token -> Redis, first token -> SSE, and SSE - Redis (what the API relay adds:
the hub's fan-out, the stream's database read of the new events, the frame over HTTP). One
process, one monotonic clock. Also, with the wall clock: the event's `at` (PostgreSQL now() of
the transaction that recorded the token) -> arrival at each receiver (same machine, same clock).
Nothing is asserted; the issue gives no number to meet, so there is no PASS/MISS line for a
target, only the relay ratio and the zero-loss checks.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import redis

from benchmarks._harness import (
    WORKER_QUEUES,
    CpuMeter,
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
from core.channels import job_channel
from mentorq.sse import iter_sse
from tests.support.fake_ollama import FakeOllama, _Handler

NAME = "sse_latency"
REPLY = (
    "Streaming lets a learner read the first words of an answer while the model is still "
    "writing the rest of it, so the wait feels shorter than it is."
)  # 29 word-sized tokens
GATE_TIMEOUT_S = 30.0
JOB_TIMEOUT_S = 60.0


# --------------------------------------------------------------------------- the gated fake LLM


class Gate:
    """Holds the fake's first token until the benchmark says both receivers listen; stamps it."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.arrived = threading.Event()  # the worker's /api/chat request reached the fake
        self.first_token_mono: float | None = None
        self.first_token_wall: float | None = None
        self.timed_out = 0

    def reset(self) -> None:
        self.open.clear()
        self.arrived.clear()
        self.first_token_mono = self.first_token_wall = None


class GatedHandler(_Handler):
    """The fake Ollama's handler, with the first streamed chunk held at the gate and stamped."""

    def _stream(self, chunks: list[dict], token_delay_s: float | None = None) -> None:
        gate: Gate = self.server.gate  # type: ignore[attr-defined]
        gate.arrived.set()
        if not gate.open.wait(GATE_TIMEOUT_S):
            gate.timed_out += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        delay = self.fake.token_delay_s if token_delay_s is None else token_delay_s
        try:
            for i, chunk in enumerate(chunks):
                if i and delay:
                    time.sleep(delay)
                line = json.dumps(chunk).encode() + b"\n"
                self.wfile.write(f"{len(line):X}\r\n".encode() + line + b"\r\n")
                self.wfile.flush()
                if i == 0:
                    gate.first_token_mono, gate.first_token_wall = time.monotonic(), time.time()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def gated_fake(token_delay_s: float) -> tuple[FakeOllama, Gate]:
    fake = FakeOllama(reply=REPLY, token_delay_s=token_delay_s)
    gate = Gate()
    fake._server.RequestHandlerClass = GatedHandler  # same server, gated handler
    fake._server.gate = gate  # type: ignore[attr-defined]
    return fake.start(), gate


# --------------------------------------------------------------------------- receivers


@dataclass
class Arrival:
    mono: float | None = None
    wall: float | None = None
    event_id: int | None = None
    at: str | None = None  # the event's recorded time (PostgreSQL now() of its transaction)
    delta: str | None = None
    error: str | None = None
    outputs: int = 0  # output events seen in total
    done: bool = False
    ready: threading.Event = field(default_factory=threading.Event)
    first: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)


def redis_receiver(redis_url: str, job_id: str, arrival: Arrival, stop: threading.Event) -> None:
    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    try:
        pubsub.subscribe(job_channel(job_id))
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while time.monotonic() < deadline and not stop.is_set():
            message = pubsub.get_message(timeout=0.5)
            if message is None:
                continue
            if message["type"] == "subscribe":
                arrival.ready.set()
                continue
            if message["type"] != "message":
                continue
            mono, wall = time.monotonic(), time.time()
            event = json.loads(message["data"])
            if event.get("type") == "output":
                arrival.outputs += 1
                if arrival.mono is None:
                    arrival.mono, arrival.wall = mono, wall
                    arrival.event_id, arrival.at = event.get("id"), event.get("at")
                    arrival.delta = (event.get("data") or {}).get("delta")
                    arrival.first.set()
            if event.get("type") in ("succeeded", "failed", "canceled"):
                arrival.done = True
                break
    except Exception as error:  # noqa: BLE001 - reported, not raised
        arrival.error = f"{type(error).__name__}: {error}"
    finally:
        arrival.ready.set()
        arrival.first.set()
        arrival.finished.set()
        pubsub.close()
        client.close()


def sse_receiver(api_url: str, token: str, job_id: str, arrival: Arrival) -> None:
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    timeout = httpx.Timeout(JOB_TIMEOUT_S, connect=10)
    try:
        with (
            httpx.Client(base_url=api_url, timeout=timeout) as http,
            http.stream("GET", f"/v1/jobs/{job_id}/events", headers=headers) as response,
        ):
            if response.status_code != 200:
                arrival.error = f"HTTP {response.status_code}"
                return
            deadline = time.monotonic() + JOB_TIMEOUT_S
            for event in iter_sse(response.iter_lines()):
                mono, wall = time.monotonic(), time.time()
                if event.event == "status" and not arrival.ready.is_set():
                    arrival.ready.set()  # the replay arrived: the API's hub subscribed before reading it
                elif event.event == "output":
                    arrival.outputs += 1
                    if arrival.mono is None:
                        arrival.mono, arrival.wall = mono, wall
                        arrival.event_id, arrival.at = event.id, (event.data or {}).get("at")
                        arrival.delta = ((event.data or {}).get("data") or {}).get("delta")
                        arrival.first.set()
                elif event.event == "done":
                    arrival.done = True
                    return
                if time.monotonic() > deadline:
                    arrival.error = "timeout"
                    return
    except Exception as error:  # noqa: BLE001
        arrival.error = f"{type(error).__name__}: {error}"
    finally:
        arrival.ready.set()
        arrival.first.set()
        arrival.finished.set()


# --------------------------------------------------------------------------- one job


@dataclass
class Sample:
    ok: bool
    error: str | None = None
    token_to_redis_s: float | None = None
    token_to_sse_s: float | None = None
    sse_minus_redis_s: float | None = None
    at_to_redis_s: float | None = None  # wall clock: the event's recorded `at` -> arrival
    at_to_sse_s: float | None = None
    token_wall_to_at_s: float | None = None  # the fake's first token (wall) -> the event's `at`
    outputs_redis: int = 0
    outputs_sse: int = 0


def _parse_at(value: str | None) -> float | None:
    try:
        return datetime.fromisoformat(value).timestamp() if value else None
    except ValueError:
        return None


def one_job(http: httpx.Client, api_url: str, token: str, redis_url: str, gate: Gate) -> Sample:
    gate.reset()
    response = http.post("/v1/jobs", json={"kind": "chat", "input": {"prompt": "Why stream tokens?"}})
    if response.status_code not in (200, 201, 202):
        gate.open.set()
        return Sample(False, f"POST {response.status_code}")
    job_id = response.json()["id"]
    via_redis, via_sse, stop = Arrival(), Arrival(), threading.Event()
    threads = [
        threading.Thread(target=redis_receiver, args=(redis_url, job_id, via_redis, stop), daemon=True),
        threading.Thread(target=sse_receiver, args=(api_url, token, job_id, via_sse), daemon=True),
    ]
    for thread in threads:
        thread.start()
    ready = via_redis.ready.wait(20) and via_sse.ready.wait(20)
    gate.open.set()  # the first token may go now
    if not ready:
        stop.set()
        return Sample(False, "receivers not ready")
    via_sse.finished.wait(JOB_TIMEOUT_S)
    via_redis.finished.wait(5)
    stop.set()
    for thread in threads:
        thread.join(5)

    error = via_redis.error or via_sse.error
    if error is None and not via_sse.done:
        error = "no done event"
    if error is None and (via_redis.mono is None or via_sse.mono is None):
        error = "no output event"
    if error is None and via_redis.event_id != via_sse.event_id:
        error = f"different first events (redis {via_redis.event_id}, sse {via_sse.event_id})"
    if error is None and gate.first_token_mono is None:
        error = "the fake never sent a token"
    sample = Sample(error is None, error, outputs_redis=via_redis.outputs, outputs_sse=via_sse.outputs)
    if error is None:
        sample.token_to_redis_s = via_redis.mono - gate.first_token_mono
        sample.token_to_sse_s = via_sse.mono - gate.first_token_mono
        sample.sse_minus_redis_s = via_sse.mono - via_redis.mono
        at = _parse_at(via_redis.at)
        if at is not None:
            sample.at_to_redis_s = via_redis.wall - at
            sample.at_to_sse_s = via_sse.wall - at
            sample.token_wall_to_at_s = at - gate.first_token_wall
    return sample


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argument_parser(NAME, __doc__)
    add = parser.add_argument
    add("--jobs", type=int, default=50, help="measured chat jobs, one at a time (default 50)")
    add("--warmup", type=int, default=5, help="uncounted jobs first (default 5)")
    add("--token-delay", type=float, default=0.02, help="seconds between the fake's tokens (default 0.02)")
    add("--concurrency", type=int, default=2, help="worker prefork processes (default 2)")
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.warmup < 0 or args.concurrency < 1 or not 0 <= args.token_delay <= 1:
        parser.error("--jobs >= 1, --warmup >= 0, --concurrency >= 1, 0 <= --token-delay <= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = begin_run()
    total, machine = run.total, run.machine
    fake, gate = gated_fake(args.token_delay)
    try:
        # Production keep-alive (the test stack's 1 s would wake every idle stream each second).
        extra = {"MENTORQ_SSE_KEEPALIVE_SECONDS": "15"}
        with bench_stack(
            ollama_url=fake.url, llm_provider="ollama", keep=args.keep, extra_env=extra
        ) as stack:
            token = start_platform(stack, concurrency=args.concurrency)
            # A gpu worker's children load the embedding model in the background when they start.
            quiet_s = wait_for_quiet({"worker": stack.processes["worker"].pid})
            print(f"worker quiet after {quiet_s:.0f} s (embedding model warm-up)", flush=True)
            meter = CpuMeter(
                {
                    "api": stack.processes["api"].pid,
                    "worker": stack.processes["worker"].pid,
                    "postgres": stack.postgres.pid,
                    "redis": stack.redis.pid,
                    "bench_process": os.getpid(),
                },
                self_only=["bench_process"],
            )
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=stack.api_url, headers=headers, timeout=30) as http:
                if args.warmup:
                    print(f"warming up: {args.warmup} jobs ...", flush=True)
                    warm = [
                        one_job(http, stack.api_url, token, stack.redis.url, gate) for _ in range(args.warmup)
                    ]
                    if any(not s.ok for s in warm):
                        print(f"warning: warm-up errors: {[s.error for s in warm if not s.ok]}", flush=True)
                print(f"measuring: {args.jobs} chat jobs, one at a time ...", flush=True)
                meter.start()
                started = time.perf_counter()
                samples = [
                    one_job(http, stack.api_url, token, stack.redis.url, gate) for _ in range(args.jobs)
                ]
                wall = time.perf_counter() - started
                cpu = meter.stop()
    finally:
        fake.stop()
    report = _report(args, samples, wall, cpu, gate, machine, total.elapsed())
    report["worker_warmup_wait_s"] = round(quiet_s, 1)
    path = write_results(NAME, report)
    print(f"\nfigures written to {path.relative_to(path.parents[2])}; whole run {total.elapsed():.0f} s")
    return 0


def _summary(values: list[float | None]) -> dict[str, Any]:
    present = [v for v in values if v is not None]
    return {"n": len(present), **latency_summary_ms(present)}


def _report(
    args,
    samples: list[Sample],
    wall: float,
    cpu: dict[str, float],
    gate: Gate,
    machine: dict[str, Any],
    elapsed: float,
) -> dict[str, Any]:
    good = [s for s in samples if s.ok]
    errors: dict[str, int] = {}
    for s in samples:
        if not s.ok:
            errors[s.error or "?"] = errors.get(s.error or "?", 0) + 1
    figures = {
        "token_to_redis": _summary([s.token_to_redis_s for s in good]),
        "token_to_sse": _summary([s.token_to_sse_s for s in good]),
        "sse_minus_redis": _summary([s.sse_minus_redis_s for s in good]),
        "at_to_redis_wall": _summary([s.at_to_redis_s for s in good]),
        "at_to_sse_wall": _summary([s.at_to_sse_s for s in good]),
        "token_wall_to_at": _summary([s.token_wall_to_at_s for s in good]),
    }
    redis_f, sse_f, diff = figures["token_to_redis"], figures["token_to_sse"], figures["sse_minus_redis"]

    print()
    print(
        f"SSE latency — {len(samples)} chat jobs one at a time, fake Ollama token_delay "
        f"{args.token_delay} s, "
        f"worker prefork {args.concurrency}, {machine['cpus_usable']} CPUs ({machine['cpu_model']}), "
        f"{machine['date']}"
    )
    rows = [
        [
            "first token -> direct Redis subscriber",
            redis_f["n"],
            redis_f["p50_ms"],
            redis_f["p95_ms"],
            redis_f["max_ms"],
            "1.00x",
        ],
        [
            "first token -> SSE client (API relay)",
            sse_f["n"],
            sse_f["p50_ms"],
            sse_f["p95_ms"],
            sse_f["max_ms"],
            f"{fmt(ratio(sse_f['p50_ms'], redis_f['p50_ms']), 2)}x",
        ],
        [
            "SSE arrival - Redis arrival (same event)",
            diff["n"],
            diff["p50_ms"],
            diff["p95_ms"],
            diff["max_ms"],
            "",
        ],
    ]
    print_table(["monotonic clock, one process", "jobs", "p50 ms", "p95 ms", "max ms", "p50 vs Redis"], rows)
    wall_rows = [
        ["fake's first token -> event `at` (worker: receive, begin txn)", figures["token_wall_to_at"]],
        ["event `at` -> direct Redis subscriber", figures["at_to_redis_wall"]],
        ["event `at` -> SSE client", figures["at_to_sse_wall"]],
    ]
    print()
    print_table(
        ["wall clock (time.time vs PostgreSQL now())", "p50 ms", "p95 ms"],
        [[label, f["p50_ms"], f["p95_ms"]] for label, f in wall_rows],
    )
    same_counts = sum(s.outputs_redis == s.outputs_sse for s in good)
    print()
    checks = [
        [
            "every job: first output reached both receivers, same event id",
            f"{len(good)}/{len(samples)}",
            verdict(len(good) == len(samples)),
        ],
        [
            "same number of output events on both receivers",
            f"{same_counts}/{len(good)}",
            verdict(same_counts == len(good)),
        ],
        [
            "gate never timed out (receivers ready before the first token)",
            str(gate.timed_out),
            verdict(gate.timed_out == 0),
        ],
    ]
    print_table(["check", "measured", "verdict"], checks)
    if errors:
        print(f"errors: {json.dumps(errors)}")
    per_job = {name: round(1000 * sec / len(samples), 2) for name, sec in cpu.items()}
    print(f"CPU ms per job (user+sys): {json.dumps(per_job)}; measured phase {wall:.1f} s")
    outputs = [s.outputs_sse for s in good]
    if outputs:
        print(
            f"output events per job (coalesced every 100 ms by the worker): median "
            f"{sorted(outputs)[len(outputs) // 2]}, reply of {len(REPLY.split())} tokens"
        )
    return {
        "benchmark": NAME,
        "machine": machine,
        "settings": {
            "jobs": args.jobs,
            "warmup": args.warmup,
            "token_delay_s": args.token_delay,
            "worker": f"-Q {WORKER_QUEUES} prefork {args.concurrency}",
            "reply_tokens": len(REPLY.split()),
            "sse_keepalive_s": 15,
        },
        "figures": figures,
        "errors": errors,
        "gate_timeouts": gate.timed_out,
        "cpu_s": cpu,
        "cpu_ms_per_job": per_job,
        "measured_wall_s": round(wall, 2),
        "samples": [s.__dict__ for s in samples],
        "elapsed_s": round(elapsed, 1),
    }


if __name__ == "__main__":
    sys.exit(main())
