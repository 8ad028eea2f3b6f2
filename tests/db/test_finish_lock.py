"""A finish that sends its owner's next held job takes the owner's admission lock in its own
statement (db/jobs.py finish_job `lock_owner`, db/admission.py): fair admission's guarantee (a
submit's count and a finish's release never miss each other) rests on that lock being really taken,
before the owner's held jobs are read, and held to the transaction's end. On the real PostgreSQL,
with the lock held by another transaction as a submit's would be.

The API's submit is the other side (db/jobs.py `_submit_admitted`): its count must come after the
lock, so that a finish that committed while the submit waited is counted as ended. A worker's quiet
finish sends its release with it (db/jobs.py `finish_and_release`): that release, too, must read
after the lock, so that it sees a job a submit held while the finish waited."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from core.settings import get_settings
from db import admission
from db.direct_statement import AsyncDirectTransaction, DirectTransaction
from db.jobs import Claim, finish_and_release, finish_job, submit_job_within_quota, submit_keyed_job
from db.models import Job
from db.session import async_engine, sync_engine, sync_session_factory
from db.unit_of_work import outbox, unit_of_work
from tasks.chat.spec import SPEC as CHAT
from tests.support.stack import Stack, wait_until


@pytest.fixture
def running_job(on_the_stack: Stack) -> Iterator[tuple[uuid.UUID, uuid.UUID]]:
    """A user's chat job, running under its first attempt's claim: (job id, owner id)."""
    user_id, job_id = uuid.uuid4(), uuid.uuid4()
    url = on_the_stack.database_url.replace("+psycopg", "")
    with psycopg.connect(url) as db:
        db.execute(
            "INSERT INTO users (id, email, hashed_password, is_active, is_superuser, is_verified) "
            "VALUES (%s, %s, 'x', true, false, true)",
            (user_id, f"finish-lock-{user_id.hex[:12]}@example.com"),
        )
        db.execute(
            "INSERT INTO jobs (id, kind, owner_id, status, input, attempts, max_attempts, queue, priority, "
            "held, started_at) VALUES (%s, 'chat', %s, 'running', '{}', 1, 3, 'llm', 0, false, now())",
            (job_id, user_id),
        )
    yield job_id, user_id
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("DELETE FROM users WHERE id = %s", (user_id,))


def _holding_the_owners_lock(stack: Stack, owner_id: uuid.UUID) -> psycopg.Connection:
    """Another transaction holding the owner's admission lock, as a submit's holds it while it counts."""
    other = psycopg.connect(stack.database_url.replace("+psycopg", ""))
    other.execute("SELECT pg_advisory_xact_lock(hashtextextended(CAST(%s AS text), 7))", (str(owner_id),))
    return other


def _waiting_on_an_advisory_lock(stack: Stack, backend: int) -> bool:
    """Whether that backend's statement waits for an advisory lock (pg_stat_activity's text of a
    statement is cut at 1 kB: the finish's lock comes after that, so the wait itself is read)."""
    return bool(
        stack.sql(
            "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock' "
            "AND wait_event = 'advisory'",
            backend,
        )
    )


def test_the_finish_waits_for_the_owners_lock_and_notes_it_taken(
    running_job: tuple[uuid.UUID, uuid.UUID], on_the_stack: Stack
) -> None:
    job_id, owner_id = running_job
    other = _holding_the_owners_lock(on_the_stack, owner_id)
    seen: dict[str, object] = {}

    def finish() -> None:
        with unit_of_work() as session:
            seen["backend"] = session.connection().connection.dbapi_connection.info.backend_pid
            job = finish_job(session, job_id=job_id, output={}, claim=Claim(1, None), lock_owner=True)
            seen["job"], seen["noted"] = job, session.info.get(admission.OWNER_LOCKED)
            # What release_held reads: the lock is taken, so it sends no lock of its own.
            admission.release_held(session, owner_id=owner_id, route_of=lambda *_: None)
            seen["left"] = session.info.get(admission.OWNER_LOCKED)

    finisher = threading.Thread(target=finish)
    try:
        finisher.start()
        # The finishing statement itself waits on the lock the other transaction holds.
        wait_until(lambda: "backend" in seen, timeout=60, message="the finish to start")
        wait_until(
            lambda: _waiting_on_an_advisory_lock(on_the_stack, seen["backend"]),
            timeout=60,
            message="the finishing statement to wait for the owner's lock",
        )
        assert "job" not in seen
        other.commit()  # the submit's transaction ends: its lock goes
        finisher.join(60)
    finally:
        other.close()
    assert not finisher.is_alive()
    assert seen["job"] is not None and seen["job"].status == "succeeded"
    assert seen["noted"] == owner_id and seen["left"] is None  # noted once, for this transaction


