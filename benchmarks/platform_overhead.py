"""Platform overhead: `chat` jobs over HTTP vs a bare Celery round trip and vs Procrastinate (a
durable PostgreSQL-backed queue), same PostgreSQL, same Redis, same run.

    .venv/bin/python -m benchmarks.platform_overhead [--jobs 1000] [--clients 100] [--concurrency 2]
        [--metrics] [--traces] [--llm-user-slots N] [--idempotency-keys]

Starts, on loopback only: embedded PostgreSQL + Redis (migrated), the API under uvicorn, the
platform's workers (`--topology lanes`: the `llm` lane's threads worker, as production runs it,
and one process on `cpu,io,maintenance`; `one-worker`: one prefork worker on every queue), beat
(unless --no-beat), an in-process fake Ollama server answering instantly (token_delay_s=0), and
a bare Celery worker serving `benchmarks.bare_tasks` (prefork, as many processes as job slots).

Platform path: C asyncio clients (httpx.AsyncClient, one shared bearer token) each POST
/v1/jobs {"kind": "chat", "input": {"prompt": "hi"}} with `Prefer: wait=30`; a 202 (the wait
ran out) falls back to GET /v1/jobs/{id} with the same Prefer until the job ends (with
--idempotency-keys, each POST also carries an Idempotency-Key of its own). Latency is
client-observed, from sending the POST to holding the finished job. An error is an HTTP
error, a timeout, or a job that did not end `succeeded`.

Baseline: C threads each calling `noop.apply_async((i,)).get()`; latency from the call to the
returned value; an error is an exception or a wrong value.

Peer: Procrastinate on the same PostgreSQL (benchmarks/procrastinate_peer.py says how): as many
worker processes as the platform's worker has slots, C clients deferring a no-op job and waiting
for it to end. A durable queue's cost per job, without HTTP: the bar issue 30 sets (CPU per job
of the platform's API, worker, PostgreSQL and Redis within 2x Procrastinate's whole path).
The peer also runs the platform's chat job's own work (the same completion streamed from a fake
Ollama of its own through the official client): what a team would run on either, printed beside
the issues' aims, not instead of them.

Floor: benchmarks/framework_floor.py, a bare FastAPI route under the same uvicorn command, sent
the platform's requests by the same clients; its CPU per request plus the bare Celery task's and
Redis's is what a job through FastAPI and Celery cannot go below (printed beside the peer).

`--metrics` runs the platform's metrics as production does (core/metrics/): each worker counts into
its own PROMETHEUS_MULTIPROC_DIR (as `mentorq worker` sets it) and serves them on a port, and a
scraper in this process GETs the API's /metrics and both workers' every second (Prometheus's
default is 15 s). Their CPU is the API's and the workers': it is in the path's figures. Without it
the processes still count in memory (the code always counts) but nothing is served or scraped.

`--traces` turns on the platform's traces (core/tracing.py): every API and worker process exports
its spans over OTLP/HTTP to a collector in this process (tests/support/otlp_collector.py, which
keeps them; its CPU is the bench process's, not the path's).

Every path is warmed up first (not counted); then the baseline runs N calls, the peer N no-op
jobs and N chat jobs, the platform N jobs and the floor N requests (the five repeat per --rounds),
then the first four again with one client (the unloaded round trip, and each one's fixed cost per job: server
side, created -> completed).
Throughput is N / wall time of the phase. CPU seconds of every process are recorded per phase.
Nothing is asserted: the aims are printed as PASS/MISS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import ssl
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from benchmarks import procrastinate_peer
from benchmarks._harness import (
    WORKER_QUEUES,
    CpuMeter,
    argument_parser,
    begin_run,
    bench_stack,
    count_in_log,
    fmt,
    latency_summary_ms,
    log_size,
    print_table,
    python,
    ratio,
    register_token,
    spawn,
    start_platform,
    verdict,
    write_results,
)
from core.metrics.processes import share_across_processes
from tests.support.fake_ollama import FakeOllama
from tests.support.otlp_collector import Collector
from tests.support.stack import METRICS_TOKEN, Stack, free_port, wait_until

NAME = "platform_overhead"
TERMINAL = {"succeeded", "failed", "canceled"}
CHAT_BODY = {"kind": "chat", "input": {"prompt": "hi"}}

AIM_THROUGHPUT_RATIO = 0.5  # platform jobs/s >= 0.5 x bare Celery
AIM_P50_RATIO = 4.0  # platform p50 <= 4 x bare Celery p50
# Issue 30, against the peer in the same run:
AIM_PEER_CPU_RATIO = 2.0  # platform CPU per job (API, worker, PostgreSQL, Redis) <= 2x the peer's whole path
AIM_PEER_THROUGHPUT_RATIO = 0.5  # platform jobs/s through HTTP >= 0.5x the peer's
AIM_FLOOR_THROUGHPUT_RATIO = 0.6  # issue 63: jobs/s >= 0.6x the bare FastAPI route, same clients
AIM_PEER_SERVER_SIDE_RATIO = 3.0  # one client, created -> completed <= 3x the peer's
# Whose CPU makes each path's cost per job. The platform's load generator (HTTP clients) is not
# its cost; the peer's clients and poller are (deferring is its producer's work, as the API's is).
PLATFORM_PATH = ("api", "worker", "worker_rest", "beat", "postgres", "redis")
PEER_PATH_FIXED = ("postgres", "bench_process")
# The framework's floor (benchmarks/framework_floor.py): FastAPI's request, measured alone, plus the
# bare Celery worker's task and Redis from the baseline's phase.
FLOOR_PATH = (("framework_floor", "floor_api"), ("bare_celery", "bare_worker"), ("bare_celery", "redis"))
PLATFORM_WORKERS = ("worker", "worker-rest")  # their logs (worker-rest: with --topology lanes)

# As many job slots as cores (2 here): the llm lane's threads (or, with one-worker, prefork
# processes) and the bare Celery worker's processes. With the LLM answering
# instantly a chat job is CPU on these two cores plus round trips: the worker's own Python
# (claim, progress, output events, finish: SQLAlchemy, pydantic, the ollama client) and what it
# makes PostgreSQL, Redis and the fake Ollama do, while the API and the load generator share the
# same cores. One process leaves a core idle whenever it waits on a round trip (about half the
# throughput in a trial here); more than two only add context switches and memory (4 gave no
# more jobs/s than 2, with longer run times). `--concurrency` lets you check that on your machine.
DEFAULT_CONCURRENCY = 2


@dataclass
class Outcome:
    latency_s: float
    ok: bool
    error: str | None = None
    fallbacks: int = 0  # GETs needed after the POST's wait ran out
    queue_ms: int | None = None
    run_ms: int | None = None
    # created_at -> completed_at, as the job row says, to the microsecond: whole milliseconds cut a
    # 3.9 ms peer to 3 and a 10.9 ms platform to 10, and the fixed cost's ratio is of those two
    server_ms: float | None = None


# --------------------------------------------------------------------------- platform path


def _server_ms(job: dict[str, Any]) -> float | None:
    try:
        created = datetime.fromisoformat(job["created_at"])
        completed = datetime.fromisoformat(job["completed_at"])
    except (KeyError, TypeError, ValueError):
        return None
    return (completed - created).total_seconds() * 1000


async def _one_job(
    http: httpx.AsyncClient, *, wait_s: int, job_timeout_s: float, idempotent: bool = False
) -> Outcome:
    started = time.perf_counter()
    prefer = {"Prefer": f"wait={wait_s}"}
    # A client that retries safely sends a key of its own with each new job (README: Idempotency-Key).
    submit_headers = prefer | {"Idempotency-Key": str(uuid.uuid4())} if idempotent else prefer
    fallbacks = 0

    def failed(reason: str) -> Outcome:
        return Outcome(time.perf_counter() - started, False, reason, fallbacks)

    try:
        response = await http.post("/v1/jobs", json=CHAT_BODY, headers=submit_headers)
        if response.status_code not in (200, 202):
            return failed(f"POST {response.status_code}")
        job = response.json()
        while job["status"] not in TERMINAL:
            if time.perf_counter() - started > job_timeout_s:
                return failed("timeout")
            fallbacks += 1
            response = await http.get(f"/v1/jobs/{job['id']}", headers=prefer)
            if response.status_code != 200:
                return failed(f"GET {response.status_code}")
            job = response.json()
    except httpx.HTTPError as error:
        return failed(type(error).__name__)
    latency = time.perf_counter() - started
    metrics = job.get("metrics") or {}
    ok = job["status"] == "succeeded"
    return Outcome(
        latency,
        ok,
        None if ok else f"job {job['status']}: {(job.get('error') or {}).get('code')}",
        fallbacks,
        metrics.get("queue_ms"),
        metrics.get("run_ms"),
        _server_ms(job),
    )


async def _platform_phase(
    api_url: str,
    token: str,
    *,
    jobs: int,
    clients: int,
    wait_s: int,
    job_timeout_s: float,
    idempotent: bool = False,
) -> tuple[list[Outcome], float]:
    # One connection per client, each its own AsyncClient: one shared pool of 100 connections
    # costs httpcore a scan of every connection per request, and in a run measured that way the
    # load generator took 15-22 ms of CPU per job from the two cores the platform runs on.
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    timeout = httpx.Timeout(wait_s + 30.0, connect=10.0)
    headers = {"Authorization": f"Bearer {token}"}
    # The clients are made before the clock starts, with one TLS context (none is spoken here):
    # each AsyncClient loads the CA bundle into a context of its own, 30 ms of the event loop, and
    # 100 of them made inside the phase put 3-5 s of the load generator's setup before the first
    # job (the platform's first job row was written 4.7 s into an 11.7 s phase).
    tls = ssl.create_default_context()
    todo = iter(range(jobs))  # one event loop: next() needs no lock
    outcomes: list[Outcome] = []

    async def client(http: httpx.AsyncClient) -> None:
        for _ in todo:
            outcomes.append(
                await _one_job(http, wait_s=wait_s, job_timeout_s=job_timeout_s, idempotent=idempotent)
            )

    async with contextlib.AsyncExitStack() as opened:
        settings = dict(base_url=api_url, headers=headers, limits=limits, timeout=timeout, verify=tls)
        https = [await opened.enter_async_context(httpx.AsyncClient(**settings)) for _ in range(clients)]
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for http in https))
        wall = time.perf_counter() - started
    return outcomes, wall


def run_platform(api_url: str, token: str, **kwargs: Any) -> tuple[list[Outcome], float]:
    return asyncio.run(_platform_phase(api_url, token, **kwargs))


# --------------------------------------------------------------------------- bare Celery path


def run_bare(*, jobs: int, clients: int, job_timeout_s: float) -> tuple[list[Outcome], float]:
    from benchmarks.bare_tasks import noop  # reads BENCH_REDIS_URL on import

    todo = itertools.count()  # next() on a count is atomic under the GIL
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def caller() -> None:
        # Celery gives each thread its own result backend (app.backend is thread-local).
        while (index := next(todo)) < jobs:
            started = time.perf_counter()
            try:
                value = noop.apply_async((index,)).get(timeout=job_timeout_s)
                right = value == index
                outcome = Outcome(time.perf_counter() - started, right, None if right else "wrong value")
            except Exception as error:  # noqa: BLE001 - counted, not raised
                outcome = Outcome(time.perf_counter() - started, False, type(error).__name__)
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=caller, name=f"bare-caller-{i}", daemon=True) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes, time.perf_counter() - started


def run_peer(
    dsn: str, *, jobs: int, clients: int, job_timeout_s: float, job: str = "noop"
) -> tuple[list[Outcome], float]:
    results, wall = procrastinate_peer.run_phase(
        dsn, jobs=jobs, clients=clients, job_timeout_s=job_timeout_s, job=job
    )
    done = [r.job_id for r in results if r.ok and r.job_id is not None]
    server = procrastinate_peer.server_side_ms(dsn, done)  # one query, after the last job
    return [Outcome(r.latency_s, r.ok, r.error, server_ms=server.get(r.job_id or -1)) for r in results], wall


def start_peer_workers(stack: Stack, dsn: str, count: int) -> list[str]:
    names = [f"peer-worker-{index}" for index in range(1, count + 1)]
    env = {
        procrastinate_peer.DSN_ENV: dsn,
        procrastinate_peer.OLLAMA_ENV: start_peer_ollama(stack),
        procrastinate_peer.MODEL_ENV: stack.env["MENTORQ_LLM_MODEL"],
    }
    for name in names:
        spawn(stack, name, procrastinate_peer.worker_command(python()), env)
    return names


def start_peer_ollama(stack: Stack) -> str:
    """The peer's chat jobs' fake Ollama, in a process of its own that no path's CPU counts (the
    platform's answers from this process, which its path does not count either); its URL."""
    port = free_port()
    spawn(stack, "peer-ollama", [python(), "-m", "tests.support.fake_ollama", "--port", str(port)])
    url = f"http://127.0.0.1:{port}"
    wait_until(
        lambda: httpx.get(f"{url}/api/version", timeout=1).status_code == 200,
        timeout=60,
        message="the peer's fake Ollama",
    )
    return url


