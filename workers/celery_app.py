"""The Celery application, and the decorator that declares a platform task on it.

Importing it loads no model: providers load lazily in each worker process. Which task modules
a worker imports, and where each task's messages go, come from `celeryconfig` (derived from the
kinds' specs and the platform task declarations).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import Celery

from core import broker, broker_fixes, log_redaction
from core.jobspec import PlatformTask
from workers.llm.local import wait_passively

# Before any task or start check loads torch, whose OpenMP the local LLM then shares.
wait_passively()
broker_fixes.install()
# Workers, beat and flower all import this module: from here on, no log record of theirs carries a
# credential (provider URLs, keys), whatever handlers Celery sets up.
log_redaction.install()
# httpx logs every request at INFO: one line per LLM call and per webhook delivery, each already
# recorded in the job's timeline or the deliveries table, and each scrubbed (log_redaction): about 2 %
# of a quick job's CPU in the worker (py-spy, benchmarks.platform_overhead). Warnings still show.
logging.getLogger("httpx").setLevel(logging.WARNING)

app = Celery("mentorq")
app.config_from_object("celeryconfig")
# A worker process publishes (retries, next stages, webhook messages) through its own app.
broker.use_app(app)


def platform_task(declared: PlatformTask) -> Callable[[Callable[..., Any]], Any]:
    """Register a platform task under its declared name, queue and time limits (results are ignored)."""

    def decorator(body: Callable[..., Any]):
        return app.task(
            name=declared.name,
            queue=declared.queue,
            soft_time_limit=declared.soft_time_limit,
            time_limit=declared.time_limit,
            ignore_result=True,
        )(body)

    return decorator


import workers.signals  # noqa: E402,F401  (connects worker lifecycle handlers)
