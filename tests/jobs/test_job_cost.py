"""What one instant job costs, counted, not timed (issue 63): a guard that a change cannot make the
job path dearer without saying so.

A stack of its own (PostgreSQL, Redis, the API and a prefork worker, as the other tests run them)
whose processes load tests/support/cost_probe/sitecustomize.py: every SQL statement, transaction
boundary and Redis command they send is written down with the process, the thread and its first
words. An instant chat job (the fake Ollama answers at once, as `benchmarks.platform_overhead`
runs it) is submitted with a plain POST and waited on from PostgreSQL and Redis directly (the test
process is not counted); the counts of the third job are compared with EXPECTED (the first two
warm the caches: the user, the routes, kombu's scripts).

Rows written are counted by PostgreSQL itself: a trigger on every table of the platform's schema
records each row inserted, updated or deleted, with the backend that wrote it (a transaction rolled
back leaves none); the probe names each process's backends, so the rows are told apart by side.

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
import uuid
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
    # 1 the job row, its `queued` event and the owner's advisory lock for fair admission, one
    #   statement (db/jobs.py _submit_admitted: WITH job_row AS ...); the lock was a statement of its
    #   own, in an ORM transaction, until 2026-11-30
    # 2 the job held if the owner's other jobs in the lane fill their slots (db/admission.py
    #   held_past_the_cap: the count and the hold, one statement)
    # 3 the job stamped dispatched once the broker has it (db/dispatch_stamps.py; autocommit)
    "api sql statements": 3,
    # 1 and 2 sent together in one pipeline (db/direct_statement.py AsyncDirectTransaction): one
    # round trip and one implicit transaction, ended by the pipeline's sync
    "api pipelines": 1,
    # none: the submit's transaction has no BEGIN or COMMIT (its pipeline's sync ends it), and the
    # stamp is autocommit (it was BEGIN and COMMIT of an ORM transaction until 2026-11-30)
    "api transaction round trips": 0,
    # 1 the submit rate limit's sliding window (EVALSHA, api/rate_limits.py); 2 the task onto the
    # broker (LPUSH)
    "api redis commands": 2,
    # --- the worker: the job's own thread in the pool's process --------------------------------
    # 1 the claim: running, attempt counted, the worker named, its event (one statement, autocommit)
    # 2 the finish: output, succeeded, their events, and the owner's advisory lock for fair
    #   admission (one statement; the lock was a statement of its own until 2026-11-28)
    # 3 the owner's next held jobs released, as many as the owner has room for (none here): the
    #   count and the release in one statement (db/admission.py released_by_a_finish; until
    #   2026-11-30 a read of the held jobs, in an ORM transaction)
    # (the chat kind's LLM route is read once per MENTORQ_LLM_ROUTE_CACHE_SECONDS, set to an hour
    # here, so the warm-up jobs read it: workers/llm/routing.py)
    "worker sql statements": 3,
    # 2 and 3 sent together in one pipeline (db/direct_statement.py DirectTransaction): one round
    # trip and one implicit transaction
    "worker pipelines": 1,
    # none: the claim is autocommit, and the finish's transaction is its pipeline's (BEGIN and
    # COMMIT of an ORM transaction until 2026-11-30)
    "worker transaction round trips": 0,
    # the `running` event, the output and `succeeded` events, and the job's end, on its channels
    "worker redis commands": 4,
    # --- the worker's main process: the delivery in the broker ------------------------------------
    # MULTI, ZADD unacked_index, HSET unacked, EXEC when it takes the message (acks late);
    # MULTI, ZREM unacked_index, HDEL unacked, EXEC when the job is done (the ack)
    "delivery redis commands": 8,
    # --- what PostgreSQL keeps -----------------------------------------------------------------
    # queued, running, output, succeeded
    "job event rows": 4,
    # rows the API wrote: the job, its `queued` event (one statement), the job again by the
    # dispatch stamp
    "api rows written": 3,
    # rows the worker wrote: the job and its `running` event (the claim), the job, its output and
    # `succeeded` events (the finish)
    "worker rows written": 5,
}

# Timing decides these (see the docstring): at most this many, never counted exactly.
# redis: the NUMSUB, and the output event's PUBLISH when the watcher records the output first;
# sql statements: that output's recording.
WATCHER_AT_MOST = {"redis": 2, "sql statements": 1}


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


# kombu's record of the messages a worker took and has not acked yet (acks late).
UNACKED_RECORD = ("ZADD unacked_index", "HSET unacked", "ZREM unacked_index", "HDEL unacked")
# A new Redis connection's own greeting. A process's pool opens one when two of its threads want
# Redis at once (the watcher's PUBSUB NUMSUB beside the job's PUBLISH, as seen in a loaded CI run):
# timing, not the job's cost, as PostgreSQL's pings after an idle pool are not counted either.
HANDSHAKE = ("HELLO", "CLIENT SETINFO", "AUTH", "SELECT")


def _delivery_commands(redis_lines: list[Line]) -> int:
    """kombu's bookkeeping of the job's delivery in the worker's main process: the commands on its
    record of unacked messages, and the MULTI and EXEC around them. A transaction with none of
    them is kombu's own upkeep on its own clock (its bindings' refresh, MULTI EVALSHA EXEC, every
    few minutes; seen once in a run of this test): timing, not the job's cost."""
    counted, transaction = 0, []
    for line in redis_lines:
        if line.text.startswith("MULTI"):
            transaction = [line]
        elif transaction:
            transaction.append(line)
            if line.text.startswith("EXEC"):
                if any(each.text.startswith(UNACKED_RECORD) for each in transaction):
                    counted += len(transaction)
                transaction = []
        elif line.text.startswith(UNACKED_RECORD):
            counted += 1
    return counted