def start_platform_for(stack: Stack, args: argparse.Namespace) -> str:
    """The API, beat and the platform's workers as `--topology` says; returns a user's token.

    `lanes` (the default) runs a chat job where production runs it (core/lanes.py,
    docker-compose.yml): the `llm` lane's worker, a threads pool as wide as `--concurrency`, plus
    one process on `cpu,io,maintenance` for what beat sends (the reconciler, retention). The
    `embed` and `query` lanes are left out: a chat job never reaches them, and each would load
    the embedding model. `one-worker` is the earlier setup: one prefork worker on every queue."""
    if args.topology == "one-worker":
        return start_platform(stack, concurrency=args.concurrency, beat=not args.no_beat)
    lanes = f"llm lane: threads x {args.concurrency}; cpu,io,maintenance: 1"
    served = "; metrics served and scraped" if args.metrics else ""
    print(f"starting the stack ({lanes}{served}) ...", flush=True)
    stack.start_api()
    llm_env, rest_env = _metrics_env(stack, args), _metrics_env(stack, args)
    threads = {"concurrency": args.concurrency, "pool": "threads"}
    stack.start_worker("worker", queues="llm", **threads, extra_env=llm_env)
    stack.start_worker("worker-rest", queues="cpu,io,maintenance", concurrency=1, extra_env=rest_env)
    args.metrics_ports = [env["MENTORQ_METRICS_PORT"] for env in (llm_env, rest_env) if env]
    if not args.no_beat:
        stack.start_beat()
    return register_token(stack.api_url)