def test_a_finish_that_moves_nothing_takes_no_lock(
    running_job: tuple[uuid.UUID, uuid.UUID], on_the_stack: Stack
) -> None:
    """Another delivery's claim (attempt 2) finishes nothing: no row, so no lock and nothing noted,
    and release_held takes the lock itself if it is called."""
    job_id, owner_id = running_job
    other = _holding_the_owners_lock(on_the_stack, owner_id)
    seen: dict[str, object] = {}

    def finish() -> None:
        with unit_of_work() as session:
            seen["job"] = finish_job(session, job_id=job_id, output={}, claim=Claim(2, None), lock_owner=True)
            seen["noted"] = session.info.get(admission.OWNER_LOCKED)

    finisher = threading.Thread(target=finish)
    try:
        finisher.start()
        finisher.join(60)  # it would wait for `other` for as long as `other` lived, had it locked
        assert not finisher.is_alive()
    finally:
        other.close()
    assert seen == {"job": None, "noted": None}
    [(status,)] = on_the_stack.sql("SELECT status FROM jobs WHERE id = %s", job_id)
    assert status == "running"


def test_the_note_of_a_taken_lock_ends_with_its_transaction(running_job: tuple[uuid.UUID, uuid.UUID]) -> None:
    """The lock is the transaction's: once it rolls back (or commits), a session that goes on has
    no note, and release_held in it would lock again."""
    job_id, owner_id = running_job
    with sync_session_factory()() as session:
        job = finish_job(session, job_id=job_id, output={}, claim=Claim(1, None), lock_owner=True)
        assert job is not None
        assert session.info.get(admission.OWNER_LOCKED) == owner_id
        session.rollback()
        assert admission.OWNER_LOCKED not in session.info


def _running_in_the_lane(stack: Stack, owner_id: uuid.UUID, count: int) -> list[uuid.UUID]:
    """`count` more of the owner's chat jobs running in the LLM lane."""
    ids = [uuid.uuid4() for _ in range(count)]
    for job_id in ids:
        stack.sql(
            "INSERT INTO jobs (id, kind, owner_id, status, input, attempts, max_attempts, queue, priority, "
            "held, started_at) VALUES (%s, 'chat', %s, 'running', '{}', 1, 3, 'llm', 0, false, now())",
            job_id,
            owner_id,
        )
    return ids


def _submit(owner_id: uuid.UUID, seen: dict[str, object], key: str | None = None) -> None:
    """The API's submit of a chat job, as api/jobs/service.py sends it (its outbox kept, not sent);
    with `key`, as it sends one with an Idempotency-Key (`seen["keyed"]`: what it found)."""

    async def run() -> None:
        try:
            transaction = AsyncDirectTransaction(async_engine())
            submitted = {"input": {"prompt": "next"}, "owner_id": owner_id, "cap": None}
            if key is None:
                seen["job"] = await submit_job_within_quota(transaction, CHAT, **submitted)
            else:
                keyed = await submit_keyed_job(
                    transaction, CHAT, key_lock=f"{owner_id}:{key}", idempotency_key=key, **submitted
                )
                seen["keyed"], seen["job"] = keyed, keyed.job
            seen["dispatches"] = outbox(transaction).dispatches
        finally:
            await async_engine().dispose()  # its connections belong to this event loop

    asyncio.run(run())


def _waiting_on_the_lock_beside(stack: Stack, other: psycopg.Connection) -> bool:
    return bool(
        stack.sql(
            "SELECT 1 FROM pg_stat_activity WHERE pid <> %s AND wait_event_type = 'Lock' "
            "AND wait_event = 'advisory' AND datname = current_database()",
            other.info.backend_pid,
        )
    )


def _waits_for_the_lock_then_runs(
    stack: Stack, holder: psycopg.Connection, waiter: threading.Thread, seen: dict[str, object]
) -> None:
    """Start `waiter`, see its statement wait for the owner's lock `holder` holds, commit `holder`,
    and see `waiter` end."""
    try:
        waiter.start()
        wait_until(
            lambda: _waiting_on_the_lock_beside(stack, holder),
            timeout=60,
            message="the statement to wait for the owner's lock",
        )
        assert "job" not in seen
        holder.commit()
        waiter.join(60)
    finally:
        holder.close()
    assert not waiter.is_alive()