def _redis_commands(lines: list[Line]) -> int:
    return sum(line.kind == "redis" and not line.text.startswith(HANDSHAKE) for line in lines)


# Installed in the test's own database once the stack has migrated it: every row any statement
# writes to a table of the platform's schema, with the backend (the connection) that wrote it.
ROW_COUNTER = (
    "CREATE TABLE cost_probe_rows (id bigserial PRIMARY KEY, tbl text, op text, backend int)",
    """CREATE FUNCTION cost_probe_row() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO cost_probe_rows (tbl, op, backend) VALUES (TG_TABLE_NAME, TG_OP, pg_backend_pid());
        RETURN NULL;
    END $$""",
    """DO $$
    DECLARE name text;
    BEGIN
        FOR name IN
            SELECT tablename FROM pg_tables
            WHERE schemaname = current_schema() AND tablename NOT IN ('alembic_version', 'cost_probe_rows')
        LOOP
            EXECUTE 'CREATE TRIGGER cost_probe_row AFTER INSERT OR UPDATE OR DELETE ON '
                || quote_ident(name) || ' FOR EACH ROW EXECUTE FUNCTION cost_probe_row()';
        END LOOP;
    END $$""",
)


@dataclass
class Row:
    table: str
    op: str
    role: str


def _backends(probe: Path) -> dict[int, str]:
    """Each PostgreSQL backend the probed processes opened, and the role of the one that did."""
    found = {}
    for path in probe.glob("*.log"):
        for raw in path.read_text().splitlines():
            role, _, kind, text = (raw.split(" ", 3) + [""])[:4]
            if kind == "backend":
                found[int(text)] = role
    return found


def _row_mark(platform) -> int:
    return platform.sql("SELECT coalesce(max(id), 0) FROM cost_probe_rows")[0][0]


def _rows_since(platform, probe: Path, mark: int) -> list[Row]:
    backends = _backends(probe)
    return [
        Row(table, op, backends.get(backend, "other"))
        for table, op, backend in platform.sql(
            "SELECT tbl, op, backend FROM cost_probe_rows WHERE id > %s ORDER BY id", mark
        )
    ]


