"""What the tests of tests/hosts/ submit and count: jobs through the proxy, their rows and events
read straight from PostgreSQL, and the generations the model servers finished (their own record,
not the platform's rows)."""

from __future__ import annotations

import os
import subprocess
import time
import uuid

import httpx
import psycopg
import pytest

from devstack.rehearsal import network, topology

WHY_NOT = network.unavailable()
# Every test module here carries it: where namespaces cannot be made, each test skips, saying why.
NEEDS_NAMESPACES = pytest.mark.skipif(WHY_NOT is not None, reason=f"no network namespaces here: {WHY_NOT}")

ENDED = ("succeeded", "failed", "canceled")
PASSWORD = "correct-horse-battery"


def leftovers(prefix: str) -> list[str]:
    """Namespaces and links of this machine that carry the prefix."""
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    return [line for line in (namespaces + links).splitlines() if prefix[:8] in line]


def sign_in(rehearsal: topology.Rehearsal) -> httpx.Client:
    """A new learner's client, signed in through the proxy on the api host (the caller closes it)."""
    with httpx.Client(base_url=rehearsal.url, timeout=60) as anonymous:
        email = f"user-{uuid.uuid4().hex[:10]}@example.com"
        registered = anonymous.post("/auth/register", json={"email": email, "password": PASSWORD})
        assert registered.status_code == 201, registered.text
        token = anonymous.post("/auth/jwt/login", data={"username": email, "password": PASSWORD}).json()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    return httpx.Client(base_url=rehearsal.url, timeout=60, headers=bearer)


def job_row(rehearsal: topology.Rehearsal, job_id: str) -> tuple:
    with psycopg.connect(rehearsal.database_url, connect_timeout=5) as db:
        return db.execute("SELECT status, attempts, worker FROM jobs WHERE id = %s", (job_id,)).fetchone()


def started_events(rehearsal: topology.Rehearsal, job_id: str) -> int:
    with psycopg.connect(rehearsal.database_url, connect_timeout=5) as db:
        query = "SELECT count(*) FROM job_events WHERE job_id = %s AND type = 'started'"
        return db.execute(query, (job_id,)).fetchone()[0]


def submit_streaming_jobs(
    rehearsal: topology.Rehearsal, client: httpx.Client, count: int = 20, *, running: int = 4, **extra
) -> dict[str, str]:
    """`count` chat jobs, each with its own prompt (its marker at the model server); returns once
    `running` of them are generating (the gpu host's 4 slots). `extra`: more of the job's request
    (a webhook, say). Job id -> marker."""
    markers = {}
    for _ in range(count):
        marker = f"fault-{uuid.uuid4().hex[:12]}"
        answer = client.post("/v1/jobs", json={"kind": "chat", "input": {"prompt": marker}, **extra})
        assert answer.status_code == 202, answer.text
        markers[answer.json()["id"]] = marker
    with psycopg.connect(rehearsal.database_url, connect_timeout=5) as db:
        deadline = time.monotonic() + 30
        query = "SELECT count(*) FROM jobs WHERE status = 'running' AND id = ANY(%s::uuid[])"
        while db.execute(query, (list(markers),)).fetchone()[0] < running:
            assert time.monotonic() < deadline, f"the gpu host never ran {running} jobs at once"
            time.sleep(0.1)
    return markers


def wait_ended(rehearsal: topology.Rehearsal, ids: list[str], *, since: float, within_s: float = 180) -> list:
    """The jobs' (id, status, attempts, worker) once every one has ended (asserts they do, within
    `within_s` of `since`). Retries its connection: the fault may be PostgreSQL's own."""
    while True:
        try:
            with psycopg.connect(rehearsal.database_url, connect_timeout=5) as db:
                rows = db.execute(
                    "SELECT id::text, status, attempts, worker FROM jobs WHERE id = ANY(%s::uuid[])", (ids,)
                ).fetchall()
        except psycopg.OperationalError:
            rows = []
        if len(rows) == len(ids) and all(row[1] in ENDED for row in rows):
            return rows
        assert time.monotonic() - since < within_s, (rows, _unended(rehearsal, ids))
        time.sleep(0.5)


def _unended(rehearsal: topology.Rehearsal, ids: list[str]) -> list:
    """For a failure's message: each job not ended, with whether it is held (fair admission) and
    when it was last sent to the broker, to tell a held job no finish released from a sent one."""
    with psycopg.connect(rehearsal.database_url, connect_timeout=5) as db:
        return db.execute(
            "SELECT id::text, status, held, dispatched_at, attempts FROM jobs"
            " WHERE id = ANY(%s::uuid[]) AND status NOT IN ('succeeded', 'failed', 'canceled')",
            (ids,),
        ).fetchall()


def assert_each_done_once(
    rehearsal: topology.Rehearsal,
    markers: dict[str, str],
    *,
    since: float,
    again_at_most: int = 4,
    within_s: float = 180,
) -> list:
    """Every job ends `succeeded` within `within_s` of `since`, with one ending event, and was generated
    by a model server; a job generated more than once is one a second attempt ran, and there are
    at most `again_at_most` (the slots that were generating when the fault came). The rows."""
    ids = list(markers)
    rows = wait_ended(rehearsal, ids, since=since, within_s=within_s)
    with psycopg.connect(rehearsal.database_url, connect_timeout=5) as db:
        endings = dict(
            db.execute(
                "SELECT job_id::text, count(*) FROM job_events WHERE job_id = ANY(%s::uuid[]) "
                "AND type IN ('succeeded', 'failed', 'canceled') GROUP BY job_id",
                (ids,),
            ).fetchall()
        )
    assert {row[1] for row in rows} == {"succeeded"}, rows
    assert endings == {job_id: 1 for job_id in ids}
    generated = generation_counts(rehearsal, markers)
    again = {job_id for job_id, count in generated.items() if count > 1}
    second_attempts = {row[0] for row in rows if row[2] > 1}
    assert all(count >= 1 for count in generated.values()), generated
    assert again <= second_attempts and len(again) <= again_at_most, (generated, rows)
    # The figures, for a run with -s (docs/operations/rehearsal.md's table comes from them).
    test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
    print(
        f"\n{test}: {len(rows)} succeeded, 0 lost, all ended {time.monotonic() - since:.0f} s after the"
        f" fault ended; second attempts {len(second_attempts)}, generated twice {len(again)}"
    )
    return rows


def generation_counts(rehearsal: topology.Rehearsal, markers: dict[str, str]) -> dict[str, int]:
    """Job id -> how many generations of its prompt the model servers finished."""
    done = rehearsal.generations()
    return {job_id: sum(marker in prompt for prompt in done) for job_id, marker in markers.items()}


def started_workers(rehearsal: topology.Rehearsal, ids: list[str]) -> set[str]:
    """The workers that started an attempt of any of the jobs (their `started` events)."""
    with psycopg.connect(rehearsal.database_url, connect_timeout=5) as db:
        query = "SELECT DISTINCT data->>'worker' FROM job_events WHERE job_id = ANY(%s::uuid[])"
        query += " AND type = 'started'"
        return {worker for (worker,) in db.execute(query, (ids,)).fetchall()}
