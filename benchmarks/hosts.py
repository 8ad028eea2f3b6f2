"""Hosts: jobs/s and latency through the production topology on separate network hosts, with the
gpu host's link clean, 20 ms and 200 ms slow, beside the same run on one loopback; and how soon
work flows again after a partition heals.

    .venv/bin/python -m benchmarks.hosts [--jobs 100] [--clients 8] [--cut-s 10]

Needs root (network namespaces: devstack/rehearsal/network.py). Two rehearsals, one after the
other, each started from docker-compose.yml's own commands (devstack/rehearsal/topology.py):

- **one loopback**: every service in one namespace, reaching the others over its loopback. The
  baseline: the same processes, settings and proxy, without a network between them.
- **hosts**: data, api, gpu and cpu each their own namespace, joined through a router. Run with
  the gpu link clean, then with 20 ms and then 200 ms added to everything the gpu host sends (as
  `tc netem delay` on its eth0; this kernel has no netem, so a userspace relay does it:
  devstack/rehearsal/impairment.py). Then the partition: the gpu host cut off for --cut-s
  seconds (shorter than MENTORQ_STALE_AFTER_SECONDS, so no job is taken from it) while jobs wait,
  and the time from the heal to the first job finished, and to the last. Last, a second GPU host
  (`gpu2`: its own model server with 4 slots and its own llm worker) joins, clean links, and
  twice the learners send the jobs.

Each run: --jobs streaming chat jobs (9 tokens at 20 ms each from the fake Ollama server's 4
slots), sent by --clients threads, each its own learner, each submitting with `Prefer: wait=60`
and submitting the next once answered. Latency is the client's, from the submit to the job's end;
jobs/s is the run's jobs over its wall time. Nothing is asserted; the ratios to the loopback run
are what to read (this machine is shared and noisy).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg

from benchmarks._harness import (
    argument_parser,
    begin_run,
    fmt,
    latency_summary_ms,
    print_table,
    ratio,
    write_results,
)

NAME = "hosts"
PASSWORD = "correct-horse-battery-staple"
TOKEN_DELAY_S = 0.02
NET = 76  # the rehearsal addresses 10.76.x.y: apart from the tests' 10.77 and 10.79


@contextlib.contextmanager
def rehearsal(*, one_host: bool, keep: bool) -> Iterator[Any]:
    from devstack.rehearsal import topology

    root = Path(tempfile.mkdtemp(prefix="mentorq-bench-hosts-"))
    started = topology.start(
        root, prefix=f"mqb{uuid.uuid4().hex[:5]}", token_delay_s=TOKEN_DELAY_S, net=NET, one_host=one_host
    )
    try:
        yield started
    finally:
        started.close()
        if keep:
            print(f"(kept logs under {root})")
        else:
            shutil.rmtree(root, ignore_errors=True)


def learner(url: str) -> httpx.Client:
    with httpx.Client(base_url=url, timeout=60) as anonymous:
        email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
        assert (
            anonymous.post("/auth/register", json={"email": email, "password": PASSWORD}).status_code == 201
        )
        token = anonymous.post("/auth/jwt/login", data={"username": email, "password": PASSWORD}).json()
    return httpx.Client(
        base_url=url, timeout=90, headers={"Authorization": f"Bearer {token['access_token']}"}
    )


def run_jobs(clients: list[httpx.Client], jobs: int) -> dict[str, Any]:
    """`jobs` chat jobs shared among the clients, each waited on; latencies and jobs/s."""
    latencies: list[float] = []
    failed: list[str] = []
    remaining = iter(range(jobs))
    lock = threading.Lock()

    def work(client: httpx.Client) -> None:
        while True:
            with lock:
                index = next(remaining, None)
            if index is None:
                return
            body = {"kind": "chat", "input": {"prompt": f"bench {index} {uuid.uuid4().hex[:8]}"}}
            began = time.perf_counter()
            try:
                answer = client.post("/v1/jobs", json=body, headers={"Prefer": "wait=60"})
                job = answer.json()
                if job.get("status") not in ("succeeded", "failed", "canceled"):
                    job = client.get(f"/v1/jobs/{job['id']}", headers={"Prefer": "wait=60"}).json()
                ok = job.get("status") == "succeeded"
            except (httpx.HTTPError, ValueError, KeyError) as error:
                ok, job = False, {"error": repr(error)}
            with lock:
                if ok:
                    latencies.append(time.perf_counter() - began)
                else:
                    failed.append(str(job)[:200])

    began = time.perf_counter()
    threads = [threading.Thread(target=work, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    return {
        "jobs": jobs,
        "succeeded": len(latencies),
        "failed": len(failed),
        "failures": failed[:5],
        "wall_s": wall,
        "jobs_per_s": len(latencies) / wall,
        **latency_summary_ms(latencies),
    }


def llm_threads(started: Any, threads: int | None) -> None:
    """The gpu host's llm worker started again with MENTORQ_LLM_THREADS (None: the lane's default)."""
    started.stop("worker-llm")
    extra = {"MENTORQ_LLM_THREADS": str(threads)} if threads else {}
    started.run_service("worker-llm", "gpu", extra_env=extra)
    started.wait_for_workers(["worker-llm"])


def partition(started: Any, client: httpx.Client, *, jobs: int, cut_s: float) -> dict[str, Any]:
    """The gpu host cut while `jobs` wait for it; seconds from the heal to the first and the last
    job finished."""
    ids = []
    started.network.cut("gpu")
    try:
        for index in range(jobs):
            body = {"kind": "chat", "input": {"prompt": f"partition {index} {uuid.uuid4().hex[:8]}"}}
            ids.append(client.post("/v1/jobs", json=body).json()["id"])
        time.sleep(cut_s)
    finally:
        started.network.heal("gpu")
    healed = time.monotonic()
    first = last = None
    with psycopg.connect(started.database_url, connect_timeout=5) as db:
        while time.monotonic() - healed < 180:
            done = db.execute(
                "SELECT count(*) FROM jobs WHERE id = ANY(%s::uuid[]) AND status = 'succeeded'", (ids,)
            ).fetchone()[0]
            if done and first is None:
                first = time.monotonic() - healed
            if done == len(ids):
                last = time.monotonic() - healed
                break
            time.sleep(0.05)
    return {"jobs": jobs, "cut_s": cut_s, "first_after_heal_s": first, "last_after_heal_s": last}


def main() -> None:
    parser = argument_parser(NAME, __doc__)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--cut-s", type=float, default=10.0)
    parser.add_argument(
        "--llm-threads",
        type=int,
        nargs="*",
        default=[],
        help="also run each link with the llm worker at these thread counts (MENTORQ_LLM_THREADS)",
    )
    args = parser.parse_args()
    run = begin_run()
    from devstack.rehearsal import network

    why_not = network.unavailable()
    if why_not is not None:
        raise SystemExit(f"cannot run here: {why_not}")
    results: dict[str, Any] = {"machine": run.machine, "args": vars(args), "runs": {}}

    print("one loopback: starting the rehearsal in one namespace ...", flush=True)
    with rehearsal(one_host=True, keep=args.keep) as started:
        clients = [learner(started.url) for _ in range(args.clients)]
        run_jobs(clients[:2], 8)  # warm: models loaded, pools filled
        results["runs"]["one loopback"] = run_jobs(clients, args.jobs)
        for client in clients:
            client.close()

    print("hosts: starting the rehearsal on separate namespaces ...", flush=True)
    with rehearsal(one_host=False, keep=args.keep) as started:
        clients = [learner(started.url) for _ in range(args.clients)]
        run_jobs(clients[:2], 8)
        for delay_ms in (0, 20, 200):
            link = f"gpu +{delay_ms} ms" if delay_ms else "clean links"
            if delay_ms:
                started.network.impair("gpu", delay_ms=delay_ms)
            try:
                for threads in (None, *args.llm_threads):
                    if threads is not None:
                        llm_threads(started, threads)
                    named = f"hosts, {link}" + (f", {threads} llm threads" if threads else "")
                    results["runs"][named] = run_jobs(clients, args.jobs)
                if args.llm_threads:
                    llm_threads(started, None)
            finally:
                if delay_ms:
                    started.network.clear("gpu")
        results["partition"] = partition(started, clients[0], jobs=20, cut_s=args.cut_s)
        # A second GPU host joins the llm lane (its own model server, 4 more slots).
        # Twice the learners too, so that the clients are not what limits it.
        started.add_gpu_host("gpu2")
        clients += [learner(started.url) for _ in range(args.clients)]
        results["runs"][f"hosts, two gpu hosts, {len(clients)} clients"] = run_jobs(clients, args.jobs)
        for client in clients:
            client.close()

    base = results["runs"]["one loopback"]
    rows = [
        [
            name,
            f"{figures['succeeded']}/{figures['jobs']}",
            figures["jobs_per_s"],
            ratio(figures["jobs_per_s"], base["jobs_per_s"]),
            figures["p50_ms"],
            figures["p95_ms"],
            ratio(figures["p95_ms"], base["p95_ms"]),
        ]
        for name, figures in results["runs"].items()
    ]
    print_table(
        ["run", "succeeded", "jobs/s", "x loopback", "p50 ms", "p95 ms", "p95 x loopback"],
        rows,
        title=f"\n{args.jobs} chat jobs, {args.clients} clients, 9 tokens at "
        f"{TOKEN_DELAY_S * 1000:.0f} ms, 4 slots",
    )
    cut = results["partition"]
    print(
        f"\npartition: gpu cut {fmt(cut['cut_s'], 0)} s with {cut['jobs']} jobs waiting; first finished "
        f"{fmt(cut['first_after_heal_s'])} s after the heal, last {fmt(cut['last_after_heal_s'])} s"
    )
    results["total_s"] = run.total.elapsed()
    print(f"\n(results: {write_results(NAME, results)}; {results['total_s']:.0f} s in all)")


if __name__ == "__main__":
    main()
