"""Messages a worker took from the broker and never started: the ones a lost host was holding.

kombu's Redis transport records each delivered message until it is acked: the message in the
`unacked` hash under its delivery tag, the time of delivery in the `unacked_index` sorted set.
With acks late and a prefetch of one per pool slot, a live worker starts what it took at once,
and the job runtime's first act is the claim. So a job still `queued` whose message was delivered
long ago sits with a worker that is gone (SIGKILLed, its host powered off). kombu would give that
message out again only after the visibility timeout, hours later; the reconciler sends the job
again instead, and forgets the stranded delivery so that it is not sent a third time.

A message with an ETA (a retry's backoff) waits in the worker on purpose and is left alone until
its time has passed as long as any other's.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

import redis

# kombu.transport.redis.Channel's defaults (celeryconfig.py does not change them).
UNACKED = "unacked"
UNACKED_INDEX = "unacked_index"
# Deliveries read per pass: more than every worker's prefetch together on a large deployment.
MOST = 1000


@dataclass(frozen=True)
class Delivery:
    tag: str
    task_id: str


def stranded_deliveries(broker: redis.Redis, *, older_than_s: float) -> list[Delivery]:
    """Deliveries taken more than `older_than_s` ago (and past their ETA by as long) and not acked."""
    now = time.time()
    tags = broker.zrangebyscore(UNACKED_INDEX, "-inf", now - older_than_s, start=0, num=MOST)
    if not tags:
        return []
    found = []
    for tag, raw in zip(tags, broker.hmget(UNACKED, tags), strict=True):
        headers = message_headers(raw, wrapped=True)
        if headers is None or not headers.get("id"):
            continue  # acked since the first read, or not a Celery message
        if _eta(headers) > now - older_than_s:
            continue
        found.append(Delivery(tag=tag.decode(), task_id=str(headers["id"])))
    return found


def job_ids(deliveries: list[Delivery]) -> dict[uuid.UUID, Delivery]:
    """The deliveries whose task id is a job id (a job's message is sent with task_id = job id)."""
    by_job = {}
    for delivery in deliveries:
        try:
            by_job[uuid.UUID(delivery.task_id)] = delivery
        except ValueError:
            continue
    return by_job


def forget(broker: redis.Redis, deliveries: list[Delivery]) -> None:
    """Drop these deliveries from kombu's record, as an ack would: their jobs were sent again. A
    worker that did hold one and acks it later removes nothing, which kombu takes in its stride."""
    if not deliveries:
        return
    tags = [delivery.tag for delivery in deliveries]
    pipe = broker.pipeline(transaction=True)
    pipe.zrem(UNACKED_INDEX, *tags)
    pipe.hdel(UNACKED, *tags)
    pipe.execute()


def message_headers(raw: bytes | None, *, wrapped: bool = False) -> dict | None:
    """A kombu message's headers (`wrapped`: as the unacked record keeps it, [message, exchange,
    routing key]); None for anything else, or for a record acked since it was listed."""
    if raw is None:
        return None
    try:
        message = json.loads(raw)
        headers = (message[0] if wrapped else message)["headers"]
    except (ValueError, IndexError, KeyError, TypeError):
        return None
    return headers if isinstance(headers, dict) else None


def _eta(headers: dict) -> float:
    """The message's ETA as a Unix time; 0 for none (or one that cannot be read: sent again
    rather than stranded)."""
    eta = headers.get("eta")
    if not isinstance(eta, str):
        return 0.0
    try:
        return datetime.fromisoformat(eta).timestamp()
    except ValueError:
        return 0.0
