"""A job that runs longer than Redis's visibility timeout: kombu gives its unacked message to a
worker again while the first delivery still generates (Celery's known redelivery of long tasks
on Redis). The second delivery finds the job running under another claim and skips it: the
model server generates the job once, on one attempt."""

from __future__ import annotations

import time
import uuid

import httpx

from devstack.rehearsal import topology
from tests.hosts.jobs import NEEDS_NAMESPACES, generation_counts, job_row, started_events, wait_ended

pytestmark = NEEDS_NAMESPACES

VISIBILITY_TIMEOUT_S = 5  # the slow job streams for about 27 s (topology.SLOW_MARKERS)


def test_a_job_longer_than_the_visibility_timeout_is_done_once(
    rehearsal: topology.Rehearsal, client: httpx.Client
) -> None:
    short = {"MENTORQ_BROKER_VISIBILITY_TIMEOUT_SECONDS": str(VISIBILITY_TIMEOUT_S)}
    rehearsal.stop("worker-llm")
    try:
        rehearsal.run_service("worker-llm", "gpu", extra_env=short)
        rehearsal.wait_for_workers(["worker-llm"])
        marker = f"slow-job-{uuid.uuid4().hex[:12]}"
        answer = client.post("/v1/jobs", json={"kind": "chat", "input": {"prompt": marker}})
        assert answer.status_code == 202, answer.text
        job_id = answer.json()["id"]
        [(_, status, attempts, _)] = wait_ended(rehearsal, [job_id], since=time.monotonic(), within_s=120)
        assert (status, attempts) == ("succeeded", 1)
        assert started_events(rehearsal, job_id) == 1
        assert generation_counts(rehearsal, {job_id: marker}) == {job_id: 1}
        # The fault happened: the message came again while the job ran, and was skipped.
        skipped = f"job {job_id} not claimable"
        assert skipped in rehearsal.tail("worker-llm", 100_000), rehearsal.tail("worker-llm")
        assert job_row(rehearsal, job_id)[0] == "succeeded"
    finally:
        rehearsal.stop("worker-llm")
        rehearsal.run_service("worker-llm", "gpu")
        rehearsal.wait_for_workers(["worker-llm"])
