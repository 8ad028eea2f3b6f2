"""GET /v1/admin/stats over a million jobs: its latency beside the HTTP floor (/healthz) and beside
one full count of the jobs table, and the plan of its largest query.

    .venv/bin/python -m benchmarks.admin_stats [--jobs 1000000] [--days 30] [--runs 30]

The real stack (embedded PostgreSQL + Redis, the API under uvicorn, one worker) with `--jobs` jobs
written straight into PostgreSQL by one INSERT ... SELECT generate_series (then ANALYZE): created
uniformly over the last `--days` days, seven kinds, 88% succeeded, 8% failed with one of four
error codes, 2% canceled, a few hundred queued or running; ask jobs say whether the cache answered
them; one webhook delivery per five jobs; rows in creation order, as a live table has them. With
30 days, the last day holds about 1/30 of them.

Timed, interleaved, after 3 uncounted warm-ups, `--runs` times each, then again after as many
jobs more, all older than the window (the stats should not notice them; a full count doubles):
  GET /v1/admin/stats     every figure (seven queries and the workers in Redis);
  GET /healthz            the baseline: the same HTTP path doing nothing;
  SELECT count(*) FROM jobs, from a psycopg connection: what one full scan of the table costs.
Then EXPLAIN (ANALYZE, BUFFERS) of each query over jobs and deliveries: each must reach its rows
through an index, never a Seq Scan of the table. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import re
import sys
import time

import httpx
import psycopg

from benchmarks._harness import (
    argument_parser,
    begin_run,
    bench_stack,
    fmt,
    latency_summary_ms,
    print_table,
    ratio,
    start_platform,
    write_results,
)
from db import stats as stats_queries

NAME = "admin_stats"

SEED_JOBS = """
INSERT INTO jobs (id, kind, owner_id, status, input, output, error, attempts, max_attempts, queue,
                  priority, created_at, started_at, completed_at)
SELECT gen_random_uuid(), kind, %(owner)s, status, '{}'::jsonb,
       CASE WHEN kind = 'ask' AND status = 'succeeded'
            THEN jsonb_build_object('cached', random() < 0.3) END,
       CASE WHEN status = 'failed' THEN jsonb_build_object('code',
            (ARRAY['llm_unavailable', 'model_not_found', 'llm_invalid_output', 'time_limit'])
            [1 + floor(random() * 4)::int], 'message', 'a seeded failure') END,
       1, 3, CASE WHEN kind IN ('ingest', 'grade') THEN 'cpu' ELSE 'gpu' END, 0,
       created_at,
       CASE WHEN status <> 'queued' THEN created_at + random() * interval '2 seconds' END,
       CASE WHEN status IN ('succeeded', 'failed', 'canceled')
            THEN created_at + interval '2 seconds' + random() * interval '5 seconds' END
FROM (
    SELECT (ARRAY['ask', 'chat', 'embed', 'ingest', 'resources', 'exercise', 'grade'])
               [1 + floor(random() * 7)::int] AS kind,
           CASE WHEN n <= %(active)s THEN (ARRAY['queued', 'running'])[1 + (n %% 2)]
                WHEN r < 0.88 THEN 'succeeded' WHEN r < 0.96 THEN 'failed' ELSE 'canceled' END AS status,
           CASE WHEN n <= %(active)s THEN now() - random() * interval '10 minutes'
                ELSE now() - (%(older_than)s + random() * %(days)s) * interval '1 day' END AS created_at
    FROM (SELECT n, random() AS r FROM generate_series(1, %(jobs)s) AS n) AS numbered
) AS seeded
ORDER BY created_at  -- rows lie in the table in the order they were created, as they do in use
"""

SEED_DELIVERIES = """
INSERT INTO webhook_deliveries (id, job_id, event_type, url, payload, status, attempts, created_at)
SELECT gen_random_uuid(), id, 'job.succeeded', 'https://hooks.example.com/mentorq', '{}'::jsonb,
       CASE WHEN random() < 0.97 THEN 'succeeded' ELSE 'failed' END, 1, completed_at
