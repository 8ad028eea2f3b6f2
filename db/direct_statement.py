"""One prebuilt statement run straight on the pool's psycopg connection, in autocommit: the
worker's claim and its quiet finish, and the API's submit that locks nothing, once per job each
(issue 63).

Through an ORM session such a statement cost about 0.94 ms of CPU, run here 0.36 ms (one process
on the real PostgreSQL, the job's progress statement and its live event, 3,000 runs each way):
the session's connection, SQLAlchemy's execution context and result and the commit's bookkeeping,
against psycopg's execute and fetch. In `benchmarks.platform_overhead` the llm worker's CPU per
instant job went from 6.2 to 5.3 ms.

SQLAlchemy still builds the statement and compiles it once (`_Prepared`); its types still turn
parameters into what psycopg sends and rows into what the session returned; its pool still hands
out the connection (with its checkout ping after idle, db/session.py); and a failure is raised as
SQLAlchemy's DBAPIError, so the callers' handling of a restarted server (`connection_invalidated`,
`OperationalError`) is the same.

What it does not do: a statement that expands a list parameter, a webhook delivery row or a job
message (they need a transaction: `db.unit_of_work.unit_of_work`). More than one statement only as
`DirectTransaction` (`AsyncDirectTransaction`): a few prebuilt statements that are one transaction,
in one round trip.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import exc
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import ClauseElement
from sqlalchemy.util import greenlet_spawn

Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class _Prepared:
    """A statement as psycopg runs it: its SQL, its parameters' defaults and conversions, and the
    conversions of its result's columns (most are None: psycopg reads them as the ORM would)."""

    sql: str
    compiled: Any
    to_driver: Mapping[str, Processor]
    from_driver: tuple[tuple[int, Processor], ...]

    def parameters(self, given: Mapping[str, Any]) -> dict[str, Any]:
        values = self.compiled.construct_params(dict(given))
        for name, convert in self.to_driver.items():
            values[name] = convert(values[name])
        return values

    def row(self, raw: tuple[Any, ...]) -> tuple[Any, ...]:
        if not self.from_driver:
            return raw
        values = list(raw)
        for index, convert in self.from_driver:
            values[index] = convert(values[index])
        return tuple(values)


