"""Loaded by every Python process of a test stack started with this folder on PYTHONPATH and
MENTORQ_COST_PROBE_DIR set (tests/jobs/test_job_cost.py): it counts what the process sends to
PostgreSQL and Redis, one line per statement, transaction boundary or command, appended to
DIR/<pid>.log as `<role> <kind> <text>`. Nothing of mentorq's code is changed; without the
variable it does nothing.

Counted: every statement psycopg's cursors send (once per executemany), sync and async, each
pipeline psycopg opens, and SQLAlchemy's BEGIN / COMMIT / ROLLBACK (each a round trip with psycopg)
on every engine; every Redis
command packed by redis-py, sync and asyncio (pipelines count each command, as the server runs
them). Not counted: a pooled connection's ping after idling, which depends on timing, not on the
job path. Also written: each new PostgreSQL connection's backend pid (`backend`), which the test's
row-counting trigger records beside each row.
"""

from __future__ import annotations

import os
import sys

_DIR = os.environ.get("MENTORQ_COST_PROBE_DIR")


def _role() -> str:
    argv = " ".join(sys.argv)
    if "uvicorn" in argv:
        return "api"
    if "workers.pulse" in argv or "pulse" in os.path.basename(sys.argv[0] if sys.argv else ""):
        return "pulse"
    if "worker" in sys.argv:
        return "worker"
    if "beat" in sys.argv:
        return "beat"
    return "other"


def _install() -> None:
    import threading

    def record(kind: str, text: str) -> None:
        # The role is read at each record: while this module loads, `python -m` has not set sys.argv.
        thread = threading.current_thread().name.replace(" ", "_")
        line = f"{_role()} {thread} {kind} {' '.join(text.split())[:160]}\n"
        with open(os.path.join(_DIR, f"{os.getpid()}.log"), "a", encoding="utf-8") as handle:
            handle.write(line)

    import psycopg
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    # Statements are counted where psycopg sends them, whichever way they came: through
    # SQLAlchemy's engine or straight on a pooled connection (db/direct_statement.py). The pool's
    # ping after idle (SQLAlchemy's psycopg dialect sends ";") depends on timing, not on the path.
    ping = ";"

    def counted(send):
        def execute(self, query, *args, **kwargs):
            text = query if isinstance(query, str) else str(query)
            if text.strip() != ping:
                record("sql", text)
            return send(self, query, *args, **kwargs)

        return execute

    for cursor in (psycopg.Cursor, psycopg.AsyncCursor):
        cursor.execute = counted(cursor.execute)
        cursor.executemany = counted(cursor.executemany)

    # A pipeline (db/direct_statement.py AsyncDirectTransaction) sends its statements together and
    # ends with one sync: one round trip, and one implicit transaction, with no BEGIN or COMMIT.
    def pipelined(open_pipeline):
        def pipeline(self, *args, **kwargs):
            record("pipeline", "sync")
            return open_pipeline(self, *args, **kwargs)

        return pipeline

    for connection in (psycopg.Connection, psycopg.AsyncConnection):
        connection.pipeline = pipelined(connection.pipeline)

    def boundary(name: str):
        # In autocommit (db/session.py sync_autocommit_engine) psycopg sends no BEGIN, COMMIT or
        # ROLLBACK: SQLAlchemy's events still fire, so they are told apart here.
        def listener(conn) -> None:
            autocommit = conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
            record(f"{name.lower()}{'-autocommit' if autocommit else ''}", name)

        return listener

    for name in ("BEGIN", "COMMIT", "ROLLBACK"):
        event.listen(Engine, name.lower(), boundary(name))

    def connected(dbapi_connection, _record) -> None:
        # The PostgreSQL backend behind each new connection (no round trip: psycopg knows it), so
        # that rows the test's trigger saw written are told apart by the process that wrote them.
        driver = getattr(dbapi_connection, "driver_connection", dbapi_connection)
        record("backend", str(driver.info.backend_pid))

    event.listen(Engine, "connect", connected)

    import redis.asyncio.connection as async_connection
    import redis.connection as sync_connection

    def named(args) -> str:
        return " ".join(a.decode() if isinstance(a, bytes) else str(a) for a in args[:2])

    # Sync redis-py packs a command in send_command and a pipeline in pack_commands (neither goes
    # through pack_command); asyncio redis-py packs both through pack_command.
    sync_send, sync_pipeline = (
        sync_connection.AbstractConnection.send_command,
        sync_connection.AbstractConnection.pack_commands,
    )
    async_pack = async_connection.AbstractConnection.pack_command

    def send_command(self, *args, **kwargs):
        record("redis", named(args))
        return sync_send(self, *args, **kwargs)

    def pack_commands(self, commands):
        commands = list(commands)
        for command in commands:
            record("redis", named(command))
        return sync_pipeline(self, commands)

    def pack_command(self, *args):
        record("redis", named(args))
        return async_pack(self, *args)

    sync_connection.AbstractConnection.send_command = send_command
    sync_connection.AbstractConnection.pack_commands = pack_commands
    async_connection.AbstractConnection.pack_command = pack_command


if _DIR:
    _install()
