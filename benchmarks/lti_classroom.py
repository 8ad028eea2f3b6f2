"""A class launching at once from one school address (issue 51): 200 learners of one course launch
the tool from the LMS within a minute, every request from 127.0.0.1, with the platform's production
rate limits (anonymous 60 a minute per address; the launch pages' own MENTORQ_RATE_LIMIT_LTI).

    .venv/bin/python -m benchmarks.lti_classroom [--learners 200] [--parallel 16]

The real stack (embedded PostgreSQL + Redis, the API under uvicorn, one worker) and the project's
LTI test platform (tests/lti/platform.py: a real OIDC login, a signed id_token, the platform's key
set fetched by the tool) as a process. A launch is timed from the learner's click in the LMS (its
`/launch`, then the tool's login, the platform's authorization, the form post to the tool) to the
landing page served; the baseline is one learner launching alone, in the same run, before the
class. Refused: any launch not ending on the landing page (a 429 included). Aim: 0 refused.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx

from benchmarks._harness import (
    argument_parser,
    begin_run,
    bench_stack,
    print_table,
    start_platform,
    verdict,
    write_results,
)
from tests.lti.conftest import Browser, TestPlatform, new_platform, platform_process, register, set_up_course
from tests.support.stack import Stack

NAME = "lti_classroom"
# The production defaults, where the test stack lifts them (tests/support/stack.py).
PRODUCTION_LIMITS = {"MENTORQ_RATE_LIMIT_ANONYMOUS": "60/minute", "MENTORQ_RATE_LIMIT_USER": "600/minute"}


def launch(stack_url: str, platform, learner: str) -> tuple[float, int]:
    """(seconds from the click to the landing page, the status that ended it)."""
    started = time.perf_counter()
    with httpx.Client(timeout=60) as client:
        posted = Browser(client).launch(platform, learner)
        if posted.status_code != 303:
            return time.perf_counter() - started, posted.status_code
        landed = client.get(f"{stack_url}{posted.headers['location']}")
        return time.perf_counter() - started, landed.status_code


@contextmanager
def class_platform(stack: Stack, learners: list[str]) -> Iterator[TestPlatform]:
    """The LTI test platform as a process, registered with the tool, one course of `learners`."""
    with platform_process(stack) as url:
        platform = new_platform(url)
        set_up_course(platform, tool_url=stack.api_url, target_link_uri=f"{stack.api_url}/lti/home")
        platform.post(
            "/test/setup",
            {
                "users": {
                    name: {"name": name.title(), "roles": {platform.course: ["Learner"]}} for name in learners
                }
            },
        )
        platform.registration = register(stack, platform)
        yield platform


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(NAME, __doc__)
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--parallel", type=int, default=16, help="browsers launching at the same time")
    args: argparse.Namespace = parser.parse_args(argv)
    run = begin_run()
    with bench_stack(llm_provider="ollama", keep=args.keep, extra_env=PRODUCTION_LIMITS) as stack:
        start_platform(stack, concurrency=1)
        learners = [f"pupil-{n}" for n in range(args.learners)]
        with class_platform(stack, learners) as platform:
            alone = [launch(stack.api_url, platform, "learner") for _ in range(5)]
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.parallel) as pool:
                class_ = list(pool.map(lambda name: launch(stack.api_url, platform, name), learners))
            wall = time.perf_counter() - started
    single = statistics.median(seconds for seconds, _ in alone)
    times = sorted(seconds for seconds, status in class_ if status == 200)
    refused = [status for _, status in class_ if status != 200]
    p50 = statistics.median(times) if times else float("nan")
    p95 = times[int(0.95 * (len(times) - 1))] if times else float("nan")
    print_table(
        ["", "launches", "refused", "p50 ms", "p95 ms", "wall s"],
        [
            [
                "one learner alone",
                str(len(alone)),
                str(sum(s != 200 for _, s in alone)),
                f"{1000 * single:.0f}",
                "",
                "",
            ],
            [
                f"the class ({args.parallel} at once)",
                str(len(class_)),
                str(len(refused)),
                f"{1000 * p50:.0f}",
                f"{1000 * p95:.0f}",
                f"{wall:.1f}",
            ],
        ],
        title=f"{args.learners} learners of one course launching from one address",
    )
    print(f"  refused: {len(refused)} {verdict(not refused)} (aim 0); statuses: {sorted(set(refused))}")
    print(f"  within 60 s: {wall:.1f} s {verdict(wall <= 60)}; p50 {p50 / single:.1f}x a launch alone")
    path = write_results(
        NAME,
        {
            "machine": run.machine,
            "args": vars(args),
            "single_p50_s": single,
            "class_p50_s": p50,
            "class_p95_s": p95,
            "refused": refused,
            "wall_s": wall,
        },
    )
    print(f"results: {path}  ({run.total.elapsed():.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
