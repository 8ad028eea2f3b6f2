"""The reconciler's broker epoch: a Redis that lost its data gets the lost jobs again, once each,
and a Redis that lost nothing (a fresh one) gets no duplicates. And a job whose message a worker
took and never started (its host lost in between) is sent again, once.

The jobs' own workers and beat are stopped, so their messages stay in Redis where we can count
them; the reconciler runs in a process of its own on the stack's settings.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import redis

from core import unacked
from core.channels import BROKER_EPOCH_KEY
from core.queued_messages import lane_lists
from tests.conftest import ApiClient
from tests.support.stack import REPO, Stack, wait_until


@pytest.fixture
def broker(stack: Stack) -> redis.Redis:
    return redis.Redis.from_url(stack.redis.url)


def reconcile_once(
    stack: Stack, *, batch: int | None = None, env: dict[str, str] | None = None
) -> dict[str, int]:
    """One reconcile run, as a worker runs it (its own process, the stack's settings and `env`)."""
    code = (
        "import json, tasks.platform.reconcile as r\n"
        + (f"r.BATCH = {batch}\n" if batch else "")
        + "print(json.dumps(r.reconcile()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**stack.env, **(env or {})},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
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


def strand(broker: redis.Redis, job_ids: list[str], *, taken_s_ago: float, eta: str | None = None) -> None:
    """What a worker SIGKILLed after taking these jobs' messages, before claiming them, left in
    Redis: each message moved from its queue into kombu's record of unacked deliveries, as kombu's
    QoS.append writes it."""
    for key, raw, task_id in list(queued_messages(broker)):
        if task_id not in job_ids:
            continue
        message = json.loads(raw)
        if eta is not None:
            message["headers"]["eta"] = eta
        delivery = message["properties"]["delivery_info"]
        tag = str(uuid.uuid4())
        assert broker.lrem(key, 1, raw) == 1
        broker.hset(
            unacked.UNACKED, tag, json.dumps([message, delivery["exchange"], delivery["routing_key"]])
        )
        broker.zadd(unacked.UNACKED_INDEX, {tag: time.time() - taken_s_ago})


def unacked_jobs(broker: redis.Redis, job_ids: list[str]) -> Counter[str]:
    """How many unacked deliveries each of these jobs has. Only these: the shared stack's workers,
    stopped or running beside the test, may hold deliveries of other tests' jobs at the time."""
    found: Counter[str] = Counter({job_id: 0 for job_id in job_ids})
    for raw in broker.hvals(unacked.UNACKED):
        task_id = json.loads(raw)[0]["headers"]["id"]
        if task_id in found:
            found[task_id] += 1
    return found


@pytest.fixture
def broker_forgets_strands(broker: redis.Redis) -> Iterator[None]:
    """The deliveries a test strands go with it: no worker of the shared stack holds them."""
    before = set(broker.hkeys(unacked.UNACKED))
    yield
    made = [tag for tag in broker.hkeys(unacked.UNACKED) if tag not in before]
    if made:
        broker.zrem(unacked.UNACKED_INDEX, *made)
        broker.hdel(unacked.UNACKED, *made)


def test_a_job_a_lost_worker_took_and_never_started_is_sent_again_once(
    stack: Stack,
    client: ApiClient,
    broker: redis.Redis,
    nothing_runs_jobs: None,
    broker_forgets_strands: None,
) -> None:
    stranded, just_taken, waiting_for_eta, canceled = published_jobs(stack, client, 4)
    # A minute's bound, not the stack's few seconds: "just taken" stays so while the passes run.
    bound = {"MENTORQ_STALE_AFTER_SECONDS": "60"}
    long_ago = 180.0
    strand(broker, [stranded, canceled], taken_s_ago=long_ago)
    # A live worker has just taken this one: it is about to claim it.
    strand(broker, [just_taken], taken_s_ago=0)
    # A retry's backoff: the worker holds it until its ETA, a minute from now.
    eta = datetime.fromtimestamp(time.time() + 60, tz=UTC).isoformat()
    strand(broker, [waiting_for_eta], taken_s_ago=long_ago, eta=eta)
    response = client.post(f"/v1/jobs/{canceled}/cancel")
    assert response.status_code == 200, response.text
    everyone = [stranded, just_taken, waiting_for_eta, canceled]
    assert sum(messages_of(broker, everyone).values()) == 0

    counts = reconcile_once(stack, env=bound)

    assert counts["stranded"] == 1, counts
    assert messages_of(broker, everyone) == Counter(
        {stranded: 1, just_taken: 0, waiting_for_eta: 0, canceled: 0}
    )
    # The stranded delivery is forgotten (kombu would give it out again hours later); the others
    # are their workers' to ack, or kombu's to restore.
    assert unacked_jobs(broker, everyone) == Counter(
        {stranded: 0, just_taken: 1, waiting_for_eta: 1, canceled: 1}
    )

    assert reconcile_once(stack, env=bound)["stranded"] == 0  # sent once, not once a pass
    assert messages_of(broker, [stranded]) == Counter({stranded: 1})


def lane_holds_only(stack: Stack, broker: redis.Redis, job_ids: list[str]) -> None:
    """The lane of these jobs (one kind) holds their messages alone. Messages earlier tests left
    in it (of jobs ended since, or still queued) would be counted with them; a queued job among
    those is sent again by the stack's own reconciler once its workers are back: nothing is lost."""
    (queue,) = {row[0] for row in stack.sql("SELECT queue FROM jobs WHERE id = ANY(%s::uuid[])", job_ids)}
    for key in lane_lists(queue):
        for raw in broker.lrange(key, 0, -1):
            if json.loads(raw)["headers"]["id"] not in job_ids:
                broker.lrem(key, 0, raw)


# Only jobs published longer ago than an hour count as old in the two tests below: a day-old stamp
# is theirs alone, since no other job of the suite's stack was published an hour ago and is queued.
# The redispatch pass, which sends every job published 10 minutes ago, waits two days here.
AN_HOUR = {"MENTORQ_STALE_AFTER_SECONDS": "3600", "MENTORQ_REDISPATCH_AFTER_SECONDS": "172800"}


@pytest.fixture
def published_a_day_ago(stack: Stack, client: ApiClient) -> Iterator[Callable[[int], list[str]]]:
    """Jobs published, their stamps made a day old; canceled afterwards, so that no later test
    counts them."""
    made: list[str] = []

    def publish(count: int) -> list[str]:
        job_ids = published_jobs(stack, client, count)
        stack.sql(
            "UPDATE jobs SET dispatched_at = now() - interval '1 day' WHERE id = ANY(%s::uuid[])", job_ids
        )
        made.extend(job_ids)
        return job_ids

    yield publish
    for job_id in made:
        client.post(f"/v1/jobs/{job_id}/cancel")


def test_a_job_whose_message_vanished_from_a_running_redis_is_sent_again_once(
    stack: Stack,
    broker: redis.Redis,
    nothing_runs_jobs: None,
    published_a_day_ago: Callable[[int], list[str]],
) -> None:
    """Redis kept running (its epoch marker is there) but one job's message is gone: lost in the
    append-only file's last second, or popped by a worker that died before recording it. Only that
    job is sent again, once; the jobs whose messages wait in the lane are left alone."""
    everyone = published_a_day_ago(3)
    vanished, *waiting = everyone
    lane_holds_only(stack, broker, everyone)
    drop_messages_of(broker, [vanished])
    broker.set(BROKER_EPOCH_KEY, "kept", nx=True)  # this Redis kept its data (a fresh stack may lack it)

    counts = reconcile_once(stack, env=AN_HOUR)

    assert counts["vanished"] == 1, counts
    assert messages_of(broker, everyone) == Counter({job_id: 1 for job_id in everyone})
    # Sent again, its stamp is fresh: the next pass sends nothing.
    assert reconcile_once(stack, env=AN_HOUR)["vanished"] == 0
    assert messages_of(broker, everyone) == Counter({job_id: 1 for job_id in everyone})


def test_a_lane_longer_than_its_old_jobs_hides_a_vanished_message_until_it_drains(
    stack: Stack,
    client: ApiClient,
    broker: redis.Redis,
    nothing_runs_jobs: None,
    published_a_day_ago: Callable[[int], list[str]],
) -> None:
    """The lists are counted, not read, while they hold at least as many messages as the old jobs
    expected in them: a loss among them shows once the lane drains below that."""
    (vanished,) = published_a_day_ago(1)
    drop_messages_of(broker, [vanished])
    younger = published_jobs(stack, client, 2)  # published just now: their messages are in the lane
    lane_holds_only(stack, broker, [vanished, *younger])
    broker.set(BROKER_EPOCH_KEY, "kept", nx=True)

    assert reconcile_once(stack, env=AN_HOUR)["vanished"] == 0  # 2 messages for 1 old job: cannot tell
    assert messages_of(broker, [vanished]) == Counter({vanished: 0})

    drop_messages_of(broker, younger)  # the lane drained (as a worker would have taken them)
    assert reconcile_once(stack, env=AN_HOUR)["vanished"] == 1
    assert messages_of(broker, [vanished]) == Counter({vanished: 1})
