"""What Celery's two lines for every task cost a worker: `Task … received` and `Task … succeeded in
…s` written through the process's real log setup (core/logs.py: the record factory, the console or
JSON formatter, the scrubbing), against the same calls with the loggers as a worker now sets them
by default (workers/signals.choose_task_lines: nothing below WARNING), in one process, one run.

    .venv/bin/python -m benchmarks.task_lines [--jobs 20000]

Each "job" makes the calls Celery makes for one task: the consumer's `received` line (the task's
name and id) and the tracer's `succeeded` line (with `saferepr` of the return value, which Celery
builds only when INFO is on). Lines go to a file, as a worker's log does. Printed: CPU µs per job
and bytes written per job, each format, on and off. Nothing is asserted.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import uuid

from celery.app import trace
from celery.utils.saferepr import saferepr

from benchmarks._harness import argument_parser, begin_run, print_table
from core import logs
from core.settings import Settings
from workers.signals import choose_task_lines

NAME = "task_lines"
TASK = "mentorq.tasks.chat"
_received = logging.getLogger("celery.worker.strategy")


def _jobs(count: int) -> float:
    """CPU seconds for `count` tasks' lines, as Celery makes them."""
    writes_info = trace.logger.isEnabledFor(logging.INFO)  # Celery asks once, when it builds a tracer
    began = time.process_time()
    for _ in range(count):
        context = {"id": str(uuid.uuid4()), "name": TASK}
        if _received.isEnabledFor(logging.INFO):
            _received.info(trace.LOG_RECEIVED, context, extra={"data": context})
        if writes_info:
            trace.info(trace.LOG_SUCCESS, {**context, "return_value": saferepr(None), "runtime": 0.0061})
    return time.process_time() - began


def _measure(log_format: str, each_task: bool, count: int, folder: str) -> dict[str, float]:
    settings = Settings(
        _env_file=None,
        SECRET_KEY="x" * 40,
        MENTORQ_LOG_FORMAT=log_format,
        MENTORQ_LOG_EACH_TASK=str(each_task).lower(),
    )
    logs.configure(settings)
    choose_task_lines(settings)
    path = os.path.join(folder, f"{log_format}-{each_task}.log")
    handler = logging.getLogger().handlers[0]
    with open(path, "w") as stream:
        handler.setStream(stream)
        cpu_s = _jobs(count)
    return {"cpu_us": cpu_s / count * 1e6, "bytes": os.path.getsize(path) / count}


def main() -> None:
    parser = argument_parser(NAME, __doc__)
    parser.add_argument("--jobs", type=int, default=20_000)
    args = parser.parse_args()
    begin_run()
    # The JSON formatter scrubs every value with the process's settings, as in a worker, where they
    # load; here they need a key (a process whose settings fail would try to load them on every line).
    os.environ.setdefault("SECRET_KEY", "x" * 40)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for log_format in ("console", "json"):
            _measure(log_format, True, 500, folder)  # warm-up
            written = _measure(log_format, True, args.jobs, folder)
            quiet = _measure(log_format, False, args.jobs, folder)
            rows.append(
                [
                    log_format,
                    f"{written['cpu_us']:.1f}",
                    f"{written['bytes']:.0f}",
                    f"{quiet['cpu_us']:.1f}",
                    f"{quiet['bytes']:.0f}",
                ]
            )
    print(f"Celery's per-task lines, {args.jobs} tasks a side")
    print_table(
        ["format", "written: CPU µs/job", "bytes/job", "off (the default): CPU µs/job", "bytes/job"], rows
    )


if __name__ == "__main__":
    main()
