"""The data host's servers restarted under load: Redis with its data (the compose file's
append-only volume) and without it (the volume lost), and PostgreSQL mid-run. Twenty streaming
chat jobs are in flight each time: 4 generating on the gpu host, 16 queued in Redis. None is
lost, each ends once, and the model server generates each as often as the rows say it ran."""

from __future__ import annotations

import time

import httpx
import pytest

from devstack.rehearsal import topology
from tests.hosts.jobs import NEEDS_NAMESPACES, assert_each_done_once, submit_streaming_jobs

pytestmark = NEEDS_NAMESPACES


@pytest.mark.parametrize("keep_data", [True, False], ids=["with its data", "without its data"])
def test_redis_restarted_loses_and_repeats_nothing(
    rehearsal: topology.Rehearsal, client: httpx.Client, keep_data: bool
) -> None:
    """With its data, Redis writes its append-only file at SIGTERM and reads it back: the 16
    queued messages are still there. Without (the volume lost), they are gone: the reconciler
    sees a Redis that started after it last marked one (its epoch key is missing) and publishes
    every queued job again. Either way the 4 generating jobs finish on their first attempt (their
    worker's broker connection drops, the task runs on) and no job is generated twice."""
    markers = submit_streaming_jobs(rehearsal, client)
    rehearsal.restart_redis(keep_data=keep_data, down_s=5)
    rows = assert_each_done_once(rehearsal, markers, since=time.monotonic(), again_at_most=0)
    assert {attempts for _, _, attempts, _ in rows} == {1}, rows


def test_postgres_restarted_mid_run_loses_nothing_and_repeats_nothing(
    rehearsal: topology.Rehearsal, client: httpx.Client
) -> None:
    """PostgreSQL shut down fast (every connection cut) while 4 jobs generate, started again 5 s
    later. The API answers 503 meanwhile, not a hang, and 200 at once after. The generating jobs
    keep their output and end when the database is back, on their first attempt (before, their
    finishing write failed and each was retried: generated twice)."""
    markers = submit_streaming_jobs(rehearsal, client)
    rehearsal.stop("postgres")
    try:
        during = client.get("/v1/jobs", timeout=30)
        assert during.status_code == 503, during.text
        time.sleep(5)
    finally:
        rehearsal.start_data_server("postgres")
    # Both API processes answer at once: a pooled connection the restart ended is pinged and
    # replaced, not handed to a request (each process's first request answered 503 before).
    assert [client.get("/v1/jobs").status_code for _ in range(10)] == [200] * 10
    rows = assert_each_done_once(rehearsal, markers, since=time.monotonic(), again_at_most=0)
    assert {attempts for _, _, attempts, _ in rows} == {1}, rows
