"""The API process's live-event hub on the real Redis (api/jobs/event_hub.py): requests waiting for
jobs' ends share one pattern subscription made once; an event stream subscribes its job's own
channel while it lasts (a worker counts those to know whether anyone follows the job live)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
import redis
import redis.asyncio as aioredis

from api.jobs.event_hub import JobEventHub
from core.channels import job_channel, job_end_channel
from tests.support.stack import Stack


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def hub(stack: Stack) -> AsyncIterator[tuple[JobEventHub, str]]:
    """A hub on its own named Redis connection, and that name (to find the connection in CLIENT LIST)."""
    name = f"hub-test-{uuid.uuid4().hex[:8]}"
    client = aioredis.Redis.from_url(stack.redis.url, client_name=name)
    event_hub = JobEventHub(client)
    yield event_hub, name
    await event_hub.close()
    await client.aclose()


def subscriptions(stack: Stack, name: str) -> tuple[int, int]:
    """(channels, patterns) the named connection is subscribed to, as Redis itself counts them."""
    with redis.Redis.from_url(stack.redis.url) as client:
        connections = client.client_list()
    for connection in connections:
        if connection["name"] == name:
            return int(connection["sub"]), int(connection["psub"])
    raise AssertionError(f"no connection named {name}")


def publish(stack: Stack, channel: str, event: dict) -> None:
    with redis.Redis.from_url(stack.redis.url) as client:
        client.publish(channel, json.dumps(event))


@pytest.mark.anyio
async def test_waiting_requests_share_one_pattern_subscription(stack: Stack, hub) -> None:
    event_hub, name = hub
    jobs = [uuid.uuid4() for _ in range(20)]
    async with AsyncExitStack() as waits:
        queues = [await waits.enter_async_context(event_hub.listen(job, ending_only=True)) for job in jobs]
        assert subscriptions(stack, name) == (0, 1)
        publish(stack, job_end_channel(jobs[3]), {"status": "succeeded"})
        assert await asyncio.wait_for(queues[3].get(), 5) == {"status": "succeeded"}
        publish(stack, job_end_channel(jobs[5]), {"status": "failed"})
        assert await asyncio.wait_for(queues[5].get(), 5) == {"status": "failed"}
        assert all(queue.empty() for queue in queues)  # nobody else heard either ending
    # The pattern stays for the next waiting request: no UNSUBSCRIBE and SUBSCRIBE per request.
    assert subscriptions(stack, name) == (0, 1)
    async with event_hub.listen(jobs[0], ending_only=True) as again:
        publish(stack, job_end_channel(jobs[0]), {"status": "canceled"})
        assert await asyncio.wait_for(again.get(), 5) == {"status": "canceled"}


@pytest.mark.anyio
async def test_two_requests_waiting_on_one_job_both_hear_its_end(stack: Stack, hub) -> None:
    event_hub, _ = hub
    job = uuid.uuid4()
    async with (
        event_hub.listen(job, ending_only=True) as first,
        event_hub.listen(job, ending_only=True) as second,
    ):
        publish(stack, job_end_channel(uuid.uuid4()), {"status": "succeeded"})  # another job's: dropped
        publish(stack, job_end_channel(job), {"status": "succeeded"})
        assert await asyncio.wait_for(first.get(), 5) == {"status": "succeeded"}
        assert await asyncio.wait_for(second.get(), 5) == {"status": "succeeded"}
        assert first.empty() and second.empty()


@pytest.mark.anyio
async def test_a_stream_subscribes_its_jobs_channel_while_it_lasts(stack: Stack, hub) -> None:
    event_hub, name = hub
    job = uuid.uuid4()
    async with event_hub.listen(job, ending_only=True), aioredis.Redis.from_url(stack.redis.url) as counted:
        assert await counted.pubsub_numsub(job_channel(job)) == [(job_channel(job).encode(), 0)]
        async with event_hub.listen(job) as stream:
            # What workers/runtime.followed_live asks: the waiting request above does not count.
            assert await counted.pubsub_numsub(job_channel(job)) == [(job_channel(job).encode(), 1)]
            publish(stack, job_channel(job), {"type": "output"})
            assert await asyncio.wait_for(stream.get(), 5) == {"type": "output"}
        assert await counted.pubsub_numsub(job_channel(job)) == [(job_channel(job).encode(), 0)]
        assert subscriptions(stack, name) == (0, 1)
