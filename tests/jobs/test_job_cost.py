"""What one instant job costs, counted, not timed (issue 63): a guard that a change cannot make the
job path dearer without saying so.

A stack of its own (PostgreSQL, Redis, the API and a prefork worker, as the other tests run them)
whose processes load tests/support/cost_probe/sitecustomize.py: every SQL statement, transaction
boundary and Redis command they send is written down with the process, the thread and its first
words. An instant chat job (the fake Ollama answers at once, as `benchmarks.platform_overhead`
runs it) is submitted with a plain POST and waited on from PostgreSQL and Redis directly (the test
process is not counted); the counts of the third job are compared with EXPECTED (the first two
warm the caches: the user, the routes, kombu's scripts).

EXPECTED is exact in both directions: a change that adds a query fails here until its count is
raised, on purpose, in the same commit, with the reason beside it; a change that saves one lowers
it. The failure message lists what was sent, so the difference can be read off.

What timing decides is reported, bounded, not counted exactly: the job's watcher thread asks Redis
once whether anyone follows the job live (PUBSUB NUMSUB) and may record its output a moment before
the job ends, when it wakes first (workers/recorder.py); the worker's main process polls the broker
and beats its liveness on timers. PostgreSQL's pings after an idle pool, and a new Redis
connection's greeting (HELLO, CLIENT SETINFO), are not counted at all.
"""

from __future__ import annotations

import collections
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.conftest import own_stack, register
from tests.support.fake_ollama import FakeOllama
from tests.support.stack import REPO, wait_until

PROBE = Path(__file__).resolve().parents[1] / "support" / "cost_probe"
WARM_UP_JOBS = 2

# One instant chat job, steady state. Each number with what it is; change one only with the reason.
EXPECTED = {
    # --- the API: POST /v1/jobs, answered 202 ----------------------------------------------------
    # 1 the job row and its `queued` event, one statement (db/jobs.py create: WITH job_row AS ...)
    # 2 the owner's advisory lock for fair admission (db/admission.py)
    # 3 how many of the owner's jobs are running or queued (admission's count)
    # 4 the job stamped dispatched once the broker has it (db/dispatch_stamps.py; autocommit)
    "api sql statements": 4,
    # BEGIN and COMMIT of the creating transaction; the stamp is autocommit (no BEGIN, no COMMIT)
    "api transaction round trips": 2,
    # 1 the submit rate limit's sliding window (EVALSHA, api/rate_limits.py); 2 the task onto the
    # broker (LPUSH)
    "api redis commands": 2,
    # --- the worker: the job's own thread in the pool's process --------------------------------
    # 1 the claim: running, attempt counted, the worker named, its event (one statement, autocommit)
    # 2 the finish: output, succeeded, their events (one statement)
    # 3, 4 the owner's advisory lock and the owner's held jobs to release (fair admission)
    # (the chat kind's LLM route is read once per MENTORQ_LLM_ROUTE_CACHE_SECONDS, set to an hour
    # here, so the warm-up jobs read it: workers/llm/routing.py)
    "worker sql statements": 4,
    # BEGIN and COMMIT of the finish; the claim is one statement in autocommit
    "worker transaction round trips": 2,
    # the `running` event, the output and `succeeded` events, and the job's end, on its channels
    "worker redis commands": 4,
    # --- the worker's main process: the delivery in the broker ------------------------------------
    # MULTI, ZADD unacked_index, HSET unacked, EXEC when it takes the message (acks late);
    # MULTI, ZREM unacked_index, HDEL unacked, EXEC when the job is done (the ack)
    "delivery redis commands": 8,
    # --- what PostgreSQL keeps -----------------------------------------------------------------
    # queued, running, output, succeeded
    "job event rows": 4,
}

# Timing decides these (see the docstring): at most this many, never counted exactly.
WATCHER_AT_MOST = {"redis": 1, "sql statements": 1}


@dataclass
class Line:
    pid: int
    role: str
    thread: str
    kind: str
    text: str


def _read(probe: Path) -> dict[int, int]:
    return {int(p.stem): len(p.read_text().splitlines()) for p in probe.glob("*.log")}


def _since(probe: Path, marks: dict[int, int]) -> list[Line]:
    found = []
    for path in sorted(probe.glob("*.log")):
        pid = int(path.stem)
        for raw in path.read_text().splitlines()[marks.get(pid, 0) :]:
            role, thread, kind, text = (raw.split(" ", 3) + [""])[:4]
            found.append(Line(pid, role, thread, kind, text))
    return found


def _round_trips(lines: list[Line]) -> int:
    return sum(line.kind in ("begin", "commit", "rollback") for line in lines)


