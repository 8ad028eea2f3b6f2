"""Sending task messages to the broker: a job's stage, a webhook delivery, an account mail, a search query.

Only the unit of work (db/unit_of_work.py) publishes jobs and deliveries, right after the
commit that created or released them; an import-linter contract keeps it that way. The
Celery task id of a job's message is the job id, so Flower and the job row line up.

Celery builds each message (the API host's app is a producer-only one: no task modules, no models;
a worker process registers its own with `use_app`), and the process's own Redis client puts it on
the queue's list, as kombu's Redis transport would: core/task_messages.py says why and how.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from typing import Any

from celery import Celery

from core import broker_fixes, task_messages
from core.jobspec import PlatformTask, Route
from core.platform_tasks import DELIVER_WEBHOOK, SEND_ACCOUNT_MAIL
from core.redis_clients import get_async_broker_redis, get_broker_redis
from core.task_messages import TaskMessage

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


def job_message(
    *, job_id: uuid.UUID, route: Route, priority: int = 0, countdown: float | None = None
) -> TaskMessage:
    """The message of one stage of a job: its id is the job's."""
    return TaskMessage(
        route.task_name,
        [str(job_id)],
        route.queue,
        task_id=str(job_id),
        priority=broker_priority(priority),
        countdown=countdown,
    )


def delivery_message(*, delivery_id: uuid.UUID) -> TaskMessage:
    """One webhook message's delivery task."""
    return TaskMessage(DELIVER_WEBHOOK.name, [str(delivery_id)], DELIVER_WEBHOOK.queue)


def account_mail_message(*, mail_id: uuid.UUID, countdown: float | None = None) -> TaskMessage:
    """One account mail's sending task (a retry after `countdown` seconds)."""
    return TaskMessage(SEND_ACCOUNT_MAIL.name, [str(mail_id)], SEND_ACCOUNT_MAIL.queue, countdown=countdown)


def platform_task_message(
    task: PlatformTask, *, args: list[Any], priority: int = 0, expires: float | None = None
) -> TaskMessage:
    """A platform task (a search's query embedding) that is not a job and has no row."""
    return TaskMessage(task.name, args, task.queue, priority=broker_priority(priority), expires=expires)


def send(messages: Sequence[TaskMessage]) -> None:
    """Put the messages on the broker, in one round trip; raises if the broker is unreachable (the
    outbox leaves them to the reconciler). No retry loop: a down broker must not hold a job's thread."""
    with task_messages.framed(publisher(), messages) as pushes:
        if len(pushes) == 1:
            get_broker_redis().lpush(*pushes[0])
        elif pushes:
            pipe = get_broker_redis().pipeline(transaction=False)
            for key, payload in pushes:
                pipe.lpush(key, payload)
            pipe.execute()


async def send_async(messages: Sequence[TaskMessage]) -> None:
    """`send` on the API's event loop, through its async client: no thread hop. The caller bounds
    the wait (a hung broker must not hold a request)."""
    with task_messages.framed(publisher(), messages) as pushes:
        redis = get_async_broker_redis()
        if len(pushes) == 1:
            await redis.lpush(*pushes[0])
        elif pushes:
            async with redis.pipeline(transaction=False) as pipe:
                for key, payload in pushes:
                    pipe.lpush(key, payload)
                await pipe.execute()


def broker_priority(job_priority: int) -> int:
    """Jobs say 0 (normal) to 9 (most urgent); Redis queues serve 0 first, so the scale flips."""
    return 9 - max(0, min(9, job_priority))
