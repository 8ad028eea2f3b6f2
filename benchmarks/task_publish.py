"""What putting one job's message on the broker costs the process that sends it: Celery's
`send_task` (the baseline, as every message was sent until 2026-11-30) against core/task_messages.py's
framing with one LPUSH, sync (a worker, the reconciler) and async (the API), in one process, one
run, interleaved.

    .venv/bin/python -m benchmarks.task_publish [--messages 3000] [--rounds 3]

The embedded Redis (devstack/embedded.py) on a unix socket, as the stack runs it, in a temporary
folder. Each path sends --messages job messages (a chat job's route, normal priority) per round,
after 200 uncounted ones. Printed: the sending process's CPU per message (µs) and its wall time,
each path's mean over the rounds, and the ratio to the baseline. Redis's own CPU is not in the
figures: it is one LPUSH for every path. The API's two rows are what its process pays: before, it
handed each commit's messages to a thread for kombu (anyio's worker threads, as db/unit_of_work.py
did); now it awaits the LPUSH on its async client. Nothing is asserted.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import anyio.to_thread

from benchmarks._harness import argument_parser, begin_run, print_table, ratio
from devstack.embedded import EmbeddedRedis

NAME = "task_publish"
WARM_UP = 200


def _timed(send: Callable[[int], None], count: int) -> tuple[float, float]:
    send(WARM_UP)
    cpu, wall = time.process_time(), time.perf_counter()
    send(count)
    return (time.process_time() - cpu) / count * 1e6, (time.perf_counter() - wall) / count * 1e6


def main() -> None:
    parser = argument_parser(NAME, __doc__)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    begin_run()
    folder = Path(tempfile.mkdtemp(prefix="mentorq-bench-publish-"))
    redis_server = EmbeddedRedis(folder / "redis", append_only=False).start()
    try:
        os.environ.setdefault("MENTORQ_ENV", "dev")
        os.environ["REDIS_URL"] = redis_server.url
        from core import broker
        from core.jobspec import Route
        from core.redis_clients import get_async_broker_redis, get_broker_redis

        route = Route("mentorq.tasks.chat", "bench-publish", soft_time_limit=60, time_limit=70)
        app = broker.publisher()

        def celery_send_task(count: int) -> None:
            for _ in range(count):
                job_id = str(uuid.uuid4())
                app.send_task(
                    route.task_name,
                    args=[job_id],
                    task_id=job_id,
                    queue=route.queue,
                    priority=broker.broker_priority(0),
                    retry=False,
                )

        def framed_sync(count: int) -> None:
            for _ in range(count):
                broker.send([broker.job_message(job_id=uuid.uuid4(), route=route)])

        loop = asyncio.new_event_loop()

        def celery_on_a_thread(count: int) -> None:
            async def send() -> None:
                for _ in range(count):
                    await anyio.to_thread.run_sync(celery_send_task, 1)

            loop.run_until_complete(send())

        def framed_async(count: int) -> None:
            async def send() -> None:
                for _ in range(count):
                    await broker.send_async([broker.job_message(job_id=uuid.uuid4(), route=route)])

            loop.run_until_complete(send())

        paths = {
            "Celery's send_task (baseline)": celery_send_task,
            "framed here, one LPUSH (sync)": framed_sync,
            "the API before: send_task on a thread": celery_on_a_thread,
            "the API now: framed, on its event loop": framed_async,
        }
        figures: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
        for _ in range(args.rounds):
            for name, send in paths.items():
                figures[name].append(_timed(send, args.messages))
                for key in get_broker_redis().scan_iter(match=f"{route.queue}*"):
                    get_broker_redis().delete(key)
        loop.run_until_complete(get_async_broker_redis().aclose())
        loop.close()
    finally:
        redis_server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    # Each way of sending now, against the same process's way before it.
    before = {
        "framed here, one LPUSH (sync)": "Celery's send_task (baseline)",
        "the API now: framed, on its event loop": "the API before: send_task on a thread",
    }

    def mean_cpu(name: str) -> float:
        return statistics.fmean(cpu for cpu, _ in figures[name])

    rows = []
    for name, runs in figures.items():
        spread = ", ".join(f"{cpu:.0f}" for cpu, _ in runs)
        wall = statistics.fmean(w for _, w in runs)
        against = f"{ratio(mean_cpu(name), mean_cpu(before[name])):.2f}x" if name in before else ""
        rows.append([name, f"{mean_cpu(name):.0f} ({spread})", f"{wall:.0f}", against])
    print_table(
        ["path", "CPU µs/message (each round)", "wall µs/message", "CPU ÷ the row before it"],
        rows,
        title=f"{args.messages} job messages per path per round, {args.rounds} rounds interleaved",
    )


if __name__ == "__main__":
    main()