@functools.cache
def _prepared(statement: ClauseElement, engine: Engine) -> _Prepared:
    """Compiled once per statement: the prebuilt transitions (db/jobs.py) are built once too."""
    dialect = engine.dialect
    compiled = statement.compile(dialect=dialect)
    if compiled.escaped_bind_names or compiled.post_compile_params:
        # An IN list is expanded when it runs; one written into the statement can be `IN (literal(a),
        # literal(b))`, a parameter each.
        raise ValueError("a statement with escaped or expanding parameters runs through a session")
    to_driver = {
        compiled.bind_names[bind]: convert
        for bind in compiled.binds.values()
        if (convert := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
    }
    columns = getattr(statement, "selected_columns", ())
    from_driver = tuple(
        (index, convert)
        for index, column in enumerate(columns)
        if (convert := column.type.dialect_impl(dialect).result_processor(dialect, None)) is not None
    )
    return _Prepared(compiled.string, compiled, to_driver, from_driver)


class _Rows:
    """What `DirectStatement.execute` returns: the row the statement returned, if any."""

    def __init__(self, row: tuple[Any, ...] | None) -> None:
        self._row = row

    def one_or_none(self) -> tuple[Any, ...] | None:
        return self._row


class DirectStatement:
    """Stands in for the session of `db.unit_of_work.one_statement`: `connection().execute(statement,
    params).one_or_none()`, as db/jobs.py's transitions call it, and `info`, where the outbox waits
    for the statement to be done."""

    def __init__(self, engine: Engine) -> None:
        self.info: dict[str, Any] = {}
        self._engine = engine
        self._ran = False

    def connection(self) -> DirectStatement:
        return self

    def execute(self, statement: ClauseElement, params: Mapping[str, Any] | None = None) -> _Rows:
        if self._ran:
            raise RuntimeError("one statement only: anything that writes twice needs unit_of_work()")
        self._ran = True
        prepared = _prepared(statement, self._engine)
        values = prepared.parameters(params or {})
        raw = _fetch_one(self._engine, prepared.sql, values)
        return _Rows(None if raw is None else prepared.row(raw))

    def add(self, instance: object) -> None:
        raise TypeError(f"{type(instance).__name__} needs a transaction: use unit_of_work()")


class AsyncDirectStatement:
    """`DirectStatement` for the API: `await execute(statement, params)`, then `one_or_none()`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.info: dict[str, Any] = {}
        self._engine = engine
        self._ran = False

    async def execute(self, statement: ClauseElement, params: Mapping[str, Any] | None = None) -> _Rows:
        if self._ran:
            raise RuntimeError("one statement only: anything that writes twice needs a transaction")
        self._ran = True
        engine = self._engine.sync_engine
        prepared = _prepared(statement, engine)
        values = prepared.parameters(params or {})
        raw = await _fetch_one_async(engine, prepared.sql, values)
        return _Rows(None if raw is None else prepared.row(raw))

    def add(self, instance: object) -> None:
        raise TypeError(f"{type(instance).__name__} needs a transaction")


class _Transaction:
    """What `DirectTransaction` and `AsyncDirectTransaction` share: `info` for the outbox, one run."""

    def __init__(self) -> None:
        self.info: dict[str, Any] = {}
        self._ran = False

    def _runs(
        self, engine: Engine, statements: Sequence[tuple[ClauseElement, Mapping[str, Any]]]
    ) -> tuple[list[_Prepared], list[tuple[str, dict[str, Any]]]]:
        if self._ran:
            raise RuntimeError("one transaction only: its statements are sent together")
        self._ran = True
        prepared = [_prepared(statement, engine) for statement, _ in statements]
        runs = [
            (each.sql, each.parameters(params))
            for each, (_, params) in zip(prepared, statements, strict=True)
        ]
        return prepared, runs

    @staticmethod
    def _converted(
        prepared: list[_Prepared], raws: list[list[tuple[Any, ...]]]
    ) -> list[list[tuple[Any, ...]]]:
        return [[each.row(raw) for raw in rows] for each, rows in zip(prepared, raws, strict=True)]

    def add(self, instance: object) -> None:
        raise TypeError(f"{type(instance).__name__} needs a session's transaction")


class DirectTransaction(_Transaction):
    """A few prebuilt statements as ONE transaction sent in ONE round trip: psycopg's pipeline mode
    in autocommit. PostgreSQL runs what comes before a pipeline's sync as one implicit transaction
    (the extended query protocol): committed at the sync, or rolled back whole if a statement fails,
    and the statements after the failed one are not run. Each statement still takes its own
    snapshot as it starts (READ COMMITTED), once the ones before it have run: a lock that the first
    takes is held while the second reads, and the second sees what the first wrote.

    A worker's finish that hands its owner's slot on (db/jobs.py `finish_and_release`): the finish
    with the owner's lock, then the release of the owner's next held jobs. Through the ORM that was
    BEGIN, the finish, the read of the held jobs (and the count and the release, when there were
    some) and COMMIT: four round trips or six."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self._engine = engine

    def execute_all(
        self, statements: Sequence[tuple[ClauseElement, Mapping[str, Any]]]
    ) -> list[list[tuple[Any, ...]]]:
        """Each statement's rows, in order."""
        prepared, runs = self._runs(self._engine, statements)
        return self._converted(prepared, _fetch_each(self._engine, runs))


class AsyncDirectTransaction(_Transaction):
    """`DirectTransaction` for the API: the submit into a lane admitted per user (db/admission.py),
    the job with its owner's lock, then the count that holds it. Through the ORM that was BEGIN, the
    job, the lock, the count (and the hold, when held) and COMMIT: five round trips or six."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__()
        self._engine = engine

    async def execute_all(
        self, statements: Sequence[tuple[ClauseElement, Mapping[str, Any]]]
    ) -> list[list[tuple[Any, ...]]]:
        """Each statement's rows, in order."""
        engine = self._engine.sync_engine
        prepared, runs = self._runs(engine, statements)
        return self._converted(prepared, await _fetch_each_async(engine, runs))


def _fetch_one(engine: Engine, sql: str, values: dict[str, Any]) -> tuple[Any, ...] | None:
    (rows,) = _fetch_each(engine, [(sql, values)])
    return rows[0] if rows else None


def _fetch_each(engine: Engine, runs: Sequence[tuple[str, dict[str, Any]]]) -> list[list[tuple[Any, ...]]]:
    """Each statement's rows, in autocommit; several are pipelined: one implicit transaction."""
    pooled = _checkout(engine)
    try:
        driver: psycopg.Connection = pooled.driver_connection  # type: ignore[assignment]
        cursors: list[psycopg.Cursor] = []
        try:
            driver.autocommit = True  # a client-side flag: no round trip
            with driver.pipeline() if len(runs) > 1 else contextlib.nullcontext():
                for sql, values in runs:
                    cursors.append(cursor := driver.cursor())
                    cursor.execute(sql, values)
            # The pipeline's end sent its sync and read every result: the transaction has ended.
            rows = [cursor.fetchall() if _returns_rows(cursor) else [] for cursor in cursors]
            driver.autocommit = False  # as the pool's other users expect it back
            return rows
        except psycopg.Error as error:
            sql, values = _named(runs)
            last = cursors[-1] if cursors else None
            failure = _as_sqlalchemy_error(engine, pooled, driver, last, sql, values, error)
            if not failure.connection_invalidated and not driver.closed:
                driver.autocommit = False
            raise failure from error
        except BaseException:
            _drop_when_cut_off(pooled)
            raise
        finally:
            for cursor in cursors:
                cursor.close()
    finally:
        pooled.close()  # back to the pool (or discarded, if invalidated)


def _named(runs: Sequence[tuple[str, dict[str, Any]]]) -> tuple[str, dict[str, Any] | list[dict[str, Any]]]:
    """What an error names: a pipeline's may come at its sync, so it names every statement sent."""
    if len(runs) == 1:
        return runs[0]
    return "; ".join(sql for sql, _ in runs), [values for _, values in runs]


async def _fetch_one_async(engine: Engine, sql: str, values: dict[str, Any]) -> tuple[Any, ...] | None:
    (rows,) = await _fetch_each_async(engine, [(sql, values)])
    return rows[0] if rows else None


async def _fetch_each_async(
    engine: Engine, runs: Sequence[tuple[str, dict[str, Any]]]
) -> list[list[tuple[Any, ...]]]:
    """`_fetch_each` on the API's event loop."""
    # The pool's checkout (and its ping after idle) is written for greenlets, as in a session.
    pooled = await greenlet_spawn(_checkout, engine)
    try:
        driver: psycopg.AsyncConnection = pooled.driver_connection  # type: ignore[assignment]
        cursors: list[psycopg.AsyncCursor] = []
        try:
            await driver.set_autocommit(True)  # a client-side flag: no round trip
            async with driver.pipeline() if len(runs) > 1 else contextlib.nullcontext():
                for sql, values in runs:
                    cursors.append(cursor := driver.cursor())
                    await cursor.execute(sql, values)
            rows = [await cursor.fetchall() if _returns_rows(cursor) else [] for cursor in cursors]
            await driver.set_autocommit(False)
            return rows
        except psycopg.Error as error:
            sql, values = _named(runs)
            last = cursors[-1] if cursors else None
            failure = await greenlet_spawn(
                _as_sqlalchemy_error, engine, pooled, driver, last, sql, values, error
            )
            if not failure.connection_invalidated and not driver.closed:
                await driver.set_autocommit(False)
            raise failure from error
        except BaseException:
            await greenlet_spawn(_drop_when_cut_off, pooled)
            raise
        finally:
            for cursor in cursors:
                await cursor.close()
    finally:
        await greenlet_spawn(pooled.close)


def _checkout(engine: Engine) -> Any:
    """The pool's connection, with its ping after idle. A server that cannot be reached (refused,
    down, restarting) fails here, before any statement: on the worker's engine `raw_connection`
    raises psycopg's own error, where `engine.connect()` raises SQLAlchemy's (the API's async
    adapter raises SQLAlchemy's already). Raised as the engine raises it, so the callers' `except
    OperationalError` sees an unreachable server (the runtime waits it out instead of running the
    job again; the API answers 503), not an unknown error (tests/db/test_pool_ping.py)."""
    try:
        return engine.raw_connection()
    except psycopg.Error as error:
        raise exc.DBAPIError.instance(
            None,
            None,
            error,
            psycopg.Error,
            hide_parameters=engine.hide_parameters,
            connection_invalidated=engine.dialect.is_disconnect(error, None, None),
            dialect=engine.dialect,
        ) from error


def _drop_when_cut_off(pooled: Any) -> None:
    """Cut off part way (a cancelled request, a task's time limit): the connection may still be in
    autocommit, or in a pipeline whose results were not read, and the pool's reset would give it
    back so to a session, which would then commit each statement as it ran
    (tests/db/test_unit_of_work.py). The pool closes it instead (psycopg's close sends nothing and
    waits for nothing, so a cancelled task can still run it) and connects afresh at its next checkout."""
    pooled.invalidate()


def _returns_rows(cursor: psycopg.Cursor | psycopg.AsyncCursor) -> bool:
    """Whether the statement returned a result with columns (a SELECT, a RETURNING). Asked of the
    result itself: `cursor.description` answers the same but builds a Column object for each of
    the result's columns first, and a job row has dozens (5 % of the API's CPU per job, py-spy)."""
    result = cursor.pgresult
    return result is not None and (result.nfields > 0 or result.status == psycopg.pq.ExecStatus.TUPLES_OK)


def _as_sqlalchemy_error(
    engine: Engine,
    pooled: Any,
    driver: psycopg.Connection | psycopg.AsyncConnection,
    cursor: psycopg.Cursor | psycopg.AsyncCursor | None,
    sql: str,
    values: dict[str, Any] | list[dict[str, Any]],
    error: psycopg.Error,
) -> exc.DBAPIError:
    """The error as SQLAlchemy's engine raises it (OperationalError, IntegrityError, ...), and on a
    lost connection what the engine does then: every connection the pool holds from before is
    dropped (the server restarted), so the caller's retry gets a fresh one."""
    disconnected = engine.dialect.is_disconnect(error, driver, cursor)
    if disconnected:
        # The engine's own response to a disconnect (Connection._handle_dbapi_exception); the pool
        # has no public method for it.
        engine.pool._invalidate(pooled, error)
    return exc.DBAPIError.instance(
        sql,
        values,
        error,
        psycopg.Error,
        hide_parameters=engine.hide_parameters,
        connection_invalidated=disconnected,
        dialect=engine.dialect,
    )