DELIVERY = ("MULTI", "EXEC", "ZADD unacked_index", "HSET unacked", "ZREM unacked_index", "HDEL unacked")
# A new Redis connection's own greeting. A process's pool opens one when two of its threads want
# Redis at once (the watcher's PUBSUB NUMSUB beside the job's PUBLISH, as seen in a loaded CI run):
# timing, not the job's cost, as PostgreSQL's pings after an idle pool are not counted either.
HANDSHAKE = ("HELLO", "CLIENT SETINFO", "AUTH", "SELECT")


def _redis_commands(lines: list[Line]) -> int:
    return sum(line.kind == "redis" and not line.text.startswith(HANDSHAKE) for line in lines)


def _costs(lines: list[Line], worker_pid: int, events: int) -> tuple[dict[str, int], dict[str, list[str]]]:
    api = [line for line in lines if line.role == "api"]
    pool = [line for line in lines if line.role == "worker" and line.pid != worker_pid]
    job_thread = [line for line in pool if line.thread == "MainThread"]
    parent = [line for line in lines if line.role == "worker" and line.pid == worker_pid]
    delivery = [line for line in parent if line.kind == "redis" and line.text.startswith(DELIVERY)]
    costs = {
        "api sql statements": sum(line.kind == "sql" for line in api),
        "api transaction round trips": _round_trips(api),
        "api redis commands": _redis_commands(api),
        "worker sql statements": sum(line.kind == "sql" for line in job_thread),
        "worker transaction round trips": _round_trips(job_thread),
        "worker redis commands": _redis_commands(job_thread),
        "delivery redis commands": len(delivery),
        "job event rows": events,
    }
    seen = {
        "api": [f"{line.kind} {line.text[:90]}" for line in api],
        "worker (job thread)": [f"{line.kind} {line.text[:90]}" for line in job_thread],
        "worker (other threads)": [
            f"{line.thread} {line.kind} {line.text[:90]}" for line in pool if line.thread != "MainThread"
        ],
        "worker main process": [f"{line.kind} {line.text[:90]}" for line in parent],
    }
    return costs, seen


@pytest.fixture(scope="module")
def counted(fake_ollama: FakeOllama):
    probe = Path(tempfile.mkdtemp(prefix="mentorq-cost-probe-"))
    with own_stack(fake_ollama, "mentorq-cost-") as platform:
        env = {
            "PYTHONPATH": f"{PROBE}{os.pathsep}{REPO}",
            "MENTORQ_COST_PROBE_DIR": str(probe),
            "MENTORQ_LLM_ROUTE_CACHE_SECONDS": "3600",  # the route's read is then the warm-up's only
            "MENTORQ_LLM_USER_SLOTS": "1",  # a second job of one account waits, held (the release test)
        }
        platform.api_url = platform._start_api_process("api", env)
        # One pool process: every job (and so every per-process warm-up) on the same one.
        worker = platform.start_worker(extra_env=env, concurrency=1)
        yield platform, probe, worker.pid


def _one_job(platform, client, broker: redis.Redis) -> str:
    response = client.post("/v1/jobs", json={"kind": "chat", "input": {"prompt": "hi"}})
    assert response.status_code == 202, response.text
    job = response.json()["id"]
    deadline = 600  # generous: the chat kind's own time limit ends a stuck job long before
    wait_until(
        lambda: platform.sql("SELECT status FROM jobs WHERE id = %s", job)[0][0] == "succeeded",
        timeout=deadline,
        message="the job to succeed",
    )
    # The ack is the delivery's last step: once the broker holds no unacked message, it is done.
    wait_until(lambda: broker.hlen("unacked") == 0, timeout=deadline, message="the delivery's ack")
    # The API stamps the job sent STAMP_DELAY_S after its publish, off the request path: an instant
    # job can end first, and its stamp then fell in the next job's count (CI, under load).
    wait_until(
        lambda: platform.sql("SELECT dispatched_at IS NOT NULL FROM jobs WHERE id = %s", job)[0][0],
        timeout=deadline,
        message="the API's dispatch stamp",
    )
    return job


def _counted_jobs(platform, probe: Path, jobs: int) -> tuple[list[Line], str]:
    """A new account's WARM_UP_JOBS jobs, then `jobs` more: what those sent, and the last one's id."""
    broker = redis.Redis.from_url(platform.redis.url)
    with register(platform.api_url) as client:
        for _ in range(WARM_UP_JOBS):
            _one_job(platform, client, broker)
        marks = _read(probe)
        for _ in range(jobs):
            job = _one_job(platform, client, broker)
        return _since(probe, marks), job


