"""The admin console's pages over a million jobs, each beside the JSON API request that reads the
same data (the baseline: what the page adds is rendering), and the HTTP floor.

    .venv/bin/python -m benchmarks.console [--jobs 1000000] [--days 30] [--runs 30]

The real stack (embedded PostgreSQL + Redis, the API under uvicorn, one worker) with `--jobs` jobs
seeded as `benchmarks.admin_stats` seeds them (seven kinds over `--days` days, 88% succeeded, 8%
failed, a few hundred active; one webhook delivery per five jobs), all owned by the signed-in
admin, and one real `embed` job run to its end for the job page (seeded rows have no timeline).
The console is signed in through its own form (CSRF token and all), the API with a bearer token of
the same account. Timed, interleaved, after 3 uncounted warm-ups, `--runs` times each:

  overview       GET /admin                               beside GET /v1/admin/stats
  jobs           GET /admin/jobs                          beside GET /v1/jobs?limit=50
  jobs filtered  GET /admin/jobs?kind=grade&status=failed beside the same filter on /v1/jobs
  jobs, none     GET /admin/jobs?kind=tutor (a kind with no jobs: the worst case of a filter)
                                                          beside the same filter on /v1/jobs
  a job          GET /admin/jobs/{id}                     beside what a client reads to show the same:
                 GET /v1/jobs/{id}, its /events (the timeline, replayed to `done`) and /deliveries
  answer cache   GET /admin/cache                         beside GET /v1/admin/cache (--cache-entries
                 entries seeded, 384-dim vectors and a short answer each)
  embeddings     GET /admin/embeddings                    beside GET /v1/admin/embeddings
  voices         GET /admin/voices                        beside GET /v1/admin/voices (--voices profiles
                 seeded, two CAM++ clips each)
  lms            GET /admin/lms                           beside GET /v1/admin/lti/platforms and /tool
  question bank  GET /admin/questions                     beside GET /v1/jobs?kind=exercise&status=failed
  grading        GET /admin/questions/grading             beside GET /v1/admin/exercises/submissions
  floor          GET /healthz

Aim: each page's p50 within 1.5x of its JSON request's (rendering is not where the time goes).
Nothing is asserted; figures go to benchmarks/results/console.json.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid

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
    verdict,
    write_results,
)
from benchmarks.admin_stats import seed
from mentorq.client import console_session

NAME = "console"
PASSWORD = "correct-horse-battery-staple"
AIM = 1.5


def sign_in(api_url: str) -> tuple[str, httpx.Client]:
    """A fresh account, signed in to the JSON API with a bearer token; (its e-mail, the client)."""
    email = f"console-bench-{uuid.uuid4().hex[:10]}@example.com"
    with httpx.Client(base_url=api_url, timeout=120) as anonymous:
        anonymous.post("/auth/register", json={"email": email, "password": PASSWORD}).raise_for_status()
        login = anonymous.post("/auth/jwt/login", data={"username": email, "password": PASSWORD})
    token = login.json()["access_token"]
    return email, httpx.Client(base_url=api_url, timeout=120, headers={"Authorization": f"Bearer {token}"})


def finished_job(api: httpx.Client) -> str:
    """A real job run to its end (an `embed`), so it has a whole timeline; seeded rows have none."""
    submitted = api.post("/v1/jobs", json={"kind": "embed", "input": {"texts": ["a job to look at"]}})
    assert submitted.status_code == 202, submitted.text
    job = api.get(f"/v1/jobs/{submitted.json()['id']}", headers={"Prefer": "wait=60"}).json()
    assert job["status"] == "succeeded", job
    return job["id"]


def seed_cache_and_voices(connection: psycopg.Connection, *, owner: str, entries: int, voices: int) -> None:
    """Answer-cache entries (a question, a 384-dim vector, a short answer; live for a day) and voice
    profiles of two 192-dim CAM++ clips each: the console's Answer cache and Voices pages at size."""
    connection.execute(
        """
        INSERT INTO answer_cache (lookup_key, context_key, owner_id, question, content_words, embedding,
            collection_ids, instructions_version, model, output, job_id, hits, expires_at)
        SELECT md5('lookup' || i), md5('context' || i), %s::uuid, 'question number ' || i || '?',
            ARRAY['question', 'number'], (SELECT array_agg(random())::vector FROM generate_series(1, 384)),
            ARRAY[gen_random_uuid()], 1, 'smollm2:135m', '{"answer": "an answer"}'::jsonb,
            gen_random_uuid(), i %% 7, now() + interval '1 day'
        FROM generate_series(1, %s) AS i
        """,
        (owner, entries),
    )
    connection.execute(
        """
        WITH profiles AS (
            INSERT INTO voice_profiles (id, name, role, encoder)
            SELECT gen_random_uuid(), 'Speaker ' || i, CASE WHEN i %% 2 = 0 THEN 'host' ELSE 'guest' END,
                'campplus'
            FROM generate_series(1, %s) AS i
            RETURNING id
        )
        INSERT INTO voice_clips (profile_id, position, filename, voiced_s, embedding)
        SELECT id, position, 'clip-' || position || '.wav', 12.5,
            (SELECT array_agg(random()::real) FROM generate_series(1, 192))
        FROM profiles, generate_series(0, 1) AS position
        """,
        (voices,),
    )