def _metrics_env(stack: Stack, args: argparse.Namespace) -> dict[str, str]:
    """A worker's metrics as `mentorq worker` sets them up (files to count in) on a port of its own."""
    if not args.metrics:
        return {}
    env = {"MENTORQ_METRICS_PORT": str(free_port()), "MENTORQ_STATE_DIR": str(stack.root)}
    share_across_processes(env)
    return env


class Scraper(threading.Thread):
    """GETs every metrics endpoint each `every_s` seconds with the token, as Prometheus would."""

    def __init__(self, urls: list[str], every_s: float) -> None:
        super().__init__(name="scraper", daemon=True)
        self.urls, self.every_s, self.scrapes, self.failures = urls, every_s, 0, 0
        self._done = threading.Event()

    def run(self) -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10) as http:
            while not self._done.wait(self.every_s):
                for url in self.urls:
                    ok = http.get(url).status_code == 200
                    self.scrapes += ok
                    self.failures += not ok

    def stop(self) -> None:
        self._done.set()
        self.join(15)


def start_scraper(stack: Stack, args: argparse.Namespace) -> Scraper | None:
    """The scraper of the API's and the workers' endpoints (start_platform_for noted their ports)."""
    if not args.metrics:
        return None
    ports = args.metrics_ports
    scraper = Scraper([f"{stack.api_url}/metrics", *(f"http://127.0.0.1:{p}/metrics" for p in ports)], 1.0)
    scraper.start()
    return scraper


def start_floor_api(stack: Stack) -> str:
    """benchmarks/framework_floor.py served the way the stack serves the platform's API; its URL."""
    port = free_port()
    command = [python(), "-m", "uvicorn", "benchmarks.framework_floor:app", "--host", "127.0.0.1"]
    spawn(stack, "floor-api", [*command, "--port", str(port), "--log-level", "warning"])
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: httpx.get(f"{url}/", timeout=1).status_code == 404, timeout=60, message="floor API")
    return url