def _costs(
    lines: list[Line], worker_pid: int, events: int, rows: list[Row]
) -> tuple[dict[str, int], dict[str, list[str]]]:
    api = [line for line in lines if line.role == "api"]
    pool = [line for line in lines if line.role == "worker" and line.pid != worker_pid]
    job_thread = [line for line in pool if line.thread == "MainThread"]
    parent = [line for line in lines if line.role == "worker" and line.pid == worker_pid]
    costs = {
        "api sql statements": sum(line.kind == "sql" for line in api),
        "api pipelines": sum(line.kind == "pipeline" for line in api),
        "api transaction round trips": _round_trips(api),
        "api redis commands": _redis_commands(api),
        "worker sql statements": sum(line.kind == "sql" for line in job_thread),
        "worker pipelines": sum(line.kind == "pipeline" for line in job_thread),
        "worker transaction round trips": _round_trips(job_thread),
        "worker redis commands": _redis_commands(job_thread),
        "delivery redis commands": _delivery_commands([line for line in parent if line.kind == "redis"]),
        "job event rows": events,
        "api rows written": sum(row.role == "api" for row in rows),
        "worker rows written": sum(row.role == "worker" for row in rows),
    }
    seen = {
        "rows written": [f"{row.role} {row.op} {row.table}" for row in rows],
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
        for statement in ROW_COUNTER:
            platform.sql(statement)
        platform.api_url = platform._start_api_process("api", env)
        # One pool process: every job (and so every per-process warm-up) on the same one.
        worker = platform.start_worker(extra_env=env, concurrency=1)
        yield platform, probe, worker.pid


def _one_job(platform, client, broker: redis.Redis, *, keyed: bool = False) -> str:
    headers = {"Idempotency-Key": uuid.uuid4().hex} if keyed else {}
    response = client.post("/v1/jobs", json={"kind": "chat", "input": {"prompt": "hi"}}, headers=headers)
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


def _counted_jobs(
    platform, probe: Path, jobs: int, *, keyed: bool = False
) -> tuple[list[Line], list[Row], str]:
    """A new account's WARM_UP_JOBS jobs, then `jobs` more: what those sent, the rows they wrote,
    and the last one's id. `keyed`: each submitted with an Idempotency-Key of its own."""
    broker = redis.Redis.from_url(platform.redis.url)
    with register(platform.api_url) as client:
        for _ in range(WARM_UP_JOBS):
            _one_job(platform, client, broker, keyed=keyed)
        marks, row_mark = _read(probe), _row_mark(platform)
        for _ in range(jobs):
            job = _one_job(platform, client, broker, keyed=keyed)
        return _since(probe, marks), _rows_since(platform, probe, row_mark), job


def test_one_instant_job_costs_what_expected_says(counted) -> None:
    platform, probe, worker_pid = counted
    lines, rows, job = _counted_jobs(platform, probe, 1)
    events = platform.sql("SELECT count(*) FROM job_events WHERE job_id = %s", job)[0][0]
    costs, seen = _costs(lines, worker_pid, events, rows)
    report = "\n".join(f"  {part}:\n" + "\n".join(f"    {s}" for s in sent) for part, sent in seen.items())
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
    # A watcher that recorded the output before the job ended wrote the job row once more (the
    # output event is then its, not the finish's): the rows are exact once that is counted.
    expected = EXPECTED | {"worker rows written": EXPECTED["worker rows written"] + watcher["sql statements"]}
    assert costs == expected, f"one instant job now costs {costs}\nwhat was sent:\n{report}"


# The API's side of one instant job submitted with an Idempotency-Key (the worker's is the same as
# above). Until 2026-11-30 an ORM transaction: BEGIN, the key's lock, the lookup, the job, the
# owner's lock, the count, COMMIT.
EXPECTED_KEYED = {
    # 1 the key's lock (taken at once or not at all), 2 the owner's job with the key, if any, read
    # after the lock, 3 the job and its `queued` event, written only under the key's lock and if the
    # key names no job, with the owner's lock, 4 the hold, 5 the dispatch stamp (db/jobs.py
    # submit_keyed_job)
    "api sql statements": 5,
    # 1 to 4 sent together: one round trip, one implicit transaction (AsyncDirectTransaction)
    "api pipelines": 1,
    "api transaction round trips": 0,
    # the submit rate limit's window; the task onto the broker
    "api redis commands": 2,
    # the job, its `queued` event, the job again by the stamp
    "api rows written": 3,
}


def test_a_keyed_submit_costs_what_expected_keyed_says(counted) -> None:
    platform, probe, worker_pid = counted
    lines, rows, _ = _counted_jobs(platform, probe, 1, keyed=True)
    costs, seen = _costs(lines, worker_pid, 0, rows)
    api_costs = {name: costs[name] for name in EXPECTED_KEYED}
    report = "\n".join(f"    {s}" for s in seen["api"] + seen["rows written"])
    assert api_costs == EXPECTED_KEYED, f"a keyed submit now costs {api_costs}\nwhat was sent:\n{report}"


def test_no_job_opens_a_redis_connection_of_its_own(counted) -> None:
    """The greetings the counts above leave out stay what timing makes them: over three jobs after
    the warm-up, at most one new Redis connection in the API and the worker together (a pool grown
    by two threads at once), not one a job."""
    platform, probe, _ = counted
    lines, _, _ = _counted_jobs(platform, probe, 3)
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
    # the first job's finish, one transaction sent as one pipeline: 1 the finish with the owner's
    # advisory lock, 2 the owner's next held job released (its count and release in one statement:
    # the held jobs, the count and the release were three statements until 2026-11-30); then 3 the
    # released job stamped sent (one prebuilt statement in autocommit, db/dispatch_stamps.py); then
    # the released job: 4 its claim (autocommit), 5 its finish with the lock, 6 its release (none)
    "worker sql statements": 6,
    # each finish's two statements sent together (db/direct_statement.py DirectTransaction)
    "worker pipelines": 2,
    # none: each finish's transaction is its pipeline's (BEGIN and COMMIT of each until 2026-11-30)
    "worker transaction round trips": 0,
    # the first job's output and `succeeded` events and its end (3), the released job onto the
    # broker (LPUSH), the released job's `running`, output and `succeeded` events and its end (4)
    "worker redis commands": 8,
    # the first job's finish (the job, its output and `succeeded` events), the held job released
    # and then stamped sent (the job twice), the released job's claim (the job, `running`) and
    # finish (the job, output, `succeeded`)
    "worker rows written": 10,
}


