"""Whether a worker records a job's first token at once: only when someone follows the job live.

On the real Redis: a subscriber on the job's channel (an event stream) follows it; a request
waiting for the job's end listens on the end channel and does not; a webhook that asked for
output follows it; and when Redis cannot answer, the worker assumes someone does."""

from __future__ import annotations

import uuid

import redis

from core.channels import job_channel, job_end_channel
from db.models import Job
from tests.support.stack import Stack
from workers import runtime


def a_job(**webhook) -> Job:
    return Job(id=uuid.uuid4(), **webhook)


def test_a_subscriber_on_the_job_s_channel_follows_it_and_a_waiter_does_not(on_the_stack: Stack) -> None:
    job = a_job()
    assert runtime.followed_live(job) is False
    client = redis.Redis.from_url(on_the_stack.env["REDIS_URL"])
    waiter = client.pubsub()
    waiter.subscribe(job_end_channel(job.id))
    stream = client.pubsub()
    try:
        waiter.get_message(timeout=1)  # the subscription's confirmation: it is in place
        assert runtime.followed_live(job) is False
        stream.subscribe(job_channel(job.id))
        stream.get_message(timeout=1)
        assert runtime.followed_live(job) is True
    finally:
        waiter.close()
        stream.close()


def test_a_webhook_that_asked_for_output_follows_the_job(on_the_stack: Stack) -> None:
    assert runtime.followed_live(a_job(webhook_url="https://example.com/h", webhook_events=["output"]))
    assert not runtime.followed_live(a_job(webhook_url="https://example.com/h", webhook_events=["completed"]))
    assert not runtime.followed_live(a_job(webhook_url="https://example.com/h"))


def test_when_redis_cannot_answer_the_first_token_goes_at_once(monkeypatch) -> None:
    class Down:
        def pubsub_numsub(self, *channels):
            raise redis.ConnectionError("connection refused")

    monkeypatch.setattr(runtime, "get_broker_redis", lambda: Down())
    assert runtime.followed_live(a_job()) is True
