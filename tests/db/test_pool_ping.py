"""The worker's connection pool pings only a connection that sat idle (db.session.ping_after_idle),
on the real PostgreSQL: a connection the server ended while it sat is replaced unseen; one ended
a moment after its last use fails one statement, after which the pool has new ones; and a claim
that meets such a connection claims on a fresh one, even when every pooled connection is dead (the
claim runs straight on the driver, db/direct_statement.py, and must drop them all as the engine
would)."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from db.direct_statement import (
    AsyncDirectStatement,
    AsyncDirectTransaction,
    DirectStatement,
    DirectTransaction,
)
from db.session import async_engine, ping_after_idle, sqlalchemy_url, sync_engine
from db.unit_of_work import one_statement
from tests.db.test_unit_of_work import queued_job
from tests.support.stack import Stack
from workers import runtime

IDLE_S = 0.3


@pytest.fixture
def engine(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Engine, list[int]]]:
    """An engine with the idle ping, and the list of pings it made."""
    engine = create_engine(sqlalchemy_url(stack.database_url), pool_size=1, max_overflow=0)
    ping_after_idle(engine, IDLE_S)
    pings: list[int] = []
    real_ping = engine.dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        pings.append(1)
        return real_ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    yield engine, pings
    engine.dispose()


def backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def end_backend(stack: Stack, pid: int) -> None:
    assert stack.sql("SELECT pg_terminate_backend(%s)", pid) == [(True,)]
    # pg_terminate_backend only signals: wait until the backend is gone.
    deadline = time.monotonic() + 5
    while stack.sql("SELECT 1 FROM pg_stat_activity WHERE pid = %s", pid) and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_connection_used_a_moment_ago_is_not_pinged(engine: tuple[Engine, list[int]]) -> None:
    pool, pings = engine
    first = backend_pid(pool)
    assert [backend_pid(pool) for _ in range(20)] == [first] * 20
    assert pings == []
    time.sleep(IDLE_S * 1.5)
    assert backend_pid(pool) == first
    assert pings == [1]  # idle long enough: pinged once, and alive


def test_a_connection_the_server_ended_while_it_sat_idle_is_replaced_unseen(
    stack: Stack, engine: tuple[Engine, list[int]]
) -> None:
    pool, pings = engine
    first = backend_pid(pool)
    end_backend(stack, first)
    time.sleep(IDLE_S * 1.5)
    second = backend_pid(pool)  # no error: the ping failed and the pool connected again
    assert second != first and pings == [1]


def test_a_connection_ended_a_moment_after_its_use_fails_one_statement_then_the_pool_recovers(
    stack: Stack, engine: tuple[Engine, list[int]]
) -> None:
    pool, pings = engine
    first = backend_pid(pool)
    end_backend(stack, first)
    with pytest.raises(DBAPIError) as failure:
        backend_pid(pool)
    assert failure.value.connection_invalidated
    assert backend_pid(pool) not in (first, None)
    assert pings == []


def claims_it_once(stack: Stack, job_id: uuid.UUID) -> None:
    """The runtime's claim (with its one retry on a dropped connection) takes the job: running, once."""
    job = runtime._claim(job_id, worker="w", time_limit_s=60, stage=None)
    assert job is not None and job.id == job_id
    assert stack.sql("SELECT status, attempts FROM jobs WHERE id = %s", job_id) == [("running", 1)]


def test_a_claim_that_meets_a_connection_the_server_just_ended_claims_on_a_fresh_one(
    on_the_stack: Stack,
) -> None:
    job_id = queued_job(on_the_stack)
    with one_statement() as session:
        (pooled,) = session.connection().execute(text("SELECT pg_backend_pid()")).one_or_none()
    end_backend(on_the_stack, pooled)
    assert sync_engine().pool.checkedin() == 1  # the connection just ended is the only one
    claims_it_once(on_the_stack, job_id)


def test_after_a_restart_a_claim_drops_every_pooled_connection_and_claims_on_a_fresh_one(
    on_the_stack: Stack,
) -> None:
    """A restarted server ends every connection the pool holds. The claim runs straight on the
    driver (db/direct_statement.py); its failure must drop them all, as SQLAlchemy's engine does,
    or its one retry meets the next dead one (used a moment ago, so not pinged)."""
    job_id = queued_job(on_the_stack)
    pool = sync_engine()
    with pool.connect() as first, pool.connect() as second:
        pids = [c.execute(text("SELECT pg_backend_pid()")).scalar_one() for c in (first, second)]
    assert pool.pool.checkedin() == 2
    for pid in pids:
        end_backend(on_the_stack, pid)
    claims_it_once(on_the_stack, job_id)


def test_a_direct_statement_s_failure_is_sqlalchemy_s_error_and_leaves_the_connection_usable(
    on_the_stack: Stack,
) -> None:
    """A statement the server refuses is raised as the engine raises it (the runtime's handling
    reads `error.orig` and the class), and the pooled connection goes back in its usual state."""
    with pytest.raises(DBAPIError) as failure, one_statement() as session:
        session.connection().execute(text("SELECT 1 / 0"))
    assert type(failure.value.orig).__name__ == "DivisionByZero" and not failure.value.connection_invalidated
    with sync_engine().connect() as connection:  # a transaction of the pool's usual kind still works
        assert connection.execute(text("SELECT 2")).scalar_one() == 2
        assert not connection.connection.driver_connection.autocommit


