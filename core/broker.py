"""Publishing a job to the broker: the one place that knows a job's task name, queue and id.

The API (through a producer-only Celery app) and the reconciler (through the worker app) both
publish here. The Celery task id is the job id, so Flower and the job row line up.
"""

from __future__ import annotations

import uuid
from functools import lru_cache

from celery import Celery

from db.kinds import KINDS
from core import broker_fixes


@lru_cache
def producer_app() -> Celery:
    """A Celery app that only publishes: no task modules, no models (for the API host)."""
    broker_fixes.install()
    app = Celery("mentorq")
    app.config_from_object("celeryconfig")
    return app


def publish_job(
    app: Celery,
    *,
    job_id: uuid.UUID,
    kind: str,
    stage: str | None = None,
    priority: int = 0,
    countdown: float | None = None,
) -> None:
    """Send the task message of the job's current stage; raises if the broker cannot be reached (the outbox retries)."""
    route = KINDS[kind].route(stage)
    app.send_task(
        route.task_name,
        args=[str(job_id)],
        task_id=str(job_id),
        queue=route.queue,
        priority=broker_priority(priority),
        countdown=countdown,
        # No retry loop here: a down broker must not hold an API request; the reconciler re-publishes.
        retry=False,
    )


def broker_priority(job_priority: int) -> int:
    """Jobs say 0 (normal) to 9 (most urgent); Redis queues serve 0 first, so the scale flips."""
    return 9 - max(0, min(9, job_priority))


WEBHOOK_TASK = "mentorq.webhooks.deliver"


def publish_delivery(app: Celery, *, delivery_id: uuid.UUID) -> None:
    """Send one webhook message's delivery task to the `io` queue."""
    app.send_task(WEBHOOK_TASK, args=[str(delivery_id)], queue="io", retry=False)
