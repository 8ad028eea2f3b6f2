"""Sending task messages to the broker: a job's stage, a webhook delivery, an account mail, a search query.

Only the unit of work (db/unit_of_work.py) publishes jobs and deliveries, right after the
commit that created or released them; an import-linter contract keeps it that way. The
Celery task id of a job's message is the job id, so Flower and the job row line up.

The API host publishes through a producer-only Celery app (no task modules, no models); a
worker process publishes through its own app, which it registers with `use_app`.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from celery import Celery

from core import broker_fixes
from core.jobspec import PlatformTask, Route
from core.platform_tasks import DELIVER_WEBHOOK, SEND_ACCOUNT_MAIL

_app: Celery | None = None
_app_is_ours = False  # a producer app made here, as opposed to a worker's own app


def use_app(app: Celery) -> None:
    """Publish through `app` from now on (a worker: its own app, whose pools Celery resets after fork)."""
    global _app, _app_is_ours
    _app, _app_is_ours = app, False


def publisher() -> Celery:
    """The app that publishes in this process; a producer-only one unless a worker registered its own."""
    global _app, _app_is_ours
    if _app is None:
        broker_fixes.install()
        app = Celery("mentorq")
        app.config_from_object("celeryconfig")
        # A publisher never runs tasks: it must not import the task modules the config names.
        app.conf.include = []
        _app, _app_is_ours = app, True
    return _app


def _forget_app_after_fork() -> None:
    # A producer app's connection pool must never be shared with a forked child.
    global _app, _app_is_ours
    if _app_is_ours:
        _app, _app_is_ours = None, False


os.register_at_fork(after_in_child=_forget_app_after_fork)


def publish_job(
    *, job_id: uuid.UUID, route: Route, priority: int = 0, countdown: float | None = None
) -> None:
    """Send the message of one stage of a job; raises if the broker is unreachable (the outbox retries)."""
    publisher().send_task(
        route.task_name,
        args=[str(job_id)],
        task_id=str(job_id),
        queue=route.queue,
        priority=broker_priority(priority),
        countdown=countdown,
        # No retry loop here: a down broker must not hold an API request; the reconciler re-publishes.
        retry=False,
    )


def publish_delivery(*, delivery_id: uuid.UUID) -> None:
    """Send one webhook message's delivery task to its queue."""
    publisher().send_task(
        DELIVER_WEBHOOK.name, args=[str(delivery_id)], queue=DELIVER_WEBHOOK.queue, retry=False
    )


def publish_account_mail(*, mail_id: uuid.UUID, countdown: float | None = None) -> None:
    """Send one account mail's sending task to its queue (a retry after `countdown` seconds)."""
    publisher().send_task(
        SEND_ACCOUNT_MAIL.name,
        args=[str(mail_id)],
        queue=SEND_ACCOUNT_MAIL.queue,
        countdown=countdown,
        retry=False,
    )


def send_platform_task(
    task: PlatformTask, *, args: list[Any], priority: int = 0, expires: float | None = None
) -> None:
    """Send a platform task (a search's query embedding) that is not a job and has no row."""
    publisher().send_task(
        task.name,
        args=args,
        queue=task.queue,
        priority=broker_priority(priority),
        expires=expires,
        retry=False,
    )


def broker_priority(job_priority: int) -> int:
    """Jobs say 0 (normal) to 9 (most urgent); Redis queues serve 0 first, so the scale flips."""
    return 9 - max(0, min(9, job_priority))