def test_the_api_pool_replaces_a_connection_the_server_ended_while_it_sat_idle(stack: Stack) -> None:
    """The API's async engine pings the same way: a request after a PostgreSQL restart that ended
    its idle connections gets a new one, not a 503 (found by the rehearsal, tests/hosts/)."""
    import asyncio

    from sqlalchemy.ext.asyncio import create_async_engine

    async def scenario() -> tuple[int, int]:
        engine = create_async_engine(sqlalchemy_url(stack.database_url), pool_size=1, max_overflow=0)
        ping_after_idle(engine.sync_engine, IDLE_S)
        try:
            async with engine.connect() as connection:
                first = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            await asyncio.to_thread(end_backend, stack, first)
            await asyncio.sleep(IDLE_S * 1.5)
            async with engine.connect() as connection:  # no error: pinged, found dead, replaced
                second = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            return first, second
        finally:
            await engine.dispose()

    first, second = asyncio.run(scenario())
    assert second != first


def test_the_api_s_statement_on_the_driver_fails_once_on_a_dead_connection_then_gets_a_fresh_one(
    on_the_stack: Stack,
) -> None:
    """The API's submit that locks nothing runs straight on the driver (db/direct_statement.py):
    on a connection the server ended a moment after its use it fails once, as SQLAlchemy's error
    that says the connection was invalidated (the API answers 503), and the next one gets a new
    connection. Also: the idle ping still runs at its checkout (a connection idle a while is
    replaced unseen)."""
    import asyncio

    from db.session import async_engine
    from db.unit_of_work import async_one_statement

    async def backend() -> int:
        async with async_one_statement() as statement:
            (pid,) = (await statement.execute(text("SELECT pg_backend_pid()"))).one_or_none()
        return pid

    async def scenario() -> tuple[int, bool, int, int]:
        try:
            first = await backend()
            await asyncio.to_thread(end_backend, on_the_stack, first)
            try:
                await backend()
                invalidated = False
            except DBAPIError as failure:
                invalidated = failure.connection_invalidated
            second = await backend()
            await asyncio.to_thread(end_backend, on_the_stack, second)
            await asyncio.sleep(1.5)  # past db.session.PING_AFTER_IDLE_SECONDS
            return first, invalidated, second, await backend()
        finally:
            await async_engine().dispose()  # its connections belong to this event loop

    first, invalidated, second, third = asyncio.run(scenario())
    assert invalidated and len({first, second, third}) == 3


def test_pipelined_statements_that_meet_a_connection_the_server_just_ended_fail_as_a_disconnect(
    on_the_stack: Stack,
) -> None:
    """The API's capped submit (db/direct_statement.py AsyncDirectTransaction, a pipeline) on a
    pooled connection the server ended a moment ago, so not pinged: it fails once, as a disconnect
    (`connection_invalidated`, what the API and the runtime take for an unreachable server), and the
    next one runs on a fresh connection."""
    ended = text("SELECT pg_backend_pid()")

    async def run() -> tuple[DBAPIError, list]:
        try:
            ([(pid,)], _) = await AsyncDirectTransaction(async_engine()).execute_all(
                [(ended, {}), (text("SELECT 1"), {})]
            )
            end_backend(on_the_stack, pid)
            with pytest.raises(DBAPIError) as failure:
                await AsyncDirectTransaction(async_engine()).execute_all(
                    [(ended, {}), (text("SELECT 1"), {})]
                )
            again = await AsyncDirectTransaction(async_engine()).execute_all(
                [(ended, {}), (text("SELECT 2"), {})]
            )
            return failure.value, again
        finally:
            await async_engine().dispose()  # its connections belong to this event loop

    failure, again = asyncio.run(run())
    assert failure.connection_invalidated, repr(failure)
    assert again[1] == [(2,)]


def test_statements_on_the_driver_against_a_server_that_refuses_fail_as_an_unreachable_database() -> None:
    """PostgreSQL down or restarting: the pool cannot connect, before any statement is sent. Every
    statement run straight on the driver raises SQLAlchemy's OperationalError there, as the engine
    does, which the runtime takes for an unreachable database (it waits the outage out rather than
    running the job again) and the API answers 503. The worker's checkout raised psycopg's own
    error before, which the runtime did not catch: a claim or a quiet finish that met a PostgreSQL
    restart failed the delivery, and a finish's job was run again, generated twice (found with a
    pipelined finish in tests/hosts/test_data_faults.py). The API's async driver already raised
    SQLAlchemy's; it is asserted here too, so that neither side comes back."""
    with socket.socket() as probe:  # a port nothing listens on: the connection is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg://mentorq@127.0.0.1:{port}/mentorq?connect_timeout=5"
    engine = create_engine(url)
    refused_async = create_async_engine(url)
    statement = text("SELECT 1")

    async def on_the_api() -> list[BaseException]:
        failures: list[BaseException] = []
        for run in (
            lambda: AsyncDirectStatement(refused_async).execute(statement),
            lambda: AsyncDirectTransaction(refused_async).execute_all([(statement, {}), (statement, {})]),
        ):
            try:
                await run()
            except BaseException as failure:  # noqa: BLE001 - its class is what is asserted
                failures.append(failure)
        await refused_async.dispose()
        return failures

    on_the_worker: list[BaseException] = []
    try:
        for run in (
            lambda: DirectStatement(engine).execute(statement),
            lambda: DirectTransaction(engine).execute_all([(statement, {}), (statement, {})]),
        ):
            try:
                run()
            except BaseException as failure:  # noqa: BLE001 - its class is what is asserted
                on_the_worker.append(failure)
    finally:
        engine.dispose()
    failures = [*on_the_worker, *asyncio.run(on_the_api())]
    assert len(failures) == 4
    for failure in failures:
        assert isinstance(failure, OperationalError), repr(failure)
        assert runtime._unreachable(failure), repr(failure)
