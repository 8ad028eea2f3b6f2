"""Where one client's instant job spends its server-side time (issue 63): the one-client aim of
`benchmarks.platform_overhead` (created -> completed, against Procrastinate's deferred ->
succeeded) cut into its parts.

    .venv/bin/python -m benchmarks.job_latency_parts [--jobs 60] [--warmup 40]

The same stack as `platform_overhead --topology lanes` (the API, the llm lane's threads worker with
2 slots, beat, the fake Ollama answering at once). One client sends the chat job `{"prompt": "hi"}`
with `Prefer: wait=30`, one after another. Each job's parts, from its row (PostgreSQL's `now()`,
which is the start of the writing transaction) and the llm worker's log (Celery's `received` and
`succeeded in` lines, millisecond stamps, which the worker writes with MENTORQ_LOG_EACH_TASK=true):

- created -> received: the API's transaction from its start to its commit, the message's LPUSH,
  and Celery's delivery to the worker;
- received -> started: Celery handing the message to a pool thread, and the claim;
- started -> completed: the body (the LLM call) and the finishing transaction's start;
- Celery's own `succeeded in`: the whole task, claim to the last publish.

Nothing is asserted; p50 and the least of each part are printed.
"""

from __future__ import annotations

import argparse
import re
import statistics
from datetime import datetime

from benchmarks._harness import argument_parser, bench_stack
from benchmarks.platform_overhead import parse_args as overhead_args
from benchmarks.platform_overhead import run_platform, start_platform_for
from tests.support.fake_ollama import FakeOllama

NAME = "job_latency_parts"
_STAMP = r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO "
_RECEIVED = re.compile(_STAMP + r"celery\.worker\.strategy: Task \S+\[([0-9a-f-]{36})\] received")
_SUCCEEDED = re.compile(_STAMP + r"celery\.app\.trace: Task \S+\[([0-9a-f-]{36})\] succeeded in ([0-9.]+)s")


def _stamp(text: str) -> datetime:
    # logging's asctime is the machine's local time
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=datetime.now().astimezone().tzinfo)


def _ms(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() * 1000


def parts(rows: list[tuple], log: str) -> dict[str, list[float]]:
    received: dict[str, datetime] = {}
    task_ms: dict[str, float] = {}
    for line in log.splitlines():
        if found := _RECEIVED.search(line):
            received[found.group(2)] = _stamp(found.group(1))
        elif found := _SUCCEEDED.search(line):
            task_ms[found.group(2)] = float(found.group(3)) * 1000
    figures: dict[str, list[float]] = {
        "created -> completed": [],
        "created -> received": [],
        "received -> started": [],
        "started -> completed": [],
        "Celery's task": [],
    }
    for job_id, created, started, completed in rows:
        figures["created -> completed"].append(_ms(created, completed))
        figures["started -> completed"].append(_ms(started, completed))
        if (at := received.get(str(job_id))) is not None:
            figures["created -> received"].append(_ms(created, at))
            figures["received -> started"].append(_ms(at, started))
        if str(job_id) in task_ms:
            figures["Celery's task"].append(task_ms[str(job_id)])
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(NAME, __doc__)
    parser.add_argument("--jobs", type=int, default=60, help="measured jobs, one after another (default 60)")
    parser.add_argument("--warmup", type=int, default=40, help="uncounted jobs first (default 40)")
    args: argparse.Namespace = parser.parse_args(argv)
    fake = FakeOllama(token_delay_s=0.0).start()
    try:
        with bench_stack(
            ollama_url=fake.url,
            llm_provider="ollama",
            keep=args.keep,
            extra_env={"MENTORQ_LLM_USER_SLOTS": "0", "MENTORQ_LOG_EACH_TASK": "true"},
        ) as stack:
            token = start_platform_for(stack, overhead_args(["--jobs", "1"]))
            run_platform(stack.api_url, token, jobs=args.warmup, clients=1, wait_s=30, job_timeout_s=60)
            log_path = stack.root / "worker.log"
            mark = log_path.stat().st_size
            outcomes, _ = run_platform(
                stack.api_url, token, jobs=args.jobs, clients=1, wait_s=30, job_timeout_s=60
            )
            rows = stack.sql(
                "SELECT id, created_at, started_at, completed_at FROM jobs "
                "WHERE status = 'succeeded' ORDER BY created_at DESC LIMIT %s",
                args.jobs,
            )
            figures = parts(rows, log_path.read_text()[mark:])
    finally:
        fake.stop()
    print(f"{sum(o.ok for o in outcomes)}/{args.jobs} jobs succeeded")
    for name, values in figures.items():
        if values:
            p50, least = statistics.median(values), min(values)
            print(f"{name:22} n={len(values):3}  p50 {p50:6.2f} ms  least {least:6.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
