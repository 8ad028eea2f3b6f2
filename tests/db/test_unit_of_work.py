"""The unit of work on the real database and Redis: a commit sends what it recorded, a rollback
drops it, and a plain commit that would leave something unsent is refused."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from types import NoneType

import psycopg
import pytest
import redis
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from core.channels import job_channel, job_end_channel
from db import jobs as job_queries
from db.direct_statement import AsyncDirectTransaction
from db.job_resource import apply_ending_state, job_resource
from db.models import Job
from db.session import async_engine, async_session_factory, sync_session_factory
from db.system import ensure_system_user
from db.unit_of_work import UnpublishedCommit, async_one_statement, one_statement, outbox, unit_of_work
from tasks.debug_sleep.spec import SPEC as SLEEP
from tests.support.stack import Stack, wait_until


def queued_job(stack: Stack) -> uuid.UUID:
    """A queued job row made with SQL (so no message is sent for it)."""
    job_id = uuid.uuid4()
    with sync_session_factory()() as session:
        owner = ensure_system_user(session)
        session.commit()
    stack.sql(
        "INSERT INTO jobs (id, kind, owner_id, status, input, attempts, max_attempts, queue, priority) "
        "VALUES (%s, 'debug.sleep', %s, 'queued', '{}', 0, 2, 'cpu', 0)",
        job_id,
        owner,
    )
    return job_id


def test_a_plain_commit_that_would_leave_messages_unsent_is_refused(on_the_stack: Stack) -> None:
    with sync_session_factory()() as session:
        owner = ensure_system_user(session)
        job = job_queries.create_job(session, SLEEP, input={}, owner_id=owner)
        with pytest.raises(UnpublishedCommit):
            session.commit()
        session.rollback()
        assert not outbox(session)
    assert on_the_stack.sql("SELECT count(*) FROM jobs WHERE id = %s", job.id) == [(0,)]


def test_a_rollback_drops_what_the_transaction_would_have_sent(on_the_stack: Stack) -> None:
    with sync_session_factory()() as session:
        owner = ensure_system_user(session)
        job_queries.create_job(session, SLEEP, input={}, owner_id=owner)
        assert outbox(session).dispatches
        session.rollback()
        assert not outbox(session)
        session.commit()  # nothing left to send: allowed


def test_commit_publishes_the_transaction_s_events_after_the_rows_are_committed(on_the_stack: Stack) -> None:
    job_id = queued_job(on_the_stack)
    client = redis.Redis.from_url(on_the_stack.env["REDIS_URL"])
    listener = client.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(job_channel(job_id))
    end_listener = client.pubsub(ignore_subscribe_messages=True)
    end_listener.subscribe(job_end_channel(job_id))
    try:
        with unit_of_work() as session:
            assert (
                job_queries.claim_job(session, job_id=job_id, worker="test@host", time_limit_s=30) is not None
            )
            assert listener.get_message(timeout=0.2) is None  # nothing goes out before the commit
            job_queries.fail_job(session, job_id=job_id, code="test_failure", message="ended by the test")
        messages = [listener.get_message(timeout=2) for _ in range(2)]
        end_messages = [end_listener.get_message(timeout=1) for _ in range(2)]
    finally:
        listener.close()
        end_listener.close()
    events = [json.loads(message["data"]) for message in messages if message]
    assert [event["type"] for event in events] == ["started", "failed"]
    assert all(isinstance(event["id"], int) for event in events)  # the committed rows' ids
    # A request waiting for the job hears only how it ended: the same message, with the job's state
    # as it ended, which gives the waiter what reading the row again would.
    ending = [json.loads(message["data"]) for message in end_messages if message]
    assert [{k: v for k, v in message.items() if k != "state"} for message in ending] == events[1:]
    with sync_session_factory()() as session:
        row = session.execute(select(Job).where(Job.id == job_id)).scalar_one()
        assert row.status == "failed"
        answered = Job(
            id=row.id, kind=row.kind, input=row.input, created_at=row.created_at, session_id=row.session_id
        )
        assert apply_ending_state(answered, ending[0]["state"])
        assert job_resource(answered) == job_resource(row)
    assert not apply_ending_state(Job(id=job_id), {"status": "failed"})  # an older worker's message
    # Each transition wrote its event in the same statement: the rows hold what was published.
    recorded = on_the_stack.sql("SELECT id, type, data FROM job_events WHERE job_id = %s ORDER BY id", job_id)
    assert [(row[0], row[1], row[2]) for row in recorded] == [
        (events[0]["id"], "started", {"attempt": 1, "worker": "test@host"}),
        (events[1]["id"], "failed", {"code": "test_failure", "message": "ended by the test"}),
    ]
    assert events[0]["data"] == {"attempt": 1, "worker": "test@host"}


def test_a_transition_that_loses_writes_no_event(on_the_stack: Stack) -> None:
    """The event is inserted from the row the UPDATE returned: no row, no event, and None back."""
    job_id = queued_job(on_the_stack)
    with unit_of_work() as session:
        assert job_queries.finish_job(session, job_id=job_id, output={}) is None  # queued, not running
        assert job_queries.claim_job(session, job_id=job_id, worker="a@host", time_limit_s=30) is not None
        assert job_queries.claim_job(session, job_id=job_id, worker="b@host", time_limit_s=30) is None
        finished = job_queries.finish_job(session, job_id=job_id, output={"answer": 42})
        assert finished is not None and finished.status == "succeeded" and finished.output == {"answer": 42}
    assert on_the_stack.sql("SELECT type, data FROM job_events WHERE job_id = %s ORDER BY id", job_id) == [
        ("started", {"attempt": 1, "worker": "a@host"}),
        ("succeeded", None),
    ]


def test_storing_chunks_never_deadlocks_with_a_delete_of_the_document(on_the_stack: Stack) -> None:
    """The ingest's chunk transaction against DELETE /v1/documents/{id} arriving in the middle of it:
    the delete waits and then goes through; neither side is rolled back as a deadlock victim."""
    import threading

    from sqlalchemy import event

    from db import documents

    owner = uuid.uuid4()
    document_id, collection_id = uuid.uuid4(), uuid.uuid4()
    on_the_stack.sql(
        "INSERT INTO users (id, email, hashed_password, is_active, is_superuser, is_verified) "
        "VALUES (%s, %s, '!', true, false, true)",
        owner,
        f"{owner}@example.com",
    )
    on_the_stack.sql(
        "INSERT INTO collections (id, name, owner_id) VALUES (%s, 'c', %s)", collection_id, owner
    )
    on_the_stack.sql(
        "INSERT INTO documents (id, collection_id, owner_id, source_key, status, chunk_count, "
        "active_generation, tags, metadata) VALUES (%s, %s, %s, 'k', 'processing', 0, 0, '[]', '{}')",
        document_id, collection_id, owner,
    )  # fmt: skip
    deleter_errors: list[BaseException] = []

    def delete_the_document() -> None:
        try:
            on_the_stack.sql("DELETE FROM documents WHERE id = %s", document_id)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            deleter_errors.append(error)

    deleter = threading.Thread(target=delete_the_document)
    rows = [
        {"position": i, "text": f"chunk {i}", "heading_path": [], "start_s": None, "end_s": None,
         "page": None, "token_count": 2}
        for i in range(3)
    ]  # fmt: skip
    with sync_session_factory()() as session:

        def after_first_statement(*_: object) -> None:  # the DELETE arrives between the two statements
            if not deleter.is_alive() and deleter.ident is None:
                deleter.start()
                time.sleep(0.5)

        event.listen(session.connection(), "after_cursor_execute", after_first_statement)
        documents.store_pending_generation(
            session, document_id=document_id, generation=1, rows=rows, title="t"
        )
        session.commit()
    deleter.join(timeout=30)
    assert deleter_errors == []
    assert on_the_stack.sql("SELECT count(*) FROM documents WHERE id = %s", document_id) == [(0,)]
    assert on_the_stack.sql("SELECT count(*) FROM chunks WHERE document_id = %s", document_id) == [(0,)]


@pytest.mark.parametrize(
    ("webhook_url", "events", "quiet"),
    [
        (None, None, True),
        ("https://receiver.example/hook", None, True),  # completed only, the default
        ("https://receiver.example/hook", ["completed", "progress"], True),
        ("https://receiver.example/hook", ["start", "completed"], False),
    ],
)
def test_a_claim_with_nothing_else_to_write_is_one_autocommit_statement(
    on_the_stack: Stack, webhook_url: str | None, events: list[str] | None, quiet: bool
) -> None:
    job_id = queued_job(on_the_stack)
    on_the_stack.sql(
        "UPDATE jobs SET webhook_url = %s, webhook_events = %s::jsonb WHERE id = %s",
        webhook_url,
        json.dumps(events) if events is not None else None,
        job_id,
    )
    claim = {"job_id": job_id, "worker": "w", "time_limit_s": 60}
    with one_statement() as session:
        job = job_queries.claim_job(session, unless_start_webhook=True, **claim)
        # Autocommit: another connection sees the claim before the block ends.
        seen = on_the_stack.sql("SELECT status FROM jobs WHERE id = %s", job_id)
    assert (job is not None) is quiet and seen == [("running",) if quiet else ("queued",)]
    if not quiet:  # a start webhook is written with the claim, in a transaction
        with unit_of_work() as session:
            assert job_queries.claim_job(session, **claim) is not None
        deliveries = on_the_stack.sql("SELECT event_type FROM webhook_deliveries WHERE job_id = %s", job_id)
        assert deliveries == [("job.started",)]
    events_written = on_the_stack.sql("SELECT type FROM job_events WHERE job_id = %s", job_id)
    assert events_written == [("started",)]


def test_an_api_submit_that_locks_nothing_is_one_autocommit_statement_then_sent(on_the_stack: Stack) -> None:
    """The API's submit without an Idempotency-Key, in a lane that holds nothing (api/jobs/service.py):
    the job, its `queued` event and the quota's count are one statement, visible to another
    connection before its block ends (no BEGIN and COMMIT), and its message goes after it."""
    with sync_session_factory()() as session:
        owner = ensure_system_user(session)
        session.commit()

    async def submit() -> tuple[uuid.UUID, list[tuple[str]]]:
        try:
            async with async_one_statement() as session:
                job = await job_queries.submit_job_within_quota(
                    session, SLEEP, input={}, owner_id=owner, cap=None
                )
                assert job is not None
                seen = on_the_stack.sql("SELECT status FROM jobs WHERE id = %s", job.id)
            return job.id, seen
        finally:
            await async_engine().dispose()  # its connections belong to this event loop

    job_id, seen = asyncio.run(submit())
    assert seen == [("queued",)]
    events = on_the_stack.sql("SELECT type FROM job_events WHERE job_id = %s ORDER BY id", job_id)
    assert events[0] == ("queued",)  # a worker may have begun it already: its events come after
    # Sent after the statement: a worker of the stack runs it.
    wait_until(
        lambda: on_the_stack.sql("SELECT status FROM jobs WHERE id = %s", job_id) == [("succeeded",)],
        timeout=60,
        message="the submitted job to run",
    )


def test_a_statement_run_straight_on_the_driver_returns_what_a_session_returns(on_the_stack: Stack) -> None:
    """db/direct_statement.py: the same claim and finish, one job through `one_statement` (psycopg
    directly), the other through a session, give the same columns with the same Python types and
    values (the owner's id as a UUID, JSON as Python objects), and the same events to publish."""
    ends = {}
    for way, job_id in (("direct", queued_job(on_the_stack)), ("session", queued_job(on_the_stack))):
        claim = {"job_id": job_id, "worker": "w", "time_limit_s": 60}
        finish = {"job_id": job_id, "output": {"text": "hi", "n": [1, 2]}, "answered_by": ("ollama", "m")}
        opened = one_statement if way == "direct" else unit_of_work
        with opened() as session:
            claimed = job_queries.claim_job(session, unless_start_webhook=True, **claim)
            published = [(event.type, type(event.data)) for event, _ in outbox(session).events]
        with opened() as session:
            finished = job_queries.finish_job(
                session, streamed="hi", claim=job_queries.Claim(1, None), **finish
            )
            published += [(event.type, type(event.data)) for event, _ in outbox(session).events]
        ends[way] = (claimed, finished, published)
    differ = {"id", "created_at", "started_at", "heartbeat_at", "deadline_at", "completed_at", "updated_at"}
    for direct, through_session in zip(ends["direct"][:2], ends["session"][:2], strict=True):
        assert direct is not None and through_session is not None
        for column in direct._fields:
            mine, theirs = getattr(direct, column), getattr(through_session, column)
            assert type(mine) is type(theirs), column
            assert column in differ or mine == theirs, column
    assert (
        ends["direct"][2]
        == ends["session"][2]
        == [("started", dict), ("output", dict), ("succeeded", NoneType)]
    )


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1, 'two'", (1, "two")),
        ("SELECT 1 WHERE false", None),  # a result with columns and no row
        ("UPDATE jobs SET priority = priority WHERE false", None),  # no result with columns
    ],
)
def test_one_statement_returns_its_row_or_none_whether_or_not_it_returns_rows(
    on_the_stack: Stack, sql: str, expected: tuple | None
) -> None:
    with one_statement() as session:
        row = session.execute(text(sql)).one_or_none()
    assert (tuple(row) if row is not None else None) == expected

    async def run() -> tuple | None:
        try:
            async with async_one_statement() as statement:
                found = (await statement.execute(text(sql))).one_or_none()
            return tuple(found) if found is not None else None
        finally:
            await async_engine().dispose()  # its connections belong to this event loop

    assert asyncio.run(run()) == expected