def start_bare_worker(stack: Stack, concurrency: int) -> None:
    spawn(
        stack,
        "bare-worker",
        [
            python(),
            "-m",
            "celery",
            "-A",
            "benchmarks.bare_tasks",
            "worker",
            "-Q",
            "bare",
            "-n",
            "bare@bench",
            "--pool",
            "prefork",
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        {"BENCH_REDIS_URL": stack.redis.url},
    )


# --------------------------------------------------------------------------- figures


def summarize(outcomes: list[Outcome], wall_s: float, cpu_s: dict[str, float]) -> dict[str, Any]:
    good = [o.latency_s for o in outcomes if o.ok]
    errors: dict[str, int] = {}
    for outcome in outcomes:
        if not outcome.ok:
            errors[outcome.error or "?"] = errors.get(outcome.error or "?", 0) + 1
    n = len(outcomes)
    summary: dict[str, Any] = {
        "jobs": n,
        "succeeded": len(good),
        "errors": n - len(good),
        "error_kinds": errors,
        "wall_s": round(wall_s, 3),
        "jobs_per_s": n / wall_s if wall_s else None,
        **latency_summary_ms(good),
        "fallback_gets": sum(o.fallbacks for o in outcomes),
        "cpu_s": cpu_s,
        "cpu_ms_per_job": {name: round(1000 * sec / n, 2) for name, sec in cpu_s.items()} if n else {},
    }
    server = [o.server_ms / 1000 for o in outcomes if o.ok and o.server_ms is not None]
    if server:
        run = [o.run_ms / 1000 for o in outcomes if o.ok and o.run_ms is not None]
        queue = [o.queue_ms / 1000 for o in outcomes if o.ok and o.queue_ms is not None]
        summary["server_side"] = {
            "created_to_completed": latency_summary_ms(server),
            "queue_ms_p50": latency_summary_ms(queue)["p50_ms"],
            "run_ms_p50": latency_summary_ms(run)["p50_ms"],
        }
    return summary


def _platform_log_counts(stack: Stack, since: dict[str, int]) -> dict[str, int]:
    """Duplicate deliveries (the job was already claimed) and reconciler runs that re-published,
    in the workers' logs from the positions in `since` (their starts when a log is not named)."""
    time.sleep(1)  # let the workers' logs catch up

    def count(needle: str) -> int:
        return sum(count_in_log(stack, name, needle, since=since.get(name, 0)) for name in PLATFORM_WORKERS)

    republished = count("reconciled: {'dispatched': ") - count("reconciled: {'dispatched': 0,")
    return {"duplicate_deliveries": count("not claimable"), "reconciler_runs_that_republished": republished}


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argument_parser(NAME, __doc__)
    add = parser.add_argument
    add("--jobs", type=int, default=1000, help="jobs (and bare calls) per measured phase (default 1000)")
    add("--clients", type=int, default=100, help="concurrent clients / caller threads (default 100)")
    add("--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="job slots per worker (2)")
    add(
        "--topology",
        choices=("lanes", "one-worker"),
        default="lanes",
        help="lanes: the llm lane as production runs it (threads) beside a worker for beat's tasks; "
        "one-worker: one prefork worker on every queue (the earlier runs)",
    )
    add("--warmup", type=int, default=200, help="uncounted jobs per path before measuring (default 200)")
    add("--rounds", type=int, default=1, help="measure bare then platform this many times (default 1)")
    add("--serial-jobs", type=int, default=50, help="then jobs per path, ONE client (default 50; 0 skips)")
    add("--wait", type=int, default=30, help="Prefer: wait=N seconds (default 30)")
    add("--job-timeout", type=float, default=120.0, help="give up on one job after this many seconds")
    add("--no-beat", action="store_true", help="do not run celery beat (the reconciler)")
    add(
        "--idempotency-keys",
        action="store_true",
        help="each platform job is submitted with an Idempotency-Key of its own, as a client that retries "
        "safely sends it (the submit then runs through the ORM session: its lock and lookup)",
    )
    add(
        "--metrics",
        action="store_true",
        help="count metrics in files, serve them and scrape them every second, as production does",
    )
    add("--traces", action="store_true", help="export every process's spans to a local OTLP collector")
    add(
        "--llm-user-slots",
        type=int,
        default=0,
        help="MENTORQ_LLM_USER_SLOTS for the run (default 0: no per-user cap; every client is the same "
        "user, so a cap would measure one user's fair share, not the platform's overhead)",
    )
    args = parser.parse_args(argv)
    counts_ok = min(args.jobs, args.clients, args.concurrency, args.rounds) >= 1
    if args.metrics and args.topology != "lanes":
        parser.error("--metrics runs with --topology lanes")
    if not counts_ok or min(args.warmup, args.serial_jobs) < 0:
        parser.error("--jobs, --clients, --concurrency, --rounds must be >= 1; --warmup, --serial-jobs >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = begin_run()
    total, machine = run.total, run.machine
    fake = FakeOllama(token_delay_s=0.0).start()
    collector = Collector() if args.traces else None
    try:
        extra = {"MENTORQ_LLM_USER_SLOTS": str(args.llm_user_slots)}
        if collector is not None:
            extra["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.url
        with bench_stack(
            ollama_url=fake.url, llm_provider="ollama", keep=args.keep, extra_env=extra
        ) as stack:
            os.environ["BENCH_REDIS_URL"] = stack.redis.url  # read by benchmarks.bare_tasks on import
            token = start_platform_for(stack, args)
            start_bare_worker(stack, args.concurrency)
            floor_url = start_floor_api(stack)
            peer_dsn = procrastinate_peer.prepare_database(stack.database_url)
            peer_workers = start_peer_workers(stack, peer_dsn, args.concurrency)
            scraper = start_scraper(stack, args)
            try:
                figures = _measure(stack, token, peer_dsn, peer_workers, floor_url, args)
            finally:
                if scraper is not None:
                    scraper.stop()
            figures["metrics"] = (
                {"scrapes": scraper.scrapes, "failed_scrapes": scraper.failures} if scraper else "not served"
            )
            figures["traces"] = {"spans": len(collector.spans)} if collector else "off"
    finally:
        fake.stop()
        if collector is not None:
            collector.close()

    report = _report(args, figures, machine, total.elapsed())
    path = write_results(NAME, report)
    print(f"\nfigures written to {path.relative_to(path.parents[2])}; whole run {total.elapsed():.0f} s")
    return 0


def _measure(
    stack: Stack, token: str, peer_dsn: str, peer_workers: list[str], floor_url: str, args: argparse.Namespace
) -> dict[str, Any]:
    def platform(jobs: int, clients: int) -> tuple[list[Outcome], float]:
        return run_platform(
            stack.api_url,
            token,
            jobs=jobs,
            clients=clients,
            wait_s=args.wait,
            job_timeout_s=args.job_timeout,
            idempotent=args.idempotency_keys,
        )

    def bare(jobs: int, clients: int) -> tuple[list[Outcome], float]:
        return run_bare(jobs=jobs, clients=clients, job_timeout_s=args.job_timeout)

    def floor(jobs: int, clients: int) -> tuple[list[Outcome], float]:
        return run_platform(
            floor_url, token, jobs=jobs, clients=clients, wait_s=args.wait, job_timeout_s=args.job_timeout
        )

    def peer(jobs: int, clients: int) -> tuple[list[Outcome], float]:
        return run_peer(peer_dsn, jobs=jobs, clients=clients, job_timeout_s=args.job_timeout)

    def peer_chat(jobs: int, clients: int) -> tuple[list[Outcome], float]:
        return run_peer(peer_dsn, jobs=jobs, clients=clients, job_timeout_s=args.job_timeout, job="chat")

    cpu_roots = {
        "api": stack.processes["api"].pid,
        "worker": stack.processes["worker"].pid,
        "worker_rest": stack.processes["worker-rest"].pid if "worker-rest" in stack.processes else None,
        "bare_worker": stack.processes["bare-worker"].pid,
        "floor_api": stack.processes["floor-api"].pid,
        "beat": stack.processes["beat"].pid if "beat" in stack.processes else None,
        "postgres": stack.postgres.pid,
        "redis": stack.redis.pid,
        "bench_process": os.getpid(),  # the load generator and the fake Ollama (this process only)
        **{name: stack.processes[name].pid for name in peer_workers},
    }

    warm_errors = 0
    if args.warmup:
        print(f"warming up: {args.warmup} bare calls, peer jobs and platform jobs ...", flush=True)
        clients = min(args.clients, args.warmup)
        warm = (
            bare(args.warmup, clients)[0]
            + peer(args.warmup, clients)[0]
            + peer_chat(args.warmup, clients)[0]
            + platform(args.warmup, clients)[0]
            + floor(args.warmup, clients)[0]
        )
        warm_errors = sum(not o.ok for o in warm)
        if warm_errors:
            print(f"warning: {warm_errors} warm-up errors", flush=True)

    rounds: list[dict[str, Any]] = []
    for round_index in range(1, args.rounds + 1):
        figures: dict[str, Any] = {}
        phases = (
            ("bare_celery", bare),
            ("procrastinate", peer),
            ("procrastinate_chat", peer_chat),
            ("platform", platform),
            ("framework_floor", floor),
        )
        for path, run in phases:
            print(f"round {round_index}: {path}, {args.jobs} jobs, {args.clients} clients ...", flush=True)
            meter = CpuMeter(cpu_roots, self_only=["bench_process"])
            worker_log_at = {name: log_size(stack, name) for name in PLATFORM_WORKERS}
            meter.start()
            outcomes, wall = run(args.jobs, args.clients)
            figures[path] = summarize(outcomes, wall, meter.stop())
            if path == "platform":
                figures[path].update(_platform_log_counts(stack, worker_log_at))
        rounds.append(figures)

    serial: dict[str, Any] = {}
    if args.serial_jobs:
        print(f"unloaded round trip: {args.serial_jobs} jobs per path, one client ...", flush=True)
        serial["bare_celery"] = summarize(*bare(args.serial_jobs, 1), {})
        serial["procrastinate"] = summarize(*peer(args.serial_jobs, 1), {})
        serial["procrastinate_chat"] = summarize(*peer_chat(args.serial_jobs, 1), {})
        serial["platform"] = summarize(*platform(args.serial_jobs, 1), {})
    # Over the whole run too: a burst re-published during the warm-up is consumed seconds later,
    # so its log line and its duplicates can fall on either side of a phase's start.
    whole_run = _platform_log_counts(stack, {})
    return {
        "warmup_errors": warm_errors,
        "rounds": rounds,
        "unloaded_one_client": serial,
        "whole_run": whole_run,
    }


# --------------------------------------------------------------------------- report


def _path_cpu(cpu_ms_per_job: dict[str, float], path: str) -> float | None:
    """CPU ms per job of the processes a path's cost is made of (PLATFORM_PATH, or the peer's)."""
    if not cpu_ms_per_job:
        return None
    if path == "platform":
        names = PLATFORM_PATH
    else:
        names = (*PEER_PATH_FIXED, *(name for name in cpu_ms_per_job if name.startswith("peer-worker")))
    return round(sum(cpu_ms_per_job.get(name, 0.0) for name in names), 2)


def _floor_cpu(pair: dict[str, Any]) -> float | None:
    """The framework's floor per job in one round: FastAPI's request, the bare Celery task, Redis."""
    try:
        return round(sum(pair[phase]["cpu_ms_per_job"][name] for phase, name in FLOOR_PATH), 2)
    except KeyError:
        return None


def _workers_cpu(cpu_ms_per_job: dict[str, float]) -> float | None:
    """The platform's workers' CPU per job (the llm lane's and, with lanes, the other one's)."""
    if "worker" not in cpu_ms_per_job:
        return None
    return round(cpu_ms_per_job["worker"] + cpu_ms_per_job.get("worker_rest", 0.0), 2)


def _x(value: float | None) -> str:
    return f"{fmt(value, 2)}x"


def _report(
    args: argparse.Namespace, figures: dict[str, Any], machine: dict[str, Any], elapsed: float
) -> dict[str, Any]:
    rounds, serial = figures["rounds"], figures["unloaded_one_client"]
    print()
    print(
        f"Platform overhead — {args.jobs} jobs per path, {args.clients} concurrent clients, "
        f"topology {args.topology}, {args.concurrency} job slots, {machine['cpus_usable']} CPUs "
        f"({machine['cpu_model']}), {machine['date']}"
    )
    rows: list[list[Any]] = []
    verdicts = []
    for index, pair in enumerate(rounds, 1):
        bare, plat, peer = pair["bare_celery"], pair["platform"], pair["procrastinate"]
        peer_chat = pair["procrastinate_chat"]
        tput = ratio(plat["jobs_per_s"], bare["jobs_per_s"])
        p50 = ratio(plat["p50_ms"], bare["p50_ms"])
        tag = f" (round {index})" if len(rounds) > 1 else ""
        labelled = (
            (f"bare Celery apply_async+get{tag}", bare),
            (f"Procrastinate defer+poll{tag}", peer),
            (f"Procrastinate, the same chat call{tag}", peer_chat),
            (f"platform chat over HTTP{tag}", plat),
        )
        for label, row in labelled:
            rows.append(
                [
                    label,
                    row["jobs"],
                    row["jobs_per_s"],
                    row["p50_ms"],
                    row["p95_ms"],
                    row["p99_ms"],
                    row["errors"],
                ]
            )
        for other_label, other in (
            ("bare", bare),
            ("Procrastinate", peer),
            ("Procrastinate's chat", peer_chat),
        ):
            rows.append(
                [
                    f"ratio platform / {other_label}{tag}",
                    "",
                    _x(ratio(plat["jobs_per_s"], other["jobs_per_s"])),
                    _x(ratio(plat["p50_ms"], other["p50_ms"])),
                    _x(ratio(plat["p95_ms"], other["p95_ms"])),
                    _x(ratio(plat["p99_ms"], other["p99_ms"])),
                    "",
                ]
            )
        peer_cpu = _path_cpu(peer["cpu_ms_per_job"], "procrastinate")
        plat_cpu = _path_cpu(plat["cpu_ms_per_job"], "platform")
        peer_tput = ratio(plat["jobs_per_s"], peer["jobs_per_s"])
        floor_tput = ratio(plat["jobs_per_s"], pair["framework_floor"]["jobs_per_s"])
        peer_chat_cpu = _path_cpu(peer_chat["cpu_ms_per_job"], "procrastinate")
        verdicts.append(
            {
                "throughput_ratio": tput,
                "p50_ratio": p50,
                "throughput": verdict(tput is not None and tput >= AIM_THROUGHPUT_RATIO),
                "p50": verdict(p50 is not None and p50 <= AIM_P50_RATIO),
                "zero_errors": verdict(plat["errors"] == 0),
                "errors": plat["errors"],
                "peer_cpu_ratio": ratio(plat_cpu, peer_cpu),
                "peer_cpu": verdict(
                    plat_cpu is not None
                    and peer_cpu is not None
                    and plat_cpu <= AIM_PEER_CPU_RATIO * peer_cpu
                ),
                "worker_vs_peer_path": ratio(_workers_cpu(plat["cpu_ms_per_job"]), peer_cpu),
                "peer_throughput_ratio": peer_tput,
                "floor_cpu": _floor_cpu(pair),
                "floor_vs_peer": ratio(_floor_cpu(pair), peer_cpu),
                "platform_vs_floor": ratio(plat_cpu, _floor_cpu(pair)),
                "floor_http_jobs_per_s": pair["framework_floor"]["jobs_per_s"],
                # Informative: where the peer's own no-op job stands against the same route.
                "peer_vs_floor_throughput": ratio(peer["jobs_per_s"], pair["framework_floor"]["jobs_per_s"]),
                "peer_throughput": verdict(peer_tput is not None and peer_tput >= AIM_PEER_THROUGHPUT_RATIO),
                "floor_throughput_ratio": floor_tput,
                "floor_throughput": verdict(
                    floor_tput is not None and floor_tput >= AIM_FLOOR_THROUGHPUT_RATIO
                ),
                # Beside the aims, not one of them: the peer running the chat job's own work.
                "same_job": {
                    "peer_cpu": peer_chat_cpu,
                    "cpu_ratio": ratio(plat_cpu, peer_chat_cpu),
                    "worker_vs_peer_path": ratio(_workers_cpu(plat["cpu_ms_per_job"]), peer_chat_cpu),
                    "throughput_ratio": ratio(plat["jobs_per_s"], peer_chat["jobs_per_s"]),
                },
            }
        )
    print_table(["path", "jobs", "jobs/s", "p50 ms", "p95 ms", "p99 ms", "errors"], rows)

    print()
    aim_rows = []
    for index, v in enumerate(verdicts, 1):
        tag = f" (round {index})" if len(verdicts) > 1 else ""
        aim_rows.append(
            [f"throughput >= {AIM_THROUGHPUT_RATIO}x bare{tag}", _x(v["throughput_ratio"]), v["throughput"]]
        )
        aim_rows.append([f"p50 <= {AIM_P50_RATIO:g}x bare{tag}", _x(v["p50_ratio"]), v["p50"]])
        aim_rows.append([f"zero errors{tag}", str(v["errors"]), v["zero_errors"]])
        aim_rows.append(
            [
                f"CPU/job <= {AIM_PEER_CPU_RATIO:g}x Procrastinate's path{tag}",
                _x(v["peer_cpu_ratio"]),
                v["peer_cpu"],
            ]
        )
        worker_ok = verdict(v["worker_vs_peer_path"] is not None and v["worker_vs_peer_path"] <= 1)
        aim_rows.append(
            [f"worker CPU/job <= Procrastinate's path{tag}", _x(v["worker_vs_peer_path"]), worker_ok]
        )
        aim_rows.append(
            [
                f"jobs/s >= {AIM_PEER_THROUGHPUT_RATIO}x Procrastinate's{tag}",
                _x(v["peer_throughput_ratio"]),
                v["peer_throughput"],
            ]
        )
        aim_rows.append(
            [
                f"jobs/s >= {AIM_FLOOR_THROUGHPUT_RATIO}x the bare FastAPI route's{tag}",
                _x(v["floor_throughput_ratio"]),
                v["floor_throughput"],
            ]
        )
    print_table(["aim (issues 2, 30 and 63)", "measured", "verdict"], aim_rows)

    print()
    same_rows = []
    for index, (pair, v) in enumerate(zip(rounds, verdicts, strict=True), 1):
        same = v["same_job"]
        same_rows.append(
            [
                index,
                same["peer_cpu"],
                _path_cpu(pair["platform"]["cpu_ms_per_job"], "platform"),
                _x(same["cpu_ratio"]),
                _x(same["worker_vs_peer_path"]),
                _x(same["throughput_ratio"]),
            ]
        )
    print_table(
        [
            "round",
            "Procrastinate's chat path",
            "platform path",
            "CPU/job ratio",
            "platform worker / peer's path",
            "jobs/s ratio",
        ],
        same_rows,
    )
    print(
        "Informative, beside the aims above (which are against Procrastinate's no-op job): the peer "
        "streaming the same completion from a fake Ollama of its own with the official client, "
        "storing nothing (benchmarks/procrastinate_peer.py). CPU ms per job."
    )

    print()
    floor_rows = []
    for index, (pair, v) in enumerate(zip(rounds, verdicts, strict=True), 1):
        peer_cpu = _path_cpu(pair["procrastinate"]["cpu_ms_per_job"], "procrastinate")
        plat_cpu = _path_cpu(pair["platform"]["cpu_ms_per_job"], "platform")
        floor_rows.append(
            [
                index,
                peer_cpu,
                v["floor_cpu"],
                plat_cpu,
                _x(v["floor_vs_peer"]),
                _x(v["platform_vs_floor"]),
                v["floor_http_jobs_per_s"],
                _x(v["peer_vs_floor_throughput"]),
            ]
        )
    print_table(
        [
            "round",
            "Procrastinate's path",
            "FastAPI + Celery floor",
            "platform path",
            "floor / peer",
            "platform / floor",
            "FastAPI alone jobs/s",
            "Procrastinate's jobs/s / FastAPI alone's",
        ],
        floor_rows,
    )
    print(
        "CPU ms per job. The floor: benchmarks/framework_floor.py's FastAPI request (no middleware, no "
        "database) plus the bare Celery task and Redis of the baseline's phase. The last column is the "
        "peer's no-op job against the route that does nothing: a durable queue with no HTTP in front "
        f"of it, held to the aim of {AIM_FLOOR_THROUGHPUT_RATIO}x the bare route's jobs/s."
    )

    print()
    last = rounds[-1]
    per_path = {
        name: last[name]["cpu_ms_per_job"]
        for name in ("bare_celery", "procrastinate", "procrastinate_chat", "platform", "framework_floor")
    }
    cpu_rows: list[list[Any]] = [
        [name, *(per_path[path].get(name) for path in per_path)] for name in per_path["platform"]
    ]
    cpu_rows.append(["total, every process", *(sum(cpu.values()) for cpu in per_path.values())])
    cpu_rows.append(
        [
            "the path's own (see PLATFORM_PATH)",
            "",
            _path_cpu(per_path["procrastinate"], "procrastinate"),
            _path_cpu(per_path["procrastinate_chat"], "procrastinate"),
            _path_cpu(per_path["platform"], "platform"),
            "",
        ]
    )
    headers = [
        "CPU ms per job (user+sys)",
        "bare Celery",
        "Procrastinate",
        "Procrastinate chat",
        "platform",
        "FastAPI alone",
    ]
    print_table(headers, cpu_rows)
    plat = last["platform"]
    if "server_side" in plat:
        side = plat["server_side"]
        print(
            f"platform, server side (job row): created->completed p50 "
            f"{fmt(side['created_to_completed']['p50_ms'])} ms, queue_ms p50 {fmt(side['queue_ms_p50'])}, "
            f"run_ms p50 {fmt(side['run_ms_p50'])}; fallback GETs after a 202: {plat['fallback_gets']}"
        )
    print(
        f"platform: deliveries that found their job already claimed (duplicates): "
        f"{plat['duplicate_deliveries']}; reconciler runs that re-published jobs: "
        f"{plat['reconciler_runs_that_republished']}"
    )
    print(f"metrics: {json.dumps(figures['metrics'])}; traces: {json.dumps(figures['traces'])}")
    whole = figures["whole_run"]
    print(
        f"whole run, warm-up included: duplicates {whole['duplicate_deliveries']}; reconciler runs that "
        f"re-published jobs {whole['reconciler_runs_that_republished']}"
    )
    for name in ("bare_celery", "platform"):
        if last[name]["error_kinds"]:
            print(f"{name} errors: {json.dumps(last[name]['error_kinds'])}")

    if serial:
        print()
        bare, plat, peer = serial["bare_celery"], serial["platform"], serial["procrastinate"]
        peer_chat = serial["procrastinate_chat"]
        labelled = (
            ("bare Celery apply_async+get", bare),
            ("Procrastinate defer+poll", peer),
            ("Procrastinate, the same chat call", peer_chat),
            ("platform chat over HTTP", plat),
        )
        rows = [
            [label, row["jobs"], row["jobs_per_s"], row["p50_ms"], row["p95_ms"], row["errors"]]
            for label, row in labelled
        ]
        for other_label, other in (
            ("bare", bare),
            ("Procrastinate", peer),
            ("Procrastinate's chat", peer_chat),
        ):
            rows.append(
                [
                    f"ratio platform / {other_label}",
                    "",
                    _x(ratio(plat["jobs_per_s"], other["jobs_per_s"])),
                    _x(ratio(plat["p50_ms"], other["p50_ms"])),
                    _x(ratio(plat["p95_ms"], other["p95_ms"])),
                    "",
                ]
            )
        headers = ["unloaded: 1 client (informative)", "jobs", "jobs/s", "p50 ms", "p95 ms", "errors"]
        print_table(headers, rows)
        if "server_side" in plat:
            side = plat["server_side"]
            print(
                f"platform, 1 client, server side: queue_ms p50 {fmt(side['queue_ms_p50'])}, "
                f"run_ms p50 {fmt(side['run_ms_p50'])}, created->completed p50 "
                f"{fmt(side['created_to_completed']['p50_ms'])} ms"
            )
        if "server_side" in plat and "server_side" in peer:
            mine = plat["server_side"]["created_to_completed"]["p50_ms"]
            theirs = peer["server_side"]["created_to_completed"]["p50_ms"]
            fixed = ratio(mine, theirs)
            ok = verdict(fixed is not None and fixed <= AIM_PEER_SERVER_SIDE_RATIO)
            print(
                f"a job's fixed cost, 1 client, server side p50: platform {fmt(mine)} ms, Procrastinate "
                f"{fmt(theirs)} ms (deferred -> succeeded): {_x(fixed)}, "
                f"aim <= {AIM_PEER_SERVER_SIDE_RATIO:g}x: {ok}"
            )
        if "server_side" in plat and "server_side" in peer_chat:
            mine = plat["server_side"]["created_to_completed"]["p50_ms"]
            theirs = peer_chat["server_side"]["created_to_completed"]["p50_ms"]
            print(
                f"beside it, Procrastinate running the same chat call: {fmt(theirs)} ms, "
                f"{_x(ratio(mine, theirs))} (informative)"
            )

    return {
        "benchmark": NAME,
        "machine": machine,
        "settings": {
            "jobs": args.jobs,
            "clients": args.clients,
            "worker_concurrency": args.concurrency,
            "topology": args.topology,
            "pool": "threads (llm lane)" if args.topology == "lanes" else "prefork",
            "warmup": args.warmup,
            "rounds": args.rounds,
            "serial_jobs": args.serial_jobs,
            "prefer_wait_s": args.wait,
            "idempotency_keys": args.idempotency_keys,
            "beat": not args.no_beat,
            "worker_queues": "llm | cpu,io,maintenance" if args.topology == "lanes" else WORKER_QUEUES,
            "llm": "fake Ollama, token_delay_s=0",
            "chat_input": CHAT_BODY["input"],
            "token": "one user, one bearer token shared by all clients",
            "llm_user_slots": args.llm_user_slots,
        },
        "aims": {
            "throughput_ratio_min": AIM_THROUGHPUT_RATIO,
            "p50_ratio_max": AIM_P50_RATIO,
            "errors": 0,
            "peer_cpu_ratio_max": AIM_PEER_CPU_RATIO,
            "peer_throughput_ratio_min": AIM_PEER_THROUGHPUT_RATIO,
            "floor_throughput_ratio_min": AIM_FLOOR_THROUGHPUT_RATIO,
            "peer_server_side_ratio_max": AIM_PEER_SERVER_SIDE_RATIO,
        },
        **figures,
        "verdicts": verdicts,
        "elapsed_s": round(elapsed, 1),
    }


if __name__ == "__main__":
    sys.exit(main())
