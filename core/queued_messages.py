"""Queued jobs whose message the broker holds nowhere: not in their lane's lists, not with a worker.

A published message can vanish while Redis keeps running or keeps its data: Redis killed within
its append-only file's last second (`appendfsync everysec`), a worker killed between popping a
message and recording it as taken, a worker of an older version that discards a kind it does not
know. The job stays `queued` with its dispatch stamp, and only the redispatch pass
(MENTORQ_REDISPATCH_AFTER_SECONDS, 10 minutes) would send it again.

Reading every message of a long queue on each pass would cost megabytes, so the lane's lists are
counted first. Every job published more than a bound ago, still queued and not with a worker (in
kombu's `unacked` record) must be in its lane's lists. When the lists hold fewer messages than
there are such jobs, some are gone, and the lists, shorter than that count and so cheap to read,
are read to find which. While a lane's backlog is longer than that, a loss cannot be seen: it
shows as the backlog drains, about when the job would have run.
"""

from __future__ import annotations

import uuid

import redis
from kombu.transport.redis import PRIORITY_STEPS, Channel

from core.unacked import UNACKED, message_headers


def lane_lists(queue: str) -> list[str]:
    """The Redis lists of a queue: kombu keeps one per priority step (the lowest under its own name)."""
    return [queue if step == 0 else f"{queue}{Channel.sep}{step}" for step in PRIORITY_STEPS]


def taken_task_ids(broker: redis.Redis) -> set[str]:
    """The task ids of the messages workers have taken and not acked (a job's task id is its id)."""
    return {task_id for raw in broker.hvals(UNACKED) if (task_id := _task_id(raw, wrapped=True))}


def missing(broker: redis.Redis, waiting: dict[str, list[uuid.UUID]]) -> list[uuid.UUID]:
    """Of the jobs expected in each queue's lists (by queue), those whose message is not there."""
    lost: list[uuid.UUID] = []
    for queue, job_ids in waiting.items():
        keys = lane_lists(queue)
        pipe = broker.pipeline(transaction=False)
        for key in keys:
            pipe.llen(key)
        if sum(pipe.execute()) >= len(job_ids):
            continue  # they may all be there: nothing can be told until the lane drains
        present = {task_id for key in keys for raw in broker.lrange(key, 0, -1) if (task_id := _task_id(raw))}
        lost += [job_id for job_id in job_ids if str(job_id) not in present]
    return lost


def _task_id(raw: bytes, *, wrapped: bool = False) -> str | None:
    """A kombu message's task id; None for anything else."""
    task_id = (message_headers(raw, wrapped=wrapped) or {}).get("id")
    return task_id if isinstance(task_id, str) else None