def test_a_submit_counts_the_lane_after_the_owners_lock(
    running_job: tuple[uuid.UUID, uuid.UUID], on_the_stack: Stack
) -> None:
    """The owner's slots are full, and a finish of one of them holds the lock, uncommitted. The
    submit waits for the lock; the finish commits (it saw no held job to send). The submit must then
    count the slot as free and send its job: a count taken before the lock would hold the job, and
    no finish would be left to send it."""
    job_id, owner_id = running_job
    _running_in_the_lane(on_the_stack, owner_id, get_settings().llm_slots_per_user - 1)
    finish = psycopg.connect(on_the_stack.database_url.replace("+psycopg", ""))
    finish.execute("UPDATE jobs SET status = 'succeeded', completed_at = now() WHERE id = %s", (job_id,))
    finish.execute("SELECT pg_advisory_xact_lock(hashtextextended(CAST(%s AS text), 7))", (str(owner_id),))
    seen: dict[str, object] = {}
    _waits_for_the_lock_then_runs(
        on_the_stack, finish, threading.Thread(target=_submit, args=(owner_id, seen)), seen
    )
    job = seen["job"]
    assert isinstance(job, Job) and not job.held
    [(held,)] = on_the_stack.sql("SELECT held FROM jobs WHERE id = %s", job.id)
    assert held is False
    assert [d.job_id for d in seen["dispatches"]] == [job.id]  # type: ignore[attr-defined]
    assert seen["dispatches"][0].admit_owner is None  # type: ignore[index]  # admitted already


def test_a_submit_past_the_owners_slots_is_held_and_one_within_them_is_sent(
    running_job: tuple[uuid.UUID, uuid.UUID], on_the_stack: Stack
) -> None:
    _, owner_id = running_job
    slots = get_settings().llm_slots_per_user
    assert slots >= 2, "the test stack's default is MENTORQ_LLM_PARALLEL's 4 slots a user"
    _running_in_the_lane(on_the_stack, owner_id, slots - 2)  # one slot left
    first: dict[str, object] = {}
    _submit(owner_id, first)
    second: dict[str, object] = {}
    _submit(owner_id, second)
    sent, held = first["job"], second["job"]
    assert isinstance(sent, Job) and isinstance(held, Job)
    assert not sent.held and [d.job_id for d in first["dispatches"]] == [sent.id]  # type: ignore[attr-defined]
    assert held.held and held.progress == admission.HELD_PROGRESS and second["dispatches"] == []
    rows = on_the_stack.sql("SELECT id, held FROM jobs WHERE id IN (%s, %s)", sent.id, held.id)
    assert dict(rows) == {sent.id: False, held.id: True}
    # Each submit wrote its job's `queued` event in the same statement.
    events = on_the_stack.sql(
        "SELECT count(*) FROM job_events WHERE type = 'queued' AND job_id IN (%s, %s)", sent.id, held.id
    )
    assert events == [(2,)]


def test_a_keyed_submit_is_held_past_the_owners_slots_and_its_replay_finds_the_held_job(
    running_job: tuple[uuid.UUID, uuid.UUID], on_the_stack: Stack
) -> None:
    """A submit with an Idempotency-Key (db/jobs.py `submit_keyed_job`: the key's lock, the key's
    job, the job, the hold, in one transaction) is admitted as a plain one is; the same key again
    writes nothing and finds the job the key names, held as it was."""
    _, owner_id = running_job
    _running_in_the_lane(on_the_stack, owner_id, get_settings().llm_slots_per_user - 2)  # one slot left
    first: dict[str, object] = {}
    _submit(owner_id, first, key="first")
    second: dict[str, object] = {}
    _submit(owner_id, second, key="second")
    sent, held = first["job"], second["job"]
    assert isinstance(sent, Job) and isinstance(held, Job)
    assert not sent.held and [d.job_id for d in first["dispatches"]] == [sent.id]  # type: ignore[attr-defined]
    assert held.held and second["dispatches"] == []
    again: dict[str, object] = {}
    _submit(owner_id, again, key="second")
    keyed = again["keyed"]
    assert keyed.existing is not None and keyed.existing.id == held.id and keyed.existing.held  # type: ignore[attr-defined]
    assert again["job"] is None and again["dispatches"] == []
    keys = on_the_stack.sql(
        "SELECT idempotency_key, count(*) FROM jobs WHERE owner_id = %s AND idempotency_key IS NOT NULL "
        "GROUP BY idempotency_key",
        owner_id,
    )
    assert dict(keys) == {"first": 1, "second": 1}