def _release(
    platform, client, broker: redis.Redis, fake_ollama: FakeOllama, probe: Path, marker: str
) -> tuple[list[Line], list[Row]]:
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
    marks, row_mark = _read(probe), _row_mark(platform)
    released.set()
    for job in (first["id"], second["id"]):
        wait_until(
            lambda job=job: platform.sql("SELECT status FROM jobs WHERE id = %s", job)[0][0] == "succeeded",
            timeout=600,
            message="both jobs to succeed",
        )
    wait_until(lambda: broker.hlen("unacked") == 0, timeout=600, message="the deliveries' acks")
    return _since(probe, marks), _rows_since(platform, probe, row_mark)


def test_a_finish_that_releases_a_held_job_costs_what_expected_says(counted, fake_ollama: FakeOllama) -> None:
    platform, probe, worker_pid = counted
    broker = redis.Redis.from_url(platform.redis.url)
    with register(platform.api_url) as client:
        _release(
            platform, client, broker, fake_ollama, probe, "warm: the first of two"
        )  # kombu's first publish
        lines, rows = _release(platform, client, broker, fake_ollama, probe, "the first of two")
    job_threads = [
        line
        for line in lines
        if line.role == "worker" and line.pid != worker_pid and line.thread == "MainThread"
    ]
    costs = {
        "worker sql statements": sum(line.kind == "sql" for line in job_threads),
        "worker pipelines": sum(line.kind == "pipeline" for line in job_threads),
        "worker transaction round trips": _round_trips(job_threads),
        "worker redis commands": _redis_commands(job_threads),
        "worker rows written": sum(row.role == "worker" for row in rows),
    }
    # As above: each output a watcher recorded before its job ended wrote that job's row once more.
    watcher_sql = sum(
        line.kind == "sql"
        for line in lines
        if line.role == "worker" and line.pid != worker_pid and line.thread != "MainThread"
    )
    rows_expected = EXPECTED_RELEASE["worker rows written"] + watcher_sql
    expected = EXPECTED_RELEASE | {"worker rows written": rows_expected}
    report = "\n".join(f"    {line.pid} {line.kind} {line.text[:100]}" for line in job_threads)
    report += "\n" + "\n".join(f"    {row.role} {row.op} {row.table}" for row in rows)
    assert costs == expected, f"the two jobs now cost {costs}\nwhat was sent:\n{report}"
