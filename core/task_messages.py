"""Celery task messages put on the broker's Redis lists with a plain Redis client, framed as kombu's
Redis transport frames them.

**Why.** Through `Celery.send_task` one job's message cost about 830 µs of CPU, measured in one
process against the embedded Redis, and its LPUSH alone about 110 µs. The rest was Celery's router,
kombu's producer pool, and its check that the queue is declared (copying the queue, exchange and
binding objects at every message), for messages whose every part but their ids is the same. In the
API it also took a thread hop, since kombu is synchronous. Now the API awaits one LPUSH on its async
client, and a commit that sends several messages (a finish that releases held jobs) sends them in
one round trip.

**What stays Celery's and kombu's.**
- Celery builds the task message (`app.amqp.create_task_message`): headers, body, correlation id,
  the ETA of a countdown, an expiry.
- Celery's `before_task_publish` and `after_task_publish` signals are sent around each message, as
  `send_task` sends them. OpenTelemetry's instrumentation opens its span and injects the trace context
  into the headers there.
- kombu's serializer encodes the body and the envelope.

Written here is only what kombu's Redis transport adds before its LPUSH (kombu/transport/virtual/base.py
`prepare_message` and `_inplace_augment_message`, kombu/transport/redis.py `_put` and `_q_for_pri`):
the base64 body, the envelope's properties, and which of the queue's priority lists the message
goes to. tests/core/test_task_messages.py compares messages written here with messages Celery's own
`send_task` writes, key by key, for each kind of message the platform sends. An upgrade of either
library that changes the framing fails there.

Not supported, because the platform uses none of them: exchanges other than the default one,
kombu's `global_keyprefix`, compression, queues that expire, the parent's priority inherited
(`task_inherit_parent_priority`), and Celery's `task-sent` events (`task_send_sent_event` is off in
celeryconfig.py; Flower switches on the workers' events only).
"""

from __future__ import annotations

import base64
import contextvars
import uuid
from bisect import bisect
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from celery import Celery, signals
from kombu import serialization
from kombu.entity import PERSISTENT_DELIVERY_MODE
from kombu.transport import redis as kombu_redis
from kombu.utils.json import dumps as dumps_envelope

UNSUPPORTED_TRANSPORT_OPTIONS = ("global_keyprefix",)


@dataclass(frozen=True)
class TaskMessage:
    """One task to send, as `send_task` would have been called for it."""

    task_name: str
    args: list[Any]
    queue: str
    task_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    priority: int = 0  # kombu's: the Redis transport serves its lowest step first
    countdown: float | None = None
    expires: float | None = None


@dataclass
class _Framed:
    message: TaskMessage
    headers: dict[str, Any]
    properties: dict[str, Any]
    body: tuple
    # Where the publish signals ran, when anyone listens: the after-signal must run in the same
    # context (OpenTelemetry leaves its span active in it), and no caller's context is touched, as
    # none was when kombu published on a thread of its own.
    context: contextvars.Context | None


@contextmanager
def framed(app: Celery, messages: Sequence[TaskMessage]) -> Iterator[list[tuple[str, str]]]:
    """The list key and the payload to LPUSH for each message, in order. The before-publish signals
    are sent first, and the after-publish ones once the block ends without an error."""
    prepared = [_prepare(app, message) for message in messages]
    for one in prepared:
        _signal(one, signals.before_task_publish, declare=[], properties=one.properties, retry_policy={})
    yield [_encode(app, one) for one in prepared]
    for one in prepared:
        _signal(one, signals.after_task_publish)


def _prepare(app: Celery, message: TaskMessage) -> _Framed:
    root_id = parent_id = None
    parent = app.current_worker_task  # a job's stage sending the next one, as send_task reads it
    if parent:
        root_id = parent.request.root_id or parent.request.id
        parent_id = parent.request.id
    headers, properties, body, _ = app.amqp.create_task_message(
        message.task_id,
        message.task_name,
        message.args,
        None,  # kwargs
        message.countdown,
        None,  # eta
        expires=message.expires,
        reply_to=app.thread_oid,
        create_sent_event=False,
        root_id=root_id,
        parent_id=parent_id,
        ignore_result=None,
    )
    properties = dict(properties)
    if message.expires is not None:  # send_task's expiry, as kombu writes a per-message TTL
        properties["expiration"] = str(int(max(0.0, message.expires) * 1000))
    properties.update(
        priority=message.priority or 0,
        delivery_mode=PERSISTENT_DELIVERY_MODE,  # Celery's task_default_delivery_mode
        delivery_info={"exchange": "", "routing_key": message.queue},
    )
    listened = signals.before_task_publish.receivers or signals.after_task_publish.receivers
    return _Framed(message, headers, properties, body, contextvars.copy_context() if listened else None)


def _signal(one: _Framed, signal: Any, **extra: Any) -> None:
    if one.context is None:
        return
    queue = one.message.queue
    one.context.run(
        signal.send,
        sender=one.message.task_name,
        body=one.body,
        exchange="",
        routing_key=queue,
        headers=one.headers,
        **extra,
    )


@dataclass(frozen=True)
class _Settings:
    """What an app's configuration says about framing, read once (each read of `app.conf` is a
    chain of mapping lookups, about 8 µs)."""

    serializer: str
    priority_steps: list[int]
    separator: str


@lru_cache(maxsize=8)
def _settings(app: Celery) -> _Settings:
    options = app.conf.broker_transport_options or {}
    for option in UNSUPPORTED_TRANSPORT_OPTIONS:
        if options.get(option):
            raise NotImplementedError(f"core.task_messages does not frame kombu's {option}")
    return _Settings(
        serializer=app.conf.task_serializer,
        priority_steps=list(options.get("priority_steps", kombu_redis.Channel.priority_steps)),
        separator=options.get("sep", kombu_redis.Channel.sep),
    )


def _encode(app: Celery, one: _Framed) -> tuple[str, str]:
    settings = _settings(app)
    content_type, content_encoding, body = serialization.dumps(one.body, serializer=settings.serializer)
    raw = body.encode(content_encoding) if isinstance(body, str) else body
    properties = one.properties | {
        "body_encoding": "base64",
        "delivery_tag": str(uuid.uuid4()),  # kombu's: the key of the unacked hash
    }
    envelope = {
        "body": base64.b64encode(raw).decode("ascii"),
        "content-encoding": content_encoding,
        "content-type": content_type,
        "headers": one.headers,
        "properties": properties,
    }
    return _list_key(settings, one.message.queue, one.message.priority), dumps_envelope(envelope)


def _list_key(settings: _Settings, queue: str, priority: int) -> str:
    """kombu's Redis transport keeps a queue as one list per priority step: the name for step 0,
    `name<sep><step>` for the others; a priority, clamped to the channel's range, goes to the highest
    step not above it."""
    steps = settings.priority_steps
    clamped = max(kombu_redis.Channel.min_priority, min(kombu_redis.Channel.max_priority, priority))
    step = steps[bisect(steps, clamped) - 1]
    return f"{queue}{settings.separator}{step}" if step else queue