def test_a_keyed_submit_while_another_holds_the_key_writes_nothing(
    running_job: tuple[uuid.UUID, uuid.UUID], on_the_stack: Stack
) -> None:
    """Another request with the key is in flight (its transaction holds the key's lock): every
    statement of the pipeline sees it, so nothing is written and the key stays free."""
    _, owner_id = running_job
    with psycopg.connect(on_the_stack.database_url.replace("+psycopg", "")) as other:
        other.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{owner_id}:busy",))
        seen: dict[str, object] = {}
        _submit(owner_id, seen, key="busy")
    keyed = seen["keyed"]
    assert keyed.in_flight and keyed.existing is None and keyed.job is None  # type: ignore[attr-defined]
    assert seen["dispatches"] == []
    assert on_the_stack.sql(
        "SELECT count(*) FROM jobs WHERE idempotency_key = 'busy' AND owner_id = %s", owner_id
    ) == [(0,)]


def _held_job(db: psycopg.Connection, owner_id: uuid.UUID) -> uuid.UUID:
    """A chat job its submit held past the owner's slots (written on `db`, not committed)."""
    job_id = uuid.uuid4()
    db.execute(
        "INSERT INTO jobs (id, kind, owner_id, status, input, attempts, max_attempts, queue, priority, held) "
        "VALUES (%s, 'chat', %s, 'queued', '{}', 0, 3, 'llm', 0, true)",
        (job_id, owner_id),
    )
    return job_id


def _finish_and_release(
    job_id: uuid.UUID, owner_id: uuid.UUID, attempt: int, seen: dict[str, object]
) -> None:
    """A worker's quiet finish in a capped lane, as workers/runtime.py sends it (its outbox kept)."""
    transaction = DirectTransaction(sync_engine())
    seen["job"] = finish_and_release(
        transaction,
        job_id=job_id,
        output={},
        claim=Claim(attempt, None),
        owner_id=owner_id,
        route_of=lambda *_: None,
    )
    seen["dispatches"] = [d.job_id for d in outbox(transaction).dispatches]


def test_a_finish_releases_the_job_a_submit_held_while_it_waited_for_the_lock(
    running_job: tuple[uuid.UUID, uuid.UUID], on_the_stack: Stack
) -> None:
    """The owner's slots are full, and a submit holds the owner's lock with a job it held,
    uncommitted. The finish of one of the running jobs waits for the lock; the submit commits. The
    finish's release, the next statement, must see the held job and send it: a release that read
    before the lock would leave it held with no finish left to send it."""
    job_id, owner_id = running_job
    _running_in_the_lane(on_the_stack, owner_id, get_settings().llm_slots_per_user - 1)
    submit = psycopg.connect(on_the_stack.database_url.replace("+psycopg", ""))
    held = _held_job(submit, owner_id)
    submit.execute("SELECT pg_advisory_xact_lock(hashtextextended(CAST(%s AS text), 7))", (str(owner_id),))
    seen: dict[str, object] = {}
    finisher = threading.Thread(target=_finish_and_release, args=(job_id, owner_id, 1, seen))
    _waits_for_the_lock_then_runs(on_the_stack, submit, finisher, seen)
    assert isinstance(seen["job"], tuple) and seen["job"].status == "succeeded"  # type: ignore[attr-defined]
    assert seen["dispatches"] == [held]
    assert on_the_stack.sql("SELECT held FROM jobs WHERE id = %s", held) == [(False,)]


def test_a_finish_that_moves_nothing_releases_nothing(
    running_job: tuple[uuid.UUID, uuid.UUID], on_the_stack: Stack
) -> None:
    """Another delivery's claim (attempt 2) finishes nothing, and so takes no lock: its release lets
    nothing go even where the owner has room (workers/runtime.py then releases after locking). The
    owner's lock is held meanwhile, as a submit would, so that the stack's reconciler (which
    releases held jobs of users with room, under that lock) cannot release the job first."""
    job_id, owner_id = running_job
    url = on_the_stack.database_url.replace("+psycopg", "")
    with psycopg.connect(url) as db:
        held = _held_job(db, owner_id)
    other = _holding_the_owners_lock(on_the_stack, owner_id)
    seen: dict[str, object] = {}
    finisher = threading.Thread(target=_finish_and_release, args=(job_id, owner_id, 2, seen))
    try:
        finisher.start()
        finisher.join(60)  # it would wait for `other` for as long as `other` lived, had it locked
        assert not finisher.is_alive()
        assert on_the_stack.sql("SELECT held FROM jobs WHERE id = %s", held) == [(True,)]
    finally:
        other.close()
    assert seen == {"job": None, "dispatches": []}
    [(status,)] = on_the_stack.sql("SELECT status FROM jobs WHERE id = %s", job_id)
    assert status == "running"
