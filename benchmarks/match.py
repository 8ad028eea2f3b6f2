"""A match end to end, the platform's share beside a plain job's; the local model's share; and the
report's rendering time for a 30-requirement match.

    .venv/bin/python -m benchmarks.match [--runs 20] [--local]

1. The real stack (embedded PostgreSQL + Redis, the API under uvicorn, one worker on every queue
   with prefork 2, beat off) with an in-process fake Ollama server that answers at once, so what
   is measured is the platform's share. Interleaved, one at a time, after 3 uncounted warm-ups:
   - baseline: a `chat` job submitted with `Prefer: wait` until it succeeded (the cheapest job
     that calls the model: the job row, its message, a claim, one LLM call, the finish);
   - a match: `POST /api/matches` with a new 12-requirement target inline (so the requirements
     are extracted each time), waited for with `Prefer: wait`: two job rows' worth of reads (the
     match, the target, the profile, the mastery), one LLM call, the quote checks of 12
     requirements, the score, 6 gap rows, the result. MENTORQ_MATCH_PLAN_GAPS=0, so no plan jobs
     run beside the next measurement; then `GET /api/matches/{id}` (the detail every report
     renders from).
2. With --local: the same stack on the local model (SmolLM2 through llama.cpp on the CPU), one
   match after a warm-up: the job's own timings (the model's calls vs the rest). A model this
   small often quotes badly; the run says what the checks kept.
3. In process, no stack: `core.matches.report` for a 30-requirement match, PDF (Latin text only;
   a CJK name, which loads the fallback font) and Markdown, beside a one-line PDF with the same
   font (what opening a document and its font costs).

Nothing is asserted; the issue sets no number (informative).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

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
    write_results,
)
from tests.support.fake_ollama import FakeOllama

NAME = "match"
SKILLS = [
    "SQL",
    "Python",
    "Docker",
    "Git",
    "Linux",
    "Kafka",
    "Spark",
    "Airflow",
    "dbt",
    "Terraform",
    "Go",
    "Rust",
]


def target_text(marker: str) -> str:
    lines = [f"Data platform engineer {marker}", "", "Requirements:"]
    lines += [f"- You must use {skill} every day in production work." for skill in SKILLS[:8]]
    lines += ["", "Nice to have:"] + [f"- Some exposure to {skill} would be great." for skill in SKILLS[8:]]
    return "\n".join(lines)


def requirements_answer() -> str:
    must = [
        {
            "skill": s,
            "level": None,
            "importance": "must",
            "quote": f"You must use {s} every day in production work",
        }
        for s in SKILLS[:8]
    ]
    nice = [
        {"skill": s, "level": None, "importance": "nice", "quote": f"Some exposure to {s} would be great"}
        for s in SKILLS[8:]
    ]
    return json.dumps({"requirements": must + nice})


def timed_chat(http: httpx.Client) -> float:
    began = time.perf_counter()
    job = (
        http.post("/v1/jobs", json={"kind": "chat", "input": {"prompt": "hi"}}, headers={"Prefer": "wait=30"})
        .raise_for_status()
        .json()
    )
    assert job["status"] == "succeeded", job
    return time.perf_counter() - began


def timed_match(http: httpx.Client, fake: FakeOllama) -> tuple[float, float, dict[str, Any]]:
    marker = uuid.uuid4().hex
    fake.script(marker, requirements_answer())
    began = time.perf_counter()
    created = (
        http.post("/api/matches", json={"target": {"text": target_text(marker)}}).raise_for_status().json()
    )
    job = http.get(f"/v1/jobs/{created['job']['id']}", headers={"Prefer": "wait=30"}).json()
    while job["status"] not in ("succeeded", "failed", "canceled"):
        job = http.get(f"/v1/jobs/{created['job']['id']}", headers={"Prefer": "wait=30"}).json()
    elapsed = time.perf_counter() - began
    assert job["status"] == "succeeded", job
    began = time.perf_counter()
    http.get(f"/api/matches/{created['id']}").raise_for_status()
    return elapsed, time.perf_counter() - began, job


def set_profile(http: httpx.Client) -> None:
    etag = http.get("/api/profiles/me").headers["ETag"]
    skills = [{"name": s, "level": "intermediate"} for s in SKILLS[::2]]
    http.patch("/api/profiles/me", json={"skills": skills}, headers={"If-Match": etag}).raise_for_status()


def platform_share(args: argparse.Namespace) -> dict[str, Any]:
    fake = FakeOllama(token_delay_s=0.0).start()
    try:
        env = {"MENTORQ_MATCH_PLAN_GAPS": "0"}
        with bench_stack(ollama_url=fake.url, llm_provider="ollama", keep=args.keep, extra_env=env) as stack:
            token = start_platform(stack, concurrency=2)
            with httpx.Client(
                base_url=stack.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
            ) as http:
                set_profile(http)
                for _ in range(3):
                    timed_chat(http)
                    timed_match(http, fake)
                chats, matches, details, jobs = [], [], [], []
                for _ in range(args.runs):
                    chats.append(timed_chat(http))
                    elapsed, detail, job = timed_match(http, fake)
                    matches.append(elapsed)
                    details.append(detail)
                    jobs.append(job)
    finally:
        fake.stop()
    return {
        "chat_s": chats,
        "match_s": matches,
        "detail_s": details,
        "match_run_ms": [j["metrics"]["run_ms"] for j in jobs],
        "match_timings_ms": [j["output"]["timings_ms"] for j in jobs],
        "score": jobs[-1]["output"]["score"],
    }


def local_share(args: argparse.Namespace) -> dict[str, Any]:
    with bench_stack(
        llm_provider="local", keep=args.keep, extra_env={"MENTORQ_MATCH_PLAN_GAPS": "0"}
    ) as stack:
        token = start_platform(stack, concurrency=1)
        with httpx.Client(
            base_url=stack.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as http:
            set_profile(http)
            http.post(
                "/v1/jobs", json={"kind": "chat", "input": {"prompt": "hi"}}, headers={"Prefer": "wait=60"}
            )
            created = http.post("/api/matches", json={"target": {"text": target_text("local")}}).json()
            job = http.get(f"/v1/jobs/{created['job']['id']}", headers={"Prefer": "wait=60"}).json()
            deadline = time.monotonic() + 900
            while job["status"] not in ("succeeded", "failed", "canceled") and time.monotonic() < deadline:
                job = http.get(f"/v1/jobs/{created['job']['id']}", headers={"Prefer": "wait=60"}).json()
    # A failed match (no requirement survived the checks) carries the same figures in its details.
    figures = job.get("output") or (job.get("error") or {}).get("details") or {}
    return {
        "status": job["status"],
        "error_code": (job.get("error") or {}).get("code"),
        "run_ms": job["metrics"]["run_ms"],
        "timings_ms": figures.get("timings_ms"),
        "requirements": figures.get("requirements", 0),
        "dropped_unsupported": figures.get("dropped_unsupported"),
        "dropped": figures.get("dropped"),
    }


def thirty_requirements(learner: str) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    statuses = [("met", 1.0), ("partial", 0.5), ("gap", 0.0)]
    requirements = [
        {
            "index": i,
            "skill": f"Skill number {i}",
            "level": "intermediate",
            "importance": "must" if i % 2 else "nice",
            "weight": 3 if i % 2 else 1,
            "status": statuses[i % 3][0],
            "credit": statuses[i % 3][1],
            "because": "missing",
            "evidence": {
                "target_quote": f"You must know skill number {i} well enough to teach it to others",
                "candidate": {
                    "name": f"Skill number {i}",
                    "level": "beginner",
                    "source": "profile",
                    "revision": 3,
                }
                if i % 3 == 1
                else None,
                "mastery": {"skill": f"skill number {i}", "p_known": 0.62, "events": 4}
                if i % 3 == 1
                else None,
            },
            "corrected": [],
        }
        for i in range(30)
    ]
    plan = [
        {
            "requirement": r["index"],
            "skill": r["skill"],
            "importance": r["importance"],
            "closed": False,
            "closed_at": None,
            "recommendation": f"Required: {r['skill']} at intermediate level; you have not shown it yet.",
            "resources_job": {
                "job_id": str(uuid.uuid4()),
                "status": "succeeded",
                "result": {"documents": [{"title": "Notes"}]},
            },
            "exercise_job": None,
        }
        for r in requirements
        if r["status"] != "met"
    ][:5]
    return {
        "target_title": "Data platform engineer",
        "learner": learner,
        "candidate": "profile",
        "score": 55.0,
        "how_scored": "Each requirement earns a credit ...",
        "requirements": requirements,
        "strengths": [r for r in requirements if r["status"] == "met"],
        "gaps": [r for r in requirements if r["status"] != "met"],
        "plan": plan,
        "history": [
            {"score": 50.0, "reason": "computed", "closed_gaps": [], "at": now},
            {"score": 55.0, "reason": "progress", "closed_gaps": [], "at": now},
        ],
    }


def report_times(repeats: int) -> dict[str, dict[str, float | None]]:
    os.environ.setdefault("MENTORQ_ENV", "dev")  # in process, no server: the dev defaults are enough
    from core.matches import report

    one_line = {
        **thirty_requirements("Ada"),
        "requirements": [],
        "strengths": [],
        "gaps": [],
        "plan": [],
        "history": [],
    }
    cases = {
        "baseline: an empty report, same font": lambda: report.pdf(one_line),
        "PDF, 30 requirements, Latin": lambda: report.pdf(thirty_requirements("Zoë Łukasiewicz")),
        "PDF, 30 requirements, a CJK name": lambda: report.pdf(thirty_requirements("李小龍")),
        "Markdown, 30 requirements": lambda: report.markdown(thirty_requirements("Zoë Łukasiewicz")),
    }
    for case in cases.values():
        case()  # warm: the fonts' code-point tables, imports
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, case in cases.items():
            began = time.perf_counter()
            case()
            times[name].append(time.perf_counter() - began)
    return {name: latency_summary_ms(values) for name, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(NAME, __doc__)
    parser.add_argument("--runs", type=int, default=20, help="measured matches and chats (default 20)")
    parser.add_argument("--local", action="store_true", help="also one match on the local model")
    parser.add_argument("--report-repeats", type=int, default=10)
    args = parser.parse_args(argv)
    run = begin_run()
    results: dict[str, Any] = {"machine": run.machine, "args": vars(args)}

    reports = report_times(args.report_repeats)
    print_table(
        ["rendering", "p50 ms", "p95 ms"],
        [[name, fmt(figures["p50_ms"]), fmt(figures["p95_ms"])] for name, figures in reports.items()],
        title=f"match reports, {args.report_repeats} renders each, in process",
    )
    results["reports_ms"] = reports

    share = platform_share(args)
    chat, match, detail = (latency_summary_ms(share[k]) for k in ("chat_s", "match_s", "detail_s"))
    platform_ms = [t["platform"] for t in share["match_timings_ms"]]
    llm_ms = [t["llm"] for t in share["match_timings_ms"]]
    print_table(
        ["path", "p50 ms", "p95 ms", "vs chat (p50)"],
        [
            ["baseline: a chat job, Prefer: wait", fmt(chat["p50_ms"]), fmt(chat["p95_ms"]), "1.00x"],
            [
                "a match, 12 requirements, submit to succeeded",
                fmt(match["p50_ms"]),
                fmt(match["p95_ms"]),
                f"{fmt(ratio(match['p50_ms'], chat['p50_ms']), 2)}x",
            ],
            [
                "GET /api/matches/{id}",
                fmt(detail["p50_ms"]),
                fmt(detail["p95_ms"]),
                f"{fmt(ratio(detail['p50_ms'], chat['p50_ms']), 2)}x",
            ],
        ],
        title=f"{args.runs} of each, interleaved, fake LLM answering at once",
    )
    run_ms, model_ms, rest_ms = (
        fmt(statistics.median(values), 0) for values in (share["match_run_ms"], llm_ms, platform_ms)
    )
    print(
        f"the match job's own run: median {run_ms} ms; of it the model's calls {model_ms} ms, "
        f"the platform (reads, checks, score, save) {rest_ms} ms"
    )
    results["platform"] = share | {"chat_ms": chat, "match_ms": match, "detail_ms": detail}

    if args.local:
        local = local_share(args)
        timings = local.get("timings_ms") or {}
        print(
            f"local model: {local['status']} in {local['run_ms']} ms; "
            f"the model's calls {timings.get('llm')} ms, the platform {timings.get('platform')} ms; "
            f"requirements kept {local.get('requirements')}, dropped {local.get('dropped_unsupported')}; "
            f"error {local.get('error_code')}; what the checks dropped: "
            f"{[(d['name'], d['reason']) for d in local.get('dropped') or []]}"
        )
        results["local"] = local
    print(f"results: {write_results(NAME, results)}  ({run.total.elapsed():.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
