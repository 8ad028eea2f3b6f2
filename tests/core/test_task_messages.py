"""The task messages core/task_messages.py puts on Redis are the ones Celery's own `send_task` puts
there, for each kind of message the platform sends: the same list (the queue's priority step), the
same headers, properties and body, key by key. Only what is fresh at every message differs: kombu's
delivery tag, the sending app's reply address, and the ETA or expiry computed from the clock a
moment apart. Those are checked apart. The stack's real Redis, a Celery app configured as the
platform's, and each message on a queue of its own, so that none of the stack's workers takes it
first."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
import redis
from celery import Celery

from core import broker
from core.jobspec import Route
from core.platform_tasks import EMBED_QUERY
from core.redis_clients import get_async_broker_redis, get_broker_redis, reset_redis
from core.settings import get_settings
from core.task_messages import TaskMessage
from tests.support.stack import Stack

ROUTE = Route(task_name="mentorq.tasks.chat", queue="llm", soft_time_limit=60, time_limit=70)

CASES: dict[str, Callable[[], TaskMessage]] = {
    "a job's stage": lambda: broker.job_message(job_id=uuid.uuid4(), route=ROUTE),
    "an urgent job's stage": lambda: broker.job_message(job_id=uuid.uuid4(), route=ROUTE, priority=9),
    "a job of middling priority": lambda: broker.job_message(job_id=uuid.uuid4(), route=ROUTE, priority=4),
    "a job's stage after a countdown": lambda: broker.job_message(
        job_id=uuid.uuid4(), route=ROUTE, priority=2, countdown=30
    ),
    "a webhook delivery": lambda: broker.delivery_message(delivery_id=uuid.uuid4()),
    "an account mail's retry": lambda: broker.account_mail_message(mail_id=uuid.uuid4(), countdown=60),
    "a search's query embedding": lambda: broker.platform_task_message(
        EMBED_QUERY, args=["what is a ribosome?", "model", "mentorq:reply:x"], priority=9, expires=10
    ),
}


@pytest.fixture
def celery_producer(on_the_stack: Stack) -> Iterator[Celery]:
    """What published before: a producer app configured from celeryconfig, sending with kombu."""
    app = Celery("mentorq-compare")
    app.config_from_object("celeryconfig")
    app.conf.include = []
    app.conf.broker_url = on_the_stack.env["REDIS_URL"].replace("unix://", "redis+socket://", 1)
    yield app
    app.close()


def _own_queue(message: TaskMessage) -> TaskMessage:
    return dataclasses.replace(message, queue=f"test-task-messages-{uuid.uuid4().hex}")


def _taken(client: redis.Redis, queue: str) -> list[tuple[str, bytes]]:
    """Every message on the queue's lists, list by list, oldest first, with the list it was on; the
    lists emptied."""
    found = []
    for key in sorted(client.scan_iter(match=f"{queue}*")):
        name = key.decode()
        if name == queue or name.startswith(queue + "\x06\x16"):
            found += [(name, raw) for raw in reversed(client.lrange(key, 0, -1))]
            client.delete(key)
    return found


def _read(raw: bytes) -> tuple[dict, dict]:
    """The envelope with its body decoded, and what is fresh at each message (compared apart)."""
    envelope = json.loads(raw)
    envelope["body"] = json.loads(base64.b64decode(envelope["body"]))
    properties = envelope["properties"]
    fresh = {"delivery_tag": properties.pop("delivery_tag"), "reply_to": properties.pop("reply_to")}
    for name in ("eta", "expires"):
        value = envelope["headers"][name]
        envelope["headers"][name] = value is not None
        fresh[name] = datetime.fromisoformat(value) if value else None
    return envelope, fresh


def _same_fresh(ours: dict, celerys: dict) -> None:
    assert uuid.UUID(ours["delivery_tag"]) != uuid.UUID(celerys["delivery_tag"])
    # Each app's own (its thread's oid); no result backend reads it
    assert ours["reply_to"] == broker.publisher().thread_oid and uuid.UUID(celerys["reply_to"])
    for name in ("eta", "expires"):
        if celerys[name] is None:
            assert ours[name] is None
        else:  # the same instant, give or take the moment between the two sends; aware, as Celery's
            assert ours[name].tzinfo is not None and celerys[name].tzinfo is not None
            assert abs((ours[name] - celerys[name]).total_seconds()) < 5


@pytest.mark.parametrize("case", list(CASES))
def test_a_message_is_the_one_celery_would_have_sent(case: str, celery_producer: Celery) -> None:
    message = _own_queue(CASES[case]())
    client = get_broker_redis()
    celery_producer.send_task(
        message.task_name,
        args=message.args,
        task_id=message.task_id,
        queue=message.queue,
        priority=message.priority,
        countdown=message.countdown,
        expires=message.expires,
        retry=False,
    )
    [(celerys_list, celerys_raw)] = _taken(client, message.queue)
    broker.send([message])
    [(our_list, our_raw)] = _taken(client, message.queue)

    assert our_list == celerys_list
    ours, our_fresh = _read(our_raw)
    celerys, celerys_fresh = _read(celerys_raw)
    assert ours == celerys
    _same_fresh(our_fresh, celerys_fresh)
    assert ours["headers"]["id"] == message.task_id and ours["body"][0] == message.args


def test_the_api_sends_the_same_messages_in_one_round_trip_in_order(on_the_stack: Stack) -> None:
    """The async sender (the API's) writes what the sync one writes, a batch in the order given."""
    queue = f"test-task-messages-{uuid.uuid4().hex}"
    batch = [dataclasses.replace(make(), queue=queue) for make in CASES.values()]
    client = get_broker_redis()
    broker.send(batch)
    sync_sent = _taken(client, queue)

    async def send() -> None:
        try:
            await broker.send_async(batch)
        finally:
            await get_async_broker_redis().aclose()

    get_async_broker_redis.cache_clear()  # a client of this event loop
    try:
        asyncio.run(send())
    finally:
        get_async_broker_redis.cache_clear()
    async_sent = _taken(client, queue)

    def ids(sent: list[tuple[str, bytes]]) -> list[tuple[str, str]]:
        return [(key, json.loads(raw)["headers"]["id"]) for key, raw in sent]

    assert ids(async_sent) == ids(sync_sent)
    assert [_read(raw)[0] for _, raw in async_sent] == [_read(raw)[0] for _, raw in sync_sent]
    # On each of the queue's lists (one per priority step), the first sent is the first a worker
    # takes (the oldest), as with one send after another.
    order = [m.task_id for m in batch]
    for key in {key for key, _ in async_sent}:
        on_list = [task_id for list_key, task_id in ids(async_sent) if list_key == key]
        assert on_list == [task_id for task_id in order if task_id in on_list]


def test_a_broker_that_is_down_raises_for_the_outbox_to_leave_the_job_unstamped(
    on_the_stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens on port 1
    get_settings.cache_clear()
    reset_redis()
    try:
        with pytest.raises(redis.exceptions.ConnectionError):
            broker.send([_own_queue(CASES["a job's stage"]())])
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        reset_redis()
