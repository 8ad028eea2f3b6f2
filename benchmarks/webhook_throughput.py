"""Webhook throughput: deliveries/s from ONE `io` worker to a local receiver, beside direct signed POSTs.

    .venv/bin/python -m benchmarks.webhook_throughput [--deliveries 500] [--concurrency 8]

Starts, on loopback only: embedded PostgreSQL + Redis (migrated), the API (only to register the
user), ONE worker on `-Q io` with `--pool threads --concurrency C`, and a receiver process
(benchmarks/_webhook_receiver.py: threaded HTTP/1.1, answers 200 at once, stamps arrivals with
CLOCK_MONOTONIC, keeps the platform's requests for signature checks). No beat: nothing else may
send the pending deliveries.

How deliveries are made (the platform's own outbox path, without running N jobs first): this
process inserts N `chat` jobs as `running` with `webhook` = the receiver and the default filter
(`completed`), then finishes all of them in one transaction with `db.jobs.finish_job`, which
records each `succeeded` event and, in the same transaction, its webhook delivery (payload: the job
resource). That transaction's outbox is held back at its commit (db/unit_of_work.py's own
`_take` and `_send`, which `commit` runs back to back), so the bodies can be read for the baseline
first; the timed phase then sends it: the job events live, and the N delivery tasks to the `io`
queue, exactly as a worker's commit does after finishing a job.
Running N real jobs instead would measure the job pipeline (about 23 jobs/s here, see
platform_overhead), not the delivery path.

Per delivery the io worker then claims the row, loads the signing secret, signs, resolves and
checks the address, POSTs on a fresh connection (pinned IP, no redirects, capped body), logs
the attempt and moves the row on: two transactions, one HTTP exchange.

Baseline, same run, same receiver, same bodies (read back from the delivery rows), same secret:
C threads in this process sign (`core.webhook_signing.webhook_headers`) and POST with httpx:
  * "fresh connection": a new httpx.Client per POST (what the platform does; no keep-alive),
  * "keep-alive": one shared client (informative: what connection reuse would give).
Order: warm-up (uncounted), baseline fresh, platform, baseline fresh again, baseline keep-alive.

Throughput = (count - 1) / (last arrival - first arrival) at the receiver (steady rate), and
end to end: N / (first publish or first send -> all rows `succeeded` or all answers back).
Nothing is asserted. The issue sets no number for this; the table prints the ratio to the
baseline and the correctness checks (every delivery once, signatures verify).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import threading
import time
import uuid
from typing import Any

import httpx

from benchmarks._harness import (
    CpuMeter,
    argument_parser,
    begin_run,
    bench_stack,
    fmt,
    print_table,
    python,
    ratio,
    register_token,
    spawn,
    verdict,
    write_results,
)
from tests.support.stack import Stack, free_port, wait_until

NAME = "webhook_throughput"
# Threads, not prefork: a delivery mostly waits (on the receiver, PostgreSQL, Redis), and threads
# share one process, one SQLAlchemy pool and one TLS context. 8 on 2 cores: enough to keep a
# fast receiver busy while some threads wait on the database; the sync engine's pool holds 10
# connections (db/session.py: pool_size 5 + max_overflow 5), so up to 10 threads never wait for
# a connection. Production's 32 (docker-compose.yml) is sized for slow remote receivers, not CPU.
DEFAULT_CONCURRENCY = 8
DONE_TIMEOUT_S = 300.0


# --------------------------------------------------------------------------- receiver


class ReceiverProcess:
    def __init__(self, stack: Stack) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = spawn(
            stack, "receiver", [python(), "-m", "benchmarks._webhook_receiver", "--port", str(self.port)]
        )
        wait_until(
            lambda: httpx.get(f"{self.url}/stats", timeout=1).status_code == 200,
            timeout=30,
            message="receiver",
        )

    def stats(self) -> dict[str, dict[str, Any]]:
        return httpx.get(f"{self.url}/stats", timeout=30).json()

    def dump(self, path: str) -> list[dict[str, Any]]:
        return httpx.get(f"{self.url}/dump", params={"path": path}, timeout=60).json()

    def wait_count(self, path: str, n: int, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            entry = self.stats().get(path)
            if entry and entry["count"] >= n:
                return entry
            time.sleep(0.1)
        return self.stats().get(path) or {"count": 0}


# --------------------------------------------------------------------------- the platform's side


class Platform:
    """The platform's modules, imported once this process's environment names the stack."""

    def __init__(self, stack: Stack) -> None:
        os.environ.update(stack.env)
        from core.webhook_signing import new_secret, webhook_headers
        from db import jobs as job_queries
        from db import webhooks as webhook_queries
        from db.models import Job, User, WebhookDelivery
        from db.session import sync_session_factory
        from db.unit_of_work import _send as send_outbox  # the timed half of commit()
        from db.unit_of_work import _take as take_outbox
        from db.unit_of_work import unit_of_work

        self.jobs, self.webhooks, self.Job, self.User, self.Delivery = (
            job_queries,
            webhook_queries,
            Job,
            User,
            WebhookDelivery,
        )
        self.transaction, self.sessions = unit_of_work, sync_session_factory()
        self.take_outbox, self.send_outbox = take_outbox, send_outbox
        self.webhook_headers = webhook_headers
        with unit_of_work() as session:
            from sqlalchemy import select

            self.user_id = session.execute(select(User.id)).scalars().one()
            self.secret = webhook_queries.get_or_create_secret_sync(
                session, user_id=self.user_id, new_secret=new_secret
            ).secret

    def prepare(self, n: int, url: str) -> tuple[Any, list[uuid.UUID]]:
        """N finished jobs whose `completed` deliveries are committed but not yet sent."""
        from sqlalchemy import func

        ids = [uuid.uuid4() for _ in range(n)]
        with self.transaction() as session:
            for job_id in ids:
                session.add(
                    self.Job(
                        id=job_id,
                        kind="chat",
                        owner_id=self.user_id,
                        status="running",
                        attempts=1,
                        max_attempts=3,
                        input={"prompt": "Summarise the lesson on hash maps in two sentences."},
                        queue="llm",
                        webhook_url=url,
                        webhook_events=["completed"],
                        started_at=func.now(),
                        worker="bench@host",
                    )
                )
        output = {
            "text": "A hash map stores values under keys and finds them in constant time on average. "
            "Collisions are resolved by chaining or open addressing.",
            "json": None,
            "model": "llama3.2:1b",
            "provider": "ollama",
            "usage": {"prompt_tokens": 12, "completion_tokens": 31},
        }
        with self.sessions() as session:
            for job_id in ids:
                self.jobs.finish_job(session, job_id=job_id, output=output)
            outbox = self.take_outbox(session)  # committed now, sent when the timed phase publishes
            session.commit()
        return outbox, ids

    def publish(self, outbox: Any) -> None:
        """Send what the finishing transaction recorded (the second half of db.unit_of_work.commit)."""
        self.send_outbox(outbox)

    def bodies(self, job_ids: list[uuid.UUID]) -> list[bytes]:
        from sqlalchemy import select

        with self.transaction() as session:
            payloads = (
                session.execute(select(self.Delivery.payload).where(self.Delivery.job_id.in_(job_ids)))
                .scalars()
                .all()
            )
        return [json.dumps(p, separators=(",", ":")).encode() for p in payloads]

    def statuses(self, job_ids: list[uuid.UUID]) -> dict[str, int]:
        from sqlalchemy import func, select

        with self.transaction() as session:
            rows = session.execute(
                select(self.Delivery.status, func.count())
                .where(self.Delivery.job_id.in_(job_ids))
                .group_by(self.Delivery.status)
            ).all()
        return {status: count for status, count in rows}

    def attempts(self, job_ids: list[uuid.UUID]) -> dict[str, Any]:
        from sqlalchemy import text

        with self.transaction() as session:
            row = session.execute(
                text(
                    "SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY a.latency_ms), "
                    "min(d.created_at), max(a.created_at) "
                    "FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id "
                    "WHERE d.job_id = ANY(:ids)"
                ),
                {"ids": job_ids},
            ).one()
        return {"attempts": row[0], "attempt_latency_ms_p50": row[1]}


def run_platform_phase(
    platform: Platform, receiver: ReceiverProcess, n: int, path: str, meter: CpuMeter | None
) -> dict[str, Any]:
    outbox, ids = platform.prepare(n, receiver.url + path)
    if meter:
        meter.start()
    started = time.monotonic()
    platform.publish(outbox)  # after the commit: job events live, delivery tasks to `io`
    published = time.monotonic()
    entry = receiver.wait_count(path, n, DONE_TIMEOUT_S)
    statuses: dict[str, int] = {}
    while time.monotonic() - started < DONE_TIMEOUT_S:
        statuses = platform.statuses(ids)
        if statuses.get("succeeded", 0) + statuses.get("failed", 0) >= n:
            break
        time.sleep(0.1)
    done = time.monotonic()
    cpu = meter.stop() if meter else {}
    return {
        "n": n,
        "received": entry.get("count", 0),
        "unique_ids": entry.get("unique_ids", 0),
        "steady_per_s": _steady(entry),
        "end_to_end_per_s": n / (done - started),
        "end_to_end_s": round(done - started, 3),
        "publish_s": round(published - started, 3),
        "first_arrival_after_publish_start_ms": round(1000 * (entry["first"] - started), 1)
        if "first" in entry
        else None,
        "statuses": statuses,
        **platform.attempts(ids),
        "cpu_s": cpu,
        "job_ids": ids,
    }


# --------------------------------------------------------------------------- the baseline


def run_baseline_phase(
    bodies: list[bytes],
    secret: str,
    url: str,
    concurrency: int,
    *,
    keep_alive: bool,
    receiver: ReceiverProcess,
    path: str,
    meter: CpuMeter | None,
) -> dict[str, Any]:
    from core.webhook_signing import webhook_headers

    todo = itertools.count()
    failures: list[str] = []
    lock = threading.Lock()
    shared = (
        httpx.Client(
            verify=httpx.create_ssl_context(),
            trust_env=False,
            follow_redirects=False,
            timeout=10,
            limits=httpx.Limits(max_connections=concurrency),
        )
        if keep_alive
        else None
    )
    run_id = uuid.uuid4().hex[:8]
    # One TLS context for all clients, as the platform keeps one per process (building one per
    # client loads the CA bundle: ~25 ms of CPU, more than the rest of a POST).
    tls = httpx.create_ssl_context()

    def sender() -> None:
        while (index := next(todo)) < len(bodies):
            body = bodies[index]
            headers = webhook_headers([secret], f"msg_{run_id}_{index}", int(time.time()), body)
            try:
                if shared is not None:
                    status = shared.post(url + path, content=body, headers=headers).status_code
                else:
                    with httpx.Client(
                        verify=tls,
                        trust_env=False,
                        follow_redirects=False,
                        timeout=10,
                        limits=httpx.Limits(max_connections=1, max_keepalive_connections=0),
                    ) as client:
                        status = client.post(url + path, content=body, headers=headers).status_code
                ok = 200 <= status < 300
                error = None if ok else f"HTTP {status}"
            except httpx.HTTPError as exc:
                error = type(exc).__name__
            if error:
                with lock:
                    failures.append(error)

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(concurrency)]
    if meter:
        meter.start()
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DONE_TIMEOUT_S)
    done = time.monotonic()
    cpu = meter.stop() if meter else {}
    if shared is not None:
        shared.close()
    entry = receiver.wait_count(path, len(bodies), 10)
    return {
        "n": len(bodies),
        "received": entry.get("count", 0),
        "unique_ids": entry.get("unique_ids", 0),
        "steady_per_s": _steady(entry),
        "end_to_end_per_s": len(bodies) / (done - started),
        "end_to_end_s": round(done - started, 3),
        "errors": len(failures),
        "cpu_s": cpu,
    }


def _steady(entry: dict[str, Any]) -> float | None:
    span = entry.get("last", 0) - entry.get("first", 0)
    return (entry["count"] - 1) / span if entry.get("count", 0) > 1 and span > 0 else None


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argument_parser(NAME, __doc__)
    add = parser.add_argument
    add("--deliveries", type=int, default=500, help="deliveries per measured phase (default 500)")
    add(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help="io worker threads = baseline threads (8)",
    )
    add("--warmup", type=int, default=50, help="uncounted deliveries per side first (default 50)")
    add("--sweep", default="", help="also measure the platform at these thread counts, e.g. 2,8,16,32")
    args = parser.parse_args(argv)
    if args.deliveries < 2 or args.concurrency < 1 or args.warmup < 0:
        parser.error("--deliveries >= 2, --concurrency >= 1, --warmup >= 0")
    try:
        args.sweep = [int(x) for x in args.sweep.split(",") if x.strip()]
    except ValueError:
        parser.error("--sweep takes comma-separated integers")
    if any(not 1 <= c <= 64 for c in args.sweep):
        parser.error("--sweep values in 1..64")
    return args


def start_io_worker(stack: Stack, concurrency: int) -> None:
    stack.start_worker("io-worker", queues="io", concurrency=concurrency, pool="threads")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = begin_run()
    total, machine = run.total, run.machine
    n = args.deliveries
    # Production's attempt timeout (the test stack shortens it to 2 s).
    extra = {"MENTORQ_WEBHOOK_TIMEOUT_SECONDS": "10"}
    with bench_stack(llm_provider="ollama", keep=args.keep, extra_env=extra) as stack:
        print(
            f"starting the stack (one worker -Q io, threads pool, concurrency {args.concurrency}) ...",
            flush=True,
        )
        stack.start_api()
        register_token(stack.api_url)
        stack.stop("api")  # not needed any more; one process fewer on the two cores
        receiver = ReceiverProcess(stack)
        start_io_worker(stack, args.concurrency)
        platform = Platform(stack)

        def meter() -> CpuMeter:
            return CpuMeter(
                {
                    "io_worker": stack.processes["io-worker"].pid,
                    "postgres": stack.postgres.pid,
                    "redis": stack.redis.pid,
                    "receiver": receiver.process.pid,
                    "bench_process": os.getpid(),
                },
                self_only=["bench_process"],
            )

        if args.warmup:
            print(f"warming up: {args.warmup} deliveries per side ...", flush=True)
            warm = run_platform_phase(platform, receiver, args.warmup, "/warm/platform", None)
            run_baseline_phase(
                platform.bodies(warm["job_ids"]),
                platform.secret,
                receiver.url,
                args.concurrency,
                keep_alive=False,
                receiver=receiver,
                path="/warm/base",
                meter=None,
            )

        # The bodies the platform will send, prepared (committed, not yet sent) before the baseline runs.
        outbox, ids = platform.prepare(n, receiver.url + "/keep/platform")
        bodies = platform.bodies(ids)

        def baseline(path: str, *, keep_alive: bool) -> dict[str, Any]:
            return run_baseline_phase(
                bodies,
                platform.secret,
                receiver.url,
                args.concurrency,
                keep_alive=keep_alive,
                receiver=receiver,
                path=path,
                meter=meter(),
            )

        phases: dict[str, Any] = {}
        print(
            f"baseline, fresh connection per POST: {n} signed POSTs, {args.concurrency} threads ...",
            flush=True,
        )
        phases["baseline_fresh_1"] = baseline("/base/fresh-1", keep_alive=False)
        print(f"platform: {n} deliveries through the io worker ...", flush=True)
        m = meter()
        m.start()
        started = time.monotonic()
        platform.publish(outbox)
        entry = receiver.wait_count("/keep/platform", n, DONE_TIMEOUT_S)
        statuses: dict[str, int] = {}
        while time.monotonic() - started < DONE_TIMEOUT_S:
            statuses = platform.statuses(ids)
            if statuses.get("succeeded", 0) + statuses.get("failed", 0) >= n:
                break
            time.sleep(0.1)
        done = time.monotonic()
        phases["platform"] = {
            "n": n,
            "received": entry.get("count", 0),
            "unique_ids": entry.get("unique_ids", 0),
            "steady_per_s": _steady(entry),
            "end_to_end_per_s": n / (done - started),
            "end_to_end_s": round(done - started, 3),
            "statuses": statuses,
            **platform.attempts(ids),
            "cpu_s": m.stop(),
        }
        print("baseline again (fresh connection), then keep-alive ...", flush=True)
        phases["baseline_fresh_2"] = baseline("/base/fresh-2", keep_alive=False)
        phases["baseline_keepalive"] = baseline("/base/keepalive", keep_alive=True)

        verified, verify_errors = _verify(receiver.dump("/keep/platform"), platform.secret)

        sweep: list[dict[str, Any]] = []
        for threads in args.sweep:
            print(f"sweep: io worker with {threads} threads, {n} deliveries ...", flush=True)
            stack.stop("io-worker")
            start_io_worker(stack, threads)
            result = run_platform_phase(platform, receiver, n, f"/sweep/{threads}", meter())
            result.pop("job_ids")
            sweep.append({"threads": threads, **result})

    report = _report(args, phases, sweep, verified, verify_errors, machine, total.elapsed())
    path = write_results(NAME, report)
    print(f"\nfigures written to {path.relative_to(path.parents[2])}; whole run {total.elapsed():.0f} s")
    return 0


def _verify(requests: list[dict[str, Any]], secret: str) -> tuple[int, list[str]]:
    from standardwebhooks import Webhook

    hook, ok, errors = Webhook(secret), 0, []
    for request in requests:
        try:
            hook.verify(request["body"], request["headers"])
            ok += 1
        except Exception as error:  # noqa: BLE001 - counted
            errors.append(f"{type(error).__name__}: {error}")
    return ok, errors[:5]


def _per(cpu: dict[str, float], n: int) -> dict[str, float]:
    return {name: round(1000 * sec / n, 2) for name, sec in cpu.items()}


def _report(args, phases, sweep, verified, verify_errors, machine, elapsed) -> dict[str, Any]:
    n = args.deliveries
    plat = phases["platform"]
    base1, base2, keep = phases["baseline_fresh_1"], phases["baseline_fresh_2"], phases["baseline_keepalive"]
    base_steady = [b["steady_per_s"] for b in (base1, base2) if b["steady_per_s"]]
    base_mean = sum(base_steady) / len(base_steady) if base_steady else None
    print()
    print(
        f"Webhook throughput — {n} deliveries per phase, one io worker (threads, concurrency "
        f"{args.concurrency}) vs {args.concurrency} sender threads, {machine['cpus_usable']} CPUs "
        f"({machine['cpu_model']}), {machine['date']}"
    )
    rows = []
    for label, row in (
        ("baseline: signed POSTs, fresh connection (1)", base1),
        ("platform: io worker deliveries", plat),
        ("baseline: signed POSTs, fresh connection (2)", base2),
        ("baseline: signed POSTs, keep-alive (informative)", keep),
    ):
        rows.append(
            [
                label,
                row["received"],
                row["steady_per_s"],
                row["end_to_end_per_s"],
                f"{fmt(ratio(row['steady_per_s'], base_mean), 2)}x",
            ]
        )
    print_table(["path", "received", "steady /s", "end to end /s", "vs fresh baseline"], rows)
    print(
        "steady = (count-1)/(last-first arrival) at the receiver; end to end = N / (first send or publish "
        "-> all answers back, for the platform all rows succeeded and logged); baseline = mean of (1) and (2)"
    )

    print()
    statuses = plat["statuses"]
    checks = [
        [
            "every platform delivery arrived exactly once",
            f"{plat['unique_ids']}/{n} ids, {plat['received']} POSTs",
            verdict(plat["unique_ids"] == n and plat["received"] == n),
        ],
        [
            "every delivery row succeeded, one attempt each",
            f"{json.dumps(statuses)}, {plat['attempts']} attempts",
            verdict(statuses.get("succeeded") == n and plat["attempts"] == n),
        ],
        [
            "signatures verify (standardwebhooks)",
            f"{verified}/{plat['received']}",
            verdict(verified == plat["received"] and verified > 0),
        ],
        [
            "baseline errors",
            str(base1["errors"] + base2["errors"] + keep["errors"]),
            verdict(base1["errors"] + base2["errors"] + keep["errors"] == 0),
        ],
    ]
    print_table(["check", "measured", "verdict"], checks)
    if verify_errors:
        print(f"signature errors: {verify_errors}")

    print()
    names = list(plat["cpu_s"])
    cpu_rows = [[name, _per(base1["cpu_s"], n).get(name), _per(plat["cpu_s"], n).get(name)] for name in names]
    cpu_rows.append(["total", sum(_per(base1["cpu_s"], n).values()), sum(_per(plat["cpu_s"], n).values())])
    print_table(["CPU ms per delivery (user+sys)", "baseline fresh (1)", "platform"], cpu_rows)
    print(f"platform: attempt latency logged p50 {fmt(plat.get('attempt_latency_ms_p50'))} ms")

    if sweep:
        print()
        print_table(
            ["io worker threads", "received", "steady /s", "end to end /s", "io_worker CPU ms/delivery"],
            [
                [
                    s["threads"],
                    s["received"],
                    s["steady_per_s"],
                    s["end_to_end_per_s"],
                    _per(s["cpu_s"], n).get("io_worker"),
                ]
                for s in sweep
            ],
        )

    plat_out = {k: v for k, v in plat.items()}
    return {
        "benchmark": NAME,
        "machine": machine,
        "settings": {
            "deliveries": n,
            "concurrency": args.concurrency,
            "pool": "threads",
            "warmup": args.warmup,
            "generation": "jobs inserted running, finished with db.jobs.finish_job in one transaction, "
            "its outbox sent by db.unit_of_work after the baseline",
            "webhook_timeout_s": 10,
        },
        "phases": {**phases, "platform": plat_out},
        "ratio_platform_to_fresh_baseline_steady": ratio(plat["steady_per_s"], base_mean),
        "ratio_platform_to_keepalive_steady": ratio(plat["steady_per_s"], keep["steady_per_s"]),
        "signatures_verified": verified,
        "sweep": sweep,
        "elapsed_s": round(elapsed, 1),
    }


if __name__ == "__main__":
    sys.exit(main())
