"""The baseline: a bare Celery app with one trivial task, on the platform's Redis.

No database, no HTTP, no job row: `noop.apply_async(...).get()` is the cheapest round trip
Celery can make (publish, a worker runs a function, the result comes back through Redis).
It keeps the platform's reliability settings (JSON only, acks_late, prefetch 1) so that the
ratio measures what the platform adds, not a different Celery configuration. Unlike the
platform's workers it sends no Flower events and it does store results (the point of `.get()`).

The broker and the result backend are `BENCH_REDIS_URL` (the same Redis server the platform
uses; its own queue `bare`, so the two never share messages).
"""

from __future__ import annotations

import os

from celery import Celery

QUEUE = "bare"


def _celery_url(url: str) -> str:
    # redis-py's unix:// is kombu's redis+socket:// (the result backend accepts it too).
    return "redis+socket://" + url[len("unix://") :] if url.startswith("unix://") else url


_url = _celery_url(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))

app = Celery("mentorq-bench-bare", broker=_url, backend=_url)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_queue=QUEUE,
    result_expires=600,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(name="bench.noop")
def noop(value: int) -> int:
    """Do nothing; return the argument so the caller can check it got its own result."""
    return value
