"""The reconciler's broker epoch: a Redis that lost its data gets the lost jobs again, once each,
and a Redis that lost nothing (a fresh one) gets no duplicates.

The jobs' own workers and beat are stopped, so their messages stay in Redis where we can count
them; the reconciler runs in a process of its own on the stack's settings.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator

import pytest
import redis

from core.channels import BROKER_EPOCH_KEY
from tests.conftest import ApiClient
from tests.support.stack import REPO, Stack, wait_until


@pytest.fixture
def broker(stack: Stack) -> redis.Redis:
    return redis.Redis.from_url(stack.redis.url)


def reconcile_once(stack: Stack, *, batch: int | None = None) -> dict[str, int]:
    """One reconcile run, as a worker runs it (its own process, the stack's settings)."""
    code = (
        "import json, tasks.platform.reconcile as r\n"
        + (f"r.BATCH = {batch}\n" if batch else "")
        + "print(json.dumps(r.reconcile()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=stack.env, cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def queued_messages(broker: redis.Redis) -> Iterator[tuple[bytes, bytes, str]]:
    """(queue key, raw message, task id) of every message waiting in the broker's lists."""
    for key in broker.scan_iter():
        if broker.type(key) != b"list":
            continue
        for raw in broker.lrange(key, 0, -1):
            try:
                yield key, raw, json.loads(raw)["headers"]["id"]
            except (ValueError, KeyError, TypeError):
                continue


def messages_of(broker: redis.Redis, job_ids: list[str]) -> Counter[str]:
    """How many messages each job has waiting in the broker's queues (the task id is the job id)."""
    found: Counter[str] = Counter({job_id: 0 for job_id in job_ids})
    for _, _, task_id in queued_messages(broker):
        if task_id in found:
            found[task_id] += 1
    return found


def drop_messages_of(broker: redis.Redis, job_ids: list[str]) -> None:
    """What a Redis restarted without its data did to these jobs' messages."""
    for key, raw, task_id in list(queued_messages(broker)):
        if task_id in job_ids:
            broker.lrem(key, 0, raw)


def published_jobs(stack: Stack, client: ApiClient, count: int) -> list[str]:
    job_ids = []
    for _ in range(count):
        response = client.post("/v1/jobs", json={"kind": "debug.sleep", "input": {"seconds": 0.1}})
        assert response.status_code == 202, response.text
        job_ids.append(response.json()["id"])
    wait_until(  # the API stamps published jobs in batches, a few milliseconds after the response
        lambda: all(
            row[0] is not None
            for row in stack.sql("SELECT dispatched_at FROM jobs WHERE id = ANY(%s::uuid[])", job_ids)
        ),
        timeout=10,
        message="jobs stamped as published",
    )
    return job_ids


def test_a_fresh_broker_s_first_reconcile_sends_no_queued_job_again(
    stack: Stack, client: ApiClient, broker: redis.Redis, nothing_runs_jobs: None
) -> None:
    # Jobs published well after this Redis started: their messages are in it.
    wait_until(lambda: broker.info("server")["uptime_in_seconds"] >= 5, timeout=10, message="Redis up 5 s")
    job_ids = published_jobs(stack, client, 3)
    broker.delete(BROKER_EPOCH_KEY)  # a Redis the reconciler never saw, like a fresh stack's
    assert messages_of(broker, job_ids) == Counter({job_id: 1 for job_id in job_ids})

    reconcile_once(stack)

    assert messages_of(broker, job_ids) == Counter({job_id: 1 for job_id in job_ids})  # no duplicates
    assert broker.exists(BROKER_EPOCH_KEY)


def test_jobs_whose_messages_a_restarted_redis_lost_are_sent_again_once_each(
    stack: Stack, client: ApiClient, broker: redis.Redis, nothing_runs_jobs: None
) -> None:
    job_ids = published_jobs(stack, client, 3)
    # Published to the Redis before this one: stamped before it started, messages gone with it.
    uptime_s = broker.info("server")["uptime_in_seconds"]
    stack.sql(
        "UPDATE jobs SET dispatched_at = now() - make_interval(secs => %s) WHERE id = ANY(%s::uuid[])",
        uptime_s + 5,
        job_ids,
    )
    drop_messages_of(broker, job_ids)
    broker.delete(BROKER_EPOCH_KEY)
    assert messages_of(broker, job_ids) == Counter({job_id: 0 for job_id in job_ids})

    # Two at a time: the marker stays unset until the last lost job went out again.
    reconcile_once(stack, batch=2)
    assert not broker.exists(BROKER_EPOCH_KEY)
    assert sum(messages_of(broker, job_ids).values()) >= 2
    reconcile_once(stack, batch=2)
    assert messages_of(broker, job_ids) == Counter({job_id: 1 for job_id in job_ids})
    assert broker.exists(BROKER_EPOCH_KEY)

    reconcile_once(stack)  # the marker is back: nothing more is sent
    assert messages_of(broker, job_ids) == Counter({job_id: 1 for job_id in job_ids})