def test_one_instant_job_costs_what_expected_says(counted) -> None:
    platform, probe, worker_pid = counted
    lines, job = _counted_jobs(platform, probe, 1)
    events = platform.sql("SELECT count(*) FROM job_events WHERE job_id = %s", job)[0][0]
    costs, seen = _costs(lines, worker_pid, events)
    report = "\n".join(f"  {part}:\n" + "\n".join(f"    {s}" for s in sent) for part, sent in seen.items())
    assert costs == EXPECTED, f"one instant job now costs {costs}\nwhat was sent:\n{report}"

    watcher = collections.Counter(
        "redis" if line.kind == "redis" else "sql statements"
        for line in lines
        if line.role == "worker"
        and line.pid != worker_pid
        and line.thread != "MainThread"
        and line.kind in ("redis", "sql")
        and not (line.kind == "redis" and line.text.startswith(HANDSHAKE))
    )
    assert all(watcher[k] <= v for k, v in WATCHER_AT_MOST.items()), f"the watcher sent {watcher}\n{report}"


def test_no_job_opens_a_redis_connection_of_its_own(counted) -> None:
    """The greetings the counts above leave out stay what timing makes them: over three jobs after
    the warm-up, at most one new Redis connection in the API and the worker together (a pool grown
    by two threads at once), not one a job."""
    platform, probe, _ = counted
    lines, _ = _counted_jobs(platform, probe, 3)
    greetings = [
        f"{line.role} {line.thread}"
        for line in lines
        if line.kind == "redis" and line.text.startswith("HELLO")
    ]
    assert len(greetings) <= 1, greetings


# A job that finishes while the same account's next job waits, held by fair admission (one slot
# each): its finish releases the held job, publishes it and stamps it sent; then the released job
# runs. Both jobs' work on the worker, counted together (the window holds nothing else).
EXPECTED_RELEASE = {
    # the first job's finish, in one transaction: 1 the finish, 2 the owner's advisory lock, 3 the
    # owner's held jobs, 4 how many of the owner's jobs hold a slot, 5 the held job released; then
    # 6 the released job stamped sent (one prebuilt statement in autocommit, db/dispatch_stamps.py);
    # then the released job: 7 its claim (autocommit), 8 its finish, 9 the lock, 10 held jobs
    "worker sql statements": 10,
    # BEGIN and COMMIT of each finish (the stamp and the claim are autocommit)
    "worker transaction round trips": 4,
    # the first job's output and `succeeded` events and its end (3), the released job onto the
    # broker (LPUSH), the released job's `running`, output and `succeeded` events and its end (4)
    "worker redis commands": 8,
}


def _release(
    platform, client, broker: redis.Redis, fake_ollama: FakeOllama, probe: Path, marker: str
) -> list[Line]:
    """What the worker sent from the first job's release to the second's end."""
    released = fake_ollama.hold(marker)
    first = client.post("/v1/jobs", json={"kind": "chat", "input": {"prompt": marker}}).json()
    wait_until(
        lambda: platform.sql("SELECT status FROM jobs WHERE id = %s", first["id"])[0][0] == "running",
        timeout=600,
        message="the first job to run",
    )
    second = client.post("/v1/jobs", json={"kind": "chat", "input": {"prompt": "hi"}}).json()
    [(held,)] = platform.sql("SELECT held FROM jobs WHERE id = %s", second["id"])
    assert held, "the account's second job should wait while its first holds the one slot"
    marks = _read(probe)
    released.set()
    for job in (first["id"], second["id"]):
        wait_until(
            lambda job=job: platform.sql("SELECT status FROM jobs WHERE id = %s", job)[0][0] == "succeeded",
            timeout=600,
            message="both jobs to succeed",
        )
    wait_until(lambda: broker.hlen("unacked") == 0, timeout=600, message="the deliveries' acks")
    return _since(probe, marks)


def test_a_finish_that_releases_a_held_job_costs_what_expected_says(counted, fake_ollama: FakeOllama) -> None:
    platform, probe, worker_pid = counted
    broker = redis.Redis.from_url(platform.redis.url)
    with register(platform.api_url) as client:
        _release(
            platform, client, broker, fake_ollama, probe, "warm: the first of two"
        )  # kombu's first publish
        lines = _release(platform, client, broker, fake_ollama, probe, "the first of two")
    job_threads = [
        line
        for line in lines
        if line.role == "worker" and line.pid != worker_pid and line.thread == "MainThread"
    ]
    costs = {
        "worker sql statements": sum(line.kind == "sql" for line in job_threads),
        "worker transaction round trips": _round_trips(job_threads),
        "worker redis commands": _redis_commands(job_threads),
    }
    report = "\n".join(f"    {line.pid} {line.kind} {line.text[:100]}" for line in job_threads)
    assert costs == EXPECTED_RELEASE, f"the two jobs now cost {costs}\nwhat was sent:\n{report}"
