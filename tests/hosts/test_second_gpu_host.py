"""A second GPU host joins the llm lane, as docs/operations/rehearsal.md tells an operator to add
one: its own model server and its own worker-llm, named `llm@gpu2`, against the same Redis and
PostgreSQL. Both hosts take jobs; when the second is lost mid-run the first finishes its work."""

from __future__ import annotations

import time

import httpx
import psycopg

from devstack.rehearsal import topology
from tasks.chat.spec import SPEC as CHAT
from tests.hosts.jobs import (
    NEEDS_NAMESPACES,
    assert_each_done_once,
    sign_in,
    started_workers,
    submit_streaming_jobs,
)

pytestmark = NEEDS_NAMESPACES


def test_two_gpu_hosts_share_the_llm_lane_and_one_finishes_when_the_other_is_lost(
    rehearsal: topology.Rehearsal, client: httpx.Client
) -> None:
    rehearsal.add_gpu_host("gpu2")
    lost: list[topology.Process] = []
    try:
        # 8 generating at once, both hosts' 4 slots busy: two learners, each within the per-user
        # cap on LLM jobs at once (MENTORQ_LLM_PARALLEL, one host's slots, by default).
        markers = submit_streaming_jobs(rehearsal, client, count=12)
        with sign_in(rehearsal) as other:
            markers |= submit_streaming_jobs(rehearsal, other, count=12)
        # Lost mid-run: once it is generating. On a loaded run the first learner's jobs had all
        # ended while the second signed in, the second's first jobs had all gone to gpu, and gpu2,
        # lost idle, left nothing to run again (CI, 2026-11-30).
        wait_running_on(rehearsal, list(markers), "llm@gpu2")
        lost = rehearsal.lose_host("gpu2")
        assert {process.name for process in lost} == {"ollama@gpu2", "worker-llm@gpu2"}
        # What gpu2 had finished before it was lost (its worker is dead now, so this cannot grow):
        # on a slow machine, submitting the second learner's jobs outlasts a job or two.
        done_on_gpu2 = succeeded_on(rehearsal, list(markers), "llm@gpu2")
        rows = assert_each_done_once(rehearsal, markers, since=time.monotonic())
        # Both hosts ran jobs, and the first finished the lost host's: every later end was on gpu.
        assert started_workers(rehearsal, list(markers)) == {"llm@gpu", "llm@gpu2"}
        assert {worker for job_id, _, _, worker in rows if job_id not in done_on_gpu2} == {"llm@gpu"}, rows
        second = {row[0] for row in rows if row[2] > 1}
        assert 1 <= len(second) <= 4, rows
    finally:
        for process in list(rehearsal.processes.values()):
            if process.host.name == "gpu2":
                rehearsal.stop(process.name)


def wait_running_on(rehearsal: topology.Rehearsal, ids: list[str], worker: str) -> None:
    """Until one of the jobs among `ids` is running on `worker` (within a chat job's own time limit)."""
    query = "SELECT count(*) FROM jobs WHERE id = ANY(%s::uuid[]) AND status = 'running' AND worker = %s"
    with psycopg.connect(rehearsal.database_url, connect_timeout=5) as db:
        deadline = time.monotonic() + CHAT.time_limit
        while not db.execute(query, (ids, worker)).fetchone()[0]:
            assert time.monotonic() < deadline, f"no job ran on {worker}"
            time.sleep(0.1)


def succeeded_on(rehearsal: topology.Rehearsal, ids: list[str], worker: str) -> set[str]:
    """The jobs among `ids` that have succeeded on `worker`."""
    with psycopg.connect(rehearsal.database_url, connect_timeout=5) as db:
        query = (
            "SELECT id::text FROM jobs WHERE id = ANY(%s::uuid[]) AND status = 'succeeded' AND worker = %s"
        )
        return {job_id for (job_id,) in db.execute(query, (ids, worker)).fetchall()}