def test_statements_sent_together_are_one_transaction(on_the_stack: Stack) -> None:
    """AsyncDirectTransaction (db/direct_statement.py): a lock the first statement takes is held
    while the second runs and let go at the end; a failing statement rolls back the ones before it,
    and the connection goes back to the pool out of autocommit. (That the second sees what the first
    wrote, tests/db/test_finish_lock.py shows: the hold finds the job the submit wrote.)"""
    key = 0x6D656E74  # an advisory lock no other code takes (under 2**31: pg_locks shows it in objid)
    lock = text("SELECT pg_advisory_xact_lock(:key)")
    held_here = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
        "AND objid = :key AND granted"
    )
    job_id = uuid.uuid4()
    with sync_session_factory()() as session:
        owner = ensure_system_user(session)
        session.commit()
    insert = text(
        "INSERT INTO jobs (id, kind, owner_id, status, input, attempts, max_attempts, queue, priority) "
        "VALUES (:id, 'debug.sleep', :owner, 'queued', '{}', 0, 2, 'cpu', 0) RETURNING id"
    )
    seen_written = text("SELECT count(*) FROM jobs WHERE id = :id")
    rolled_back = uuid.uuid4()

    async def run() -> tuple[list, Exception, list]:
        try:
            together = await AsyncDirectTransaction(async_engine()).execute_all(
                [(lock, {"key": key}), (held_here, {"key": key})]
            )
            failing = AsyncDirectTransaction(async_engine())
            with pytest.raises(DBAPIError) as failed:
                await failing.execute_all(
                    [
                        (insert, {"id": job_id, "owner": owner}),
                        (seen_written, {"id": job_id}),
                        (text("SELECT 1 / 0"), {}),
                    ]
                )
            # The failed one's connection is out of autocommit again: a session's rollback undoes.
            async with async_session_factory()() as session:
                await session.execute(insert, {"id": rolled_back, "owner": owner})
                await session.rollback()
            after = await AsyncDirectTransaction(async_engine()).execute_all(
                [(held_here, {"key": key}), (seen_written, {"id": job_id})]
            )
            return together, failed.value, after
        finally:
            await async_engine().dispose()  # its connections belong to this event loop

    together, failure, after = asyncio.run(run())
    assert together[1] == [(1,)]  # held by the statement after the one that took it
    assert "division by zero" in str(failure)
    assert after == [[(0,)], [(0,)]]  # the lock let go; the insert rolled back with the failed statement
    assert on_the_stack.sql("SELECT count(*) FROM jobs WHERE id IN (%s, %s)", job_id, rolled_back) == [(0,)]