def timed(client: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code, response.text[:500])
    return time.perf_counter() - started


def timed_all(client: httpx.Client, paths: tuple[str, ...]) -> float:
    return sum(timed(client, path) for path in paths)


def measure(
    pairs: dict[str, tuple[str, tuple[str, ...]]], console: httpx.Client, api: httpx.Client, runs: int
) -> dict:
    """Every page and its JSON requests (and the floor), interleaved, after 3 uncounted rounds."""
    timings: dict[str, list[float]] = {"healthz": []}
    for name in pairs:
        timings[f"{name} page"], timings[f"{name} api"] = [], []
    for number in range(3 + runs):
        for name, (page, requests) in pairs.items():
            for label, client, paths in ((f"{name} page", console, (page,)), (f"{name} api", api, requests)):
                elapsed = timed_all(client, paths)
                if number >= 3:
                    timings[label].append(elapsed)
        elapsed = timed(api, "/healthz")
        if number >= 3:
            timings["healthz"].append(elapsed)
    return {label: latency_summary_ms(values) for label, values in timings.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(NAME, __doc__)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--cache-entries", type=int, default=5000)
    parser.add_argument("--voices", type=int, default=300)
    args: argparse.Namespace = parser.parse_args(argv)
    run = begin_run()
    with bench_stack(llm_provider="ollama", keep=args.keep) as stack:
        start_platform(stack, concurrency=1)
        email, api = sign_in(stack.api_url)
        stack.sql("UPDATE users SET is_superuser = true WHERE email = %s", email)
        with api, console_session(stack.api_url, email, PASSWORD, timeout=120) as console:
            [(owner,)] = stack.sql("SELECT id::text FROM users WHERE email = %s", email)
            with psycopg.connect(stack.database_url.replace("+psycopg", ""), autocommit=True) as connection:
                print(f"seeding {args.jobs:,} jobs over {args.days} days ...", flush=True)
                seed_s = seed(connection, owner=owner, jobs=args.jobs, days=args.days)
                seed_cache_and_voices(connection, owner=owner, entries=args.cache_entries, voices=args.voices)
            print(f"seeded in {seed_s:.0f} s", flush=True)
            one_job = finished_job(api)
            pairs = {
                "overview": ("/admin", ("/v1/admin/stats",)),
                "jobs": ("/admin/jobs", ("/v1/jobs?limit=50",)),
                "jobs filtered": (
                    "/admin/jobs?kind=grade&status=failed",
                    ("/v1/jobs?kind=grade&status=failed&limit=50",),
                ),
                "jobs, none": ("/admin/jobs?kind=tutor", ("/v1/jobs?kind=tutor&limit=50",)),
                "a job": (
                    f"/admin/jobs/{one_job}",
                    (f"/v1/jobs/{one_job}", f"/v1/jobs/{one_job}/events", f"/v1/jobs/{one_job}/deliveries"),
                ),
                "answer cache": ("/admin/cache", ("/v1/admin/cache",)),
                "embeddings": ("/admin/embeddings", ("/v1/admin/embeddings",)),
                "voices": ("/admin/voices", ("/v1/admin/voices",)),
                "lms": ("/admin/lms", ("/v1/admin/lti/platforms", "/v1/admin/lti/tool")),
                "question bank": ("/admin/questions", ("/v1/jobs?kind=exercise&status=failed&limit=50",)),
                "grading": ("/admin/questions/grading", ("/v1/admin/exercises/submissions",)),
            }
            figures = measure(pairs, console, api, args.runs)

    rows, checks = [], {}
    for name, (page, _request) in pairs.items():
        page_ms, api_ms = figures[f"{name} page"], figures[f"{name} api"]
        page_ratio = ratio(page_ms["p50_ms"], api_ms["p50_ms"])
        checks[name] = page_ratio is not None and page_ratio <= AIM
        rows.append(
            [
                f"{name}: {page}",
                fmt(page_ms["p50_ms"]),
                fmt(page_ms["p95_ms"]),
                fmt(api_ms["p50_ms"]),
                fmt(api_ms["p95_ms"]),
                f"{fmt(page_ratio, 2)}x {verdict(checks[name])}",
            ]
        )
    floor = figures["healthz"]
    rows.append(["GET /healthz (the HTTP floor)", "", "", fmt(floor["p50_ms"]), fmt(floor["p95_ms"]), ""])
    print_table(
        [
            "page",
            "page p50 ms",
            "page p95 ms",
            "JSON p50 ms",
            "JSON p95 ms",
            f"page / JSON p50 (aim <= {AIM}x)",
        ],
        rows,
        title=f"the admin console over {args.jobs:,} jobs",
    )
    write_results(
        NAME,
        {
            "jobs": args.jobs,
            "days": args.days,
            "runs": args.runs,
            "figures": figures,
            "checks": checks,
            "machine": run.machine,
            "total_s": run.total.elapsed(),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
