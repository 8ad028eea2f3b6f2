"""Faults against the real processes: crashes, broker loss, database loss, duplicates, limits, cancel.

Each test leaves the shared stack as it found it: the default worker running, Redis and
PostgreSQL up.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import redis
from celery import Celery

from tests.conftest import ApiClient
from tests.support.stack import Stack, wait_until

pytestmark = pytest.mark.slow


def job(client: ApiClient, job_id: str) -> dict:
    return client.get(f"/v1/jobs/{job_id}").json()


def wait_for_status(client: ApiClient, job_id: str, statuses: set[str], timeout: float = 60) -> dict:
    wait_until(
        lambda: job(client, job_id)["status"] in statuses, timeout=timeout, message=f"job in {statuses}"
    )
    return job(client, job_id)


def event_types(stack: Stack, job_id: str) -> list[str]:
    return [row[0] for row in stack.sql("SELECT type FROM job_events WHERE job_id = %s ORDER BY id", job_id)]


@contextlib.contextmanager
def default_worker_stopped(stack: Stack) -> Iterator[None]:
    stack.stop("worker")
    try:
        yield
    finally:
        if "worker" not in stack.processes:
            stack.start_worker()


def sleep_job(client: ApiClient, **input) -> str:
    response = client.post("/v1/jobs", json={"kind": "debug.sleep", "input": input})
    assert response.status_code == 202, response.text
    return response.json()["id"]


def test_worker_killed_mid_job_finishes_on_a_restarted_worker(stack: Stack, client: ApiClient) -> None:
    with default_worker_stopped(stack):
        stack.start_worker("victim", queues="cpu")  # debug.sleep's lane alone: no embedding model
        # 2 s of sleep against debug.sleep's 4 s soft limit: the second attempt runs on a worker
        # just started, and a loaded CI machine once took the 3 s sleep past the limit.
        job_id = sleep_job(client, seconds=2, steps=20)
        wait_until(lambda: job(client, job_id)["status"] == "running", timeout=30, message="running")
        time.sleep(0.5)
        stack.kill("victim")  # SIGKILL to the worker and its pool children
        stack.start_worker()
        final = wait_for_status(client, job_id, {"succeeded", "failed"}, timeout=60)
    assert final["status"] == "succeeded", (final.get("error"), final)
    assert final["attempts"] == 2
    assert final["output"]["attempt"] == 2
    assert event_types(stack, job_id).count("succeeded") == 1


def test_a_lost_job_is_retried_even_when_no_reconciler_runs_until_after_its_deadline(
    stack: Stack, client: ApiClient
) -> None:
    """Every worker down past the job's hard time limit (6 s): the job was lost at its first second,
    not slow, so it runs again once a worker is back instead of failing `timeout`."""
    with default_worker_stopped(stack):
        stack.start_worker("victim", queues="cpu")  # debug.sleep's lane alone: no embedding model
        job_id = sleep_job(client, seconds=1, steps=2)
        wait_until(lambda: job(client, job_id)["status"] == "running", timeout=30, message="running")
        stack.kill("victim")
        time.sleep(8)  # past started + time_limit, with nothing to reconcile
        assert job(client, job_id)["status"] == "running"
        stack.start_worker()
        final = wait_for_status(client, job_id, {"succeeded", "failed"}, timeout=60)
    assert final["status"] == "succeeded", final["error"]
    assert final["attempts"] == 2


def test_a_job_that_kills_its_worker_every_time_fails_with_worker_lost(
    client: ApiClient, stack: Stack
) -> None:
    job_id = sleep_job(client, seconds=1, steps=2, crash_after_step=1)
    final = wait_for_status(client, job_id, {"succeeded", "failed"}, timeout=90)
    assert final["status"] == "failed"
    assert final["error"]["code"] == "worker_lost"
    assert final["attempts"] == final["max_attempts"] == 2
    time.sleep(3)  # no endless loop: nothing happens to it afterwards
    assert job(client, job_id)["attempts"] == 2
    assert event_types(stack, job_id).count("started") == 2


def test_a_job_holding_the_gil_past_the_stale_window_runs_once(stack: Stack, client: ApiClient) -> None:
    """debug.native keeps its process's GIL in one native call for three times the stale window
    (3 s here): the job's watcher thread cannot run meanwhile, and the worker's pulse, a process of
    its own (workers/pulse.py), beats for it. Before the pulse the reconciler took it for lost at
    3 s, ran it again, and failed it `worker_lost` at its last attempt."""
    stale_s = float(stack.env["MENTORQ_STALE_AFTER_SECONDS"])
    response = client.post("/v1/jobs", json={"kind": "debug.native", "input": {"seconds": int(3 * stale_s)}})
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    final = wait_for_status(client, job_id, {"succeeded", "failed"}, timeout=120)
    assert final["status"] == "succeeded", final["error"]
    assert final["attempts"] == 1 and final["output"] == {"held_gil_seconds": int(3 * stale_s), "attempt": 1}
    assert event_types(stack, job_id) == ["queued", "started", "succeeded"]


def test_a_job_past_its_time_limit_fails_with_timeout(client: ApiClient) -> None:
    job_id = sleep_job(client, seconds=12, steps=12)
    final = wait_for_status(client, job_id, {"succeeded", "failed"}, timeout=60)
    assert final["status"] == "failed"
    assert final["error"]["code"] == "timeout"


def test_the_same_message_delivered_twice_runs_the_job_once(stack: Stack, client: ApiClient) -> None:
    broker = Celery(broker=stack.redis.url.replace("unix://", "redis+socket://"))
    with default_worker_stopped(stack):
        job_id = sleep_job(client, seconds=0.5, steps=2)
        # The API already published it once; publish the very same message (same task id) again.
        broker.send_task("mentorq.tasks.debug.sleep", args=[job_id], task_id=job_id, queue="cpu")
        stack.start_worker()
        final = wait_for_status(client, job_id, {"succeeded", "failed"})
    time.sleep(2)  # let the duplicate be consumed
    assert final["status"] == "succeeded" and final["attempts"] == 1
    assert event_types(stack, job_id).count("started") == 1
    assert event_types(stack, job_id).count("succeeded") == 1


def test_redis_restarted_empty_while_jobs_are_queued(stack: Stack, client: ApiClient) -> None:
    with default_worker_stopped(stack):
        job_ids = [sleep_job(client, seconds=0.2) for _ in range(5)]
        wait_until(  # the API stamps published jobs in batches, a few milliseconds after the response
            lambda: all(
                row[0] is not None
                for row in stack.sql("SELECT dispatched_at FROM jobs WHERE id = ANY(%s::uuid[])", job_ids)
            ),
            timeout=10,
            message="jobs stamped as published",
        )
        # Other processes (workers, beat, the API) write their own keys the moment Redis is back,
        # so "empty" is proven by a key only this test writes, not by the key count.
        broker_redis = redis.Redis.from_url(stack.redis.url)
        broker_redis.set("test:written-before-the-restart", 1)
        queued = sum(
            broker_redis.llen(key)
            for key in broker_redis.scan_iter("cpu*")
            if broker_redis.type(key) == b"list"
        )
        assert queued >= len(job_ids)  # the messages really sat in Redis before it lost them
        stack.redis.stop(kill=True)
        for leftover in stack.redis.directory.glob("*.aof*"):
            leftover.unlink() if leftover.is_file() else [p.unlink() for p in leftover.iterdir()]
        for leftover in stack.redis.directory.glob("appendonlydir"):
            leftover.rmdir()
        stack.redis.start()
        broker_redis = redis.Redis.from_url(stack.redis.url)
        assert not broker_redis.exists("test:written-before-the-restart")  # really restarted empty
        stack.start_worker()
        for job_id in job_ids:
            assert (
                wait_for_status(client, job_id, {"succeeded", "failed"}, timeout=60)["status"] == "succeeded"
            )


def test_redis_down_at_submit_still_accepts_and_runs_the_job(stack: Stack, client: ApiClient) -> None:
    stack.redis.stop()  # a clean stop: its data survives in the append-only file
    try:
        started = time.monotonic()
        response = client.post("/v1/jobs", json={"kind": "debug.sleep", "input": {"seconds": 0}})
        elapsed = time.monotonic() - started
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
        assert elapsed < 10
        assert stack.sql("SELECT status, dispatched_at FROM jobs WHERE id = %s", job_id) == [("queued", None)]
    finally:
        stack.redis.start()
    final = wait_for_status(client, job_id, {"succeeded", "failed"}, timeout=90)
    assert final["status"] == "succeeded"
    wait_until(
        lambda: httpx.get(f"{stack.api_url}/readyz").status_code == 200, timeout=30, message="ready again"
    )


def test_a_waiting_request_sees_a_result_whose_live_event_redis_lost(stack: Stack, client: ApiClient) -> None:
    """Redis goes away while a request waits, so the job's `succeeded` message is never sent. The
    API's event hub saw the interruption, so the wait re-reads the row at its next quiet second
    instead of trusting the silence until its 10 s safety net (the wait here is shorter than that)."""
    job_id = sleep_job(client, seconds=2, steps=2)
    wait_for_status(client, job_id, {"running"}, timeout=30)
    answers: list[httpx.Response] = []
    waiter = threading.Thread(
        target=lambda: answers.append(
            client.get(f"/v1/jobs/{job_id}", headers={"Prefer": "wait=8"}, timeout=30)
        )
    )
    waiter.start()
    time.sleep(0.5)  # the request is waiting on its live events
    stack.redis.stop()
    try:
        wait_until(
            lambda: stack.sql("SELECT status FROM jobs WHERE id = %s", job_id) == [("succeeded",)],
            timeout=30,
            message="job finished while Redis was down",
        )
        waiter.join(timeout=30)
    finally:
        stack.redis.start()
    assert answers and answers[0].status_code == 200, answers and answers[0].text
    assert answers[0].json()["status"] == "succeeded"
    # Losing Redis mid-task must not take the worker down (workers/kombu_fixes.py): it reconnects.
    assert stack.processes["worker"].poll() is None, "the worker exited when Redis went away"
    wait_until(
        lambda: httpx.get(f"{stack.api_url}/readyz").status_code == 200, timeout=30, message="ready again"
    )
    assert (
        wait_for_status(client, sleep_job(client, seconds=0), {"succeeded", "failed"})["status"]
        == "succeeded"
    )


def test_a_transient_database_error_in_a_job_is_retried_not_failed(client: ApiClient, stack: Stack) -> None:
    """PostgreSQL ends the job's connection mid-job (as in a failover): the attempt is retried
    with a `database_error` reason, and the second attempt succeeds."""
    response = client.post(
        "/v1/jobs", json={"kind": "debug.sleep", "input": {"seconds": 0, "lose_database_on_attempts": [1]}}
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    final = wait_for_status(client, job_id, {"succeeded", "failed"}, timeout=60)
    assert final["status"] == "succeeded", final
    assert final["attempts"] == 2
    retried = stack.sql("SELECT data FROM job_events WHERE job_id = %s AND type = 'retried'", job_id)
    assert retried and "database_error" in str(retried[0][0]), event_types(stack, job_id)


def test_postgres_down_gives_503_problem_and_recovers(stack: Stack, client: ApiClient) -> None:
    stack.postgres.stop()
    try:
        response = client.get("/v1/jobs")
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "database_unavailable"
        assert "Traceback" not in response.text and "psycopg" not in response.text
        ready = httpx.get(f"{stack.api_url}/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["database"] == "failing"
    finally:
        stack.postgres.start()
    wait_until(lambda: client.get("/v1/jobs").status_code == 200, timeout=30, message="api recovered")
    job_id = sleep_job(client, seconds=0)
    assert wait_for_status(client, job_id, {"succeeded", "failed"})["status"] == "succeeded"


def test_a_message_taken_while_the_database_is_down_runs_its_job_once_it_is_back(
    stack: Stack, client: ApiClient
) -> None:
    """A worker takes a job's message while PostgreSQL is down: the claim cannot reach it, and the
    message goes back to the broker instead of being acked away (which left the job queued with no
    message until MENTORQ_REDISPATCH_AFTER_SECONDS, 600 s here). Once the database is back the
    job runs, once, on its first attempt."""
    log = stack.root / "worker.log"
    with default_worker_stopped(stack):
        job_id = sleep_job(client, seconds=0)
        wait_until(
            lambda: stack.sql("SELECT dispatched_at FROM jobs WHERE id = %s", job_id)[0][0] is not None,
            timeout=10,
            message="the job stamped as published",
        )
        seen = log.stat().st_size if log.exists() else 0
        stack.postgres.stop()
        try:
            stack.start_worker()
            # Celery's trace logs a task's end (succeeded, raised, rejected): with the database
            # down, this delivery ended without running the job.
            ended = re.compile(rf"celery\.app\.trace: Task \S+\[{job_id}\]")
            wait_until(
                lambda: ended.search(log.read_bytes()[seen:].decode(errors="replace")) is not None,
                timeout=60,
                message="the worker took the message and ended its delivery unclaimed",
            )
        finally:
            stack.postgres.start()
    final = wait_for_status(client, job_id, {"succeeded", "failed"}, timeout=120)
    assert final["status"] == "succeeded" and final["attempts"] == 1, final
    assert event_types(stack, job_id).count("succeeded") == 1


def test_canceled_queued_job_never_runs(stack: Stack, client: ApiClient) -> None:
    with default_worker_stopped(stack):
        job_id = sleep_job(client, seconds=0)
        canceled = client.post(f"/v1/jobs/{job_id}/cancel")
        assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
        stack.start_worker()
        time.sleep(3)  # the message is consumed and the reconciler runs a few times
    final = job(client, job_id)
    assert final["status"] == "canceled" and final["started_at"] is None and final["attempts"] == 0
    assert "started" not in event_types(stack, job_id)


def test_canceling_a_running_chat_stops_it(stack: Stack, client: ApiClient, fake_ollama) -> None:
    import json

    import redis

    fake_ollama.token_delay_s = 0.2  # ~5 tokens/s: the whole reply would take 12 s
    fake_ollama.reply = " ".join(f"word{i}" for i in range(60))
    job_id = client.post("/v1/jobs", json={"kind": "chat", "input": {"prompt": "long answer"}}).json()["id"]
    live = redis.Redis.from_url(stack.redis.url).pubsub(ignore_subscribe_messages=True)
    live.subscribe(f"mentorq:job:{job_id}")

    def output_events(seconds: float) -> int:
        deadline, count = time.monotonic() + seconds, 0
        while time.monotonic() < deadline:
            message = live.get_message(timeout=0.1)
            if message and json.loads(message["data"]).get("type") == "output":
                count += 1
        return count

    def first_output(within: float) -> bool:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            message = live.get_message(timeout=0.1)
            if message and json.loads(message["data"]).get("type") == "output":
                return True
        return False

    wait_until(lambda: job(client, job_id)["status"] == "running", timeout=30, message="running")
    # Tokens are flowing (on a loaded machine, a CI run with three pytest processes on two cores,
    # the first came more than 1.5 s after the job was running).
    assert first_output(10.0)
    assert client.post(f"/v1/jobs/{job_id}/cancel").json()["status"] == "canceled"
    output_events(3.0)  # the worker notices within a cancel poll and a token (longer when loaded)
    assert output_events(2.0) == 0  # ...and then generates nothing more, with 6 s of reply left
    live.close()
    final = job(client, job_id)
    assert final["status"] == "canceled" and final["output"] is None
    assert "succeeded" not in event_types(stack, job_id)