def test_statements_cut_off_while_they_wait_leave_no_connection_in_autocommit(on_the_stack: Stack) -> None:
    """A request cancelled while its statements wait (here for a lock another transaction holds)
    must not give the pool back a connection still in autocommit, or half way through a pipeline:
    the next session on the pool would then commit each statement as it ran. The next transaction
    here writes a job and rolls back: the job must not be there."""
    key = 0x6D656E75
    blocker = psycopg.connect(on_the_stack.database_url.replace("+psycopg", ""))
    blocker.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
    with sync_session_factory()() as session:
        owner = ensure_system_user(session)
        session.commit()
    rolled_back = uuid.uuid4()
    insert = text(
        "INSERT INTO jobs (id, kind, owner_id, status, input, attempts, max_attempts, queue, priority) "
        "VALUES (:id, 'debug.sleep', :owner, 'queued', '{}', 0, 2, 'cpu', 0)"
    )

    def waiting_for_the_lock() -> bool:
        return bool(
            on_the_stack.sql(
                "SELECT 1 FROM pg_stat_activity WHERE pid <> %s AND wait_event_type = 'Lock' "
                "AND wait_event = 'advisory' AND datname = current_database()",
                blocker.info.backend_pid,
            )
        )

    async def run() -> None:
        try:
            statements = AsyncDirectTransaction(async_engine()).execute_all(
                [(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key}), (text("SELECT 1"), {})]
            )
            task = asyncio.create_task(statements)
            await asyncio.to_thread(
                wait_until, waiting_for_the_lock, timeout=60, message="the statements to wait for the lock"
            )
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            blocker.commit()
            async with async_session_factory()() as session:
                await session.execute(insert, {"id": rolled_back, "owner": owner})
                await session.rollback()
        finally:
            await async_engine().dispose()  # its connections belong to this event loop

    try:
        asyncio.run(run())
    finally:
        blocker.close()
    assert on_the_stack.sql("SELECT count(*) FROM jobs WHERE id = %s", rolled_back) == [(0,)]