FROM jobs TABLESAMPLE BERNOULLI (20)
WHERE completed_at IS NOT NULL AND created_at < now() - %(older_than)s * interval '1 day'
"""


def seed(connection: psycopg.Connection, *, owner: str, jobs: int, days: int, older_than: int = 0) -> float:
    """`jobs` jobs created over `days` days ending `older_than` days ago (0: now, with some active)."""
    started = time.perf_counter()
    parameters = {
        "owner": owner,
        "jobs": jobs,
        "active": 0 if older_than else 300,
        "days": days,
        "older_than": older_than,
    }
    connection.execute(SEED_JOBS, parameters)
    connection.execute(SEED_DELIVERIES, {"older_than": older_than})
    connection.execute("ANALYZE jobs")
    connection.execute("ANALYZE webhook_deliveries")
    return time.perf_counter() - started


def timed_get(http: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    http.get(path).raise_for_status()
    return time.perf_counter() - started


def timed_count(connection: psycopg.Connection) -> float:
    started = time.perf_counter()
    connection.execute("SELECT count(*) FROM jobs").fetchone()
    return time.perf_counter() - started


QUERIES = {
    "jobs by kind": stats_queries._JOBS_BY_KIND,
    "failure codes": stats_queries._FAILURE_CODES,
    "cache hits": stats_queries._CACHE_HITS,
    "webhook deliveries": stats_queries._WEBHOOK_DELIVERIES,
    "backlog": stats_queries._BACKLOG,
    "library": stats_queries._LIBRARY,
}
SCAN = re.compile(r"(Seq Scan|Index Only Scan|Index Scan|Bitmap Index Scan)(?: using \w+)? on (\w+)")


def explained(connection: psycopg.Connection, query) -> str:
    sql = str(query).replace(":hour", "(now() - interval '1 hour')")
    sql = sql.replace(":day", "(now() - interval '1 day')")
    return "\n".join(row[0] for row in connection.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}").fetchall())


def measure(http: httpx.Client, connection: psycopg.Connection, runs: int) -> dict[str, dict]:
    """stats, healthz and a full count, interleaved, after 3 uncounted rounds."""
    timings: dict[str, list[float]] = {"stats": [], "healthz": [], "full_count": []}
    for number in range(3 + runs):
        rounds = (
            ("stats", lambda: timed_get(http, "/v1/admin/stats")),
            ("healthz", lambda: timed_get(http, "/healthz")),
            ("full_count", lambda: timed_count(connection)),
        )
        for name, timed in rounds:
            elapsed = timed()
            if number >= 3:
                timings[name].append(elapsed)
    return {name: latency_summary_ms(values) for name, values in timings.items()}


def print_phase(title: str, figures: dict[str, dict]) -> None:
    stats, health, count = figures["stats"], figures["healthz"], figures["full_count"]
    rows = [
        ["GET /v1/admin/stats", fmt(stats["p50_ms"]), fmt(stats["p95_ms"])],
        ["GET /healthz (the HTTP floor)", fmt(health["p50_ms"]), fmt(health["p95_ms"])],
        ["SELECT count(*) FROM jobs (one full scan)", fmt(count["p50_ms"]), fmt(count["p95_ms"])],
    ]
    print_table(["request", "p50 ms", "p95 ms"], rows, title=title)


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(NAME, __doc__)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=30)
    args: argparse.Namespace = parser.parse_args(argv)
    run = begin_run()
    phases: dict[str, dict] = {}
    with bench_stack(llm_provider="ollama", keep=args.keep) as stack:
        token = start_platform(stack, concurrency=1)
        stack.sql("UPDATE users SET is_superuser = true")
        [(owner,)] = stack.sql("SELECT id::text FROM users LIMIT 1")
        with (
            psycopg.connect(stack.database_url.replace("+psycopg", ""), autocommit=True) as connection,
            httpx.Client(
                base_url=stack.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=120
            ) as http,
        ):
            print(f"seeding {args.jobs:,} jobs over {args.days} days ...", flush=True)
            seed_s = seed(connection, owner=owner, jobs=args.jobs, days=args.days)
            [(deliveries,)] = connection.execute("SELECT count(*) FROM webhook_deliveries").fetchall()
            print(f"seeded in {seed_s:.0f} s ({deliveries:,} webhook deliveries)", flush=True)
            phases["seeded"] = measure(http, connection, args.runs)
            day_jobs = http.get("/v1/admin/stats").json()["day"]["jobs"]
            plans = {name: explained(connection, query) for name, query in QUERIES.items()}
            # As many jobs again, all older than the window: the stats must not notice them.
            print(f"adding {args.jobs:,} jobs older than {args.days} days ...", flush=True)
            seed(connection, owner=owner, jobs=args.jobs, days=args.days, older_than=args.days)
            phases["doubled"] = measure(http, connection, args.runs)

    seeded_title = f"{args.jobs:,} jobs over {args.days} days; the last day: {day_jobs:,} jobs"
    print_phase(seeded_title, phases["seeded"])
    print_phase(f"{2 * args.jobs:,} jobs: as many again, all older than the window", phases["doubled"])
    seeded, doubled = phases["seeded"], phases["doubled"]
    stats_p50 = seeded["stats"]["p50_ms"]
    print(
        f"stats / healthz p50 {fmt(ratio(stats_p50, seeded['healthz']['p50_ms']), 1)}x; "
        f"stats / one full count p50 {fmt(ratio(stats_p50, seeded['full_count']['p50_ms']), 2)}x"
    )
    print(
        f"twice the jobs: stats p50 {fmt(ratio(doubled['stats']['p50_ms'], seeded['stats']['p50_ms']), 2)}x, "
        f"full count p50 {fmt(ratio(doubled['full_count']['p50_ms'], seeded['full_count']['p50_ms']), 2)}x"
    )
    print("plan of the jobs-by-kind query:\n" + plans["jobs by kind"])
    scans = {}
    for name, plan in plans.items():
        scans[name] = sorted({match.group(0) for match in SCAN.finditer(plan)})
        took = re.search(r"Execution Time: ([\d.]+) ms", plan)
        print(f"{name}: {took.group(1) if took else '?'} ms; " + ", ".join(scans[name]))
    results = {
        "machine": run.machine,
        "args": vars(args),
        "seed_s": seed_s,
        "day_jobs": day_jobs,
        "phases": phases,
        "scans": scans,
    }
    print(f"results: {write_results(NAME, results)}  ({run.total.elapsed():.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
