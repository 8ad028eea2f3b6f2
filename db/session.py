"""Engines and session factories; transactions that publish are in db/unit_of_work.py."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Any

from sqlalchemy import create_engine, event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from core.settings import get_settings


def sqlalchemy_url(url: str) -> str:
    """Point a plain postgres URL at the psycopg 3 driver, which serves both sync and async."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


# A pooled connection idle this long is pinged before use; one used more recently is not.
PING_AFTER_IDLE_SECONDS = 1.0


@lru_cache
def sync_engine() -> Engine:
    settings = get_settings()
    engine = create_engine(
        sqlalchemy_url(settings.require_database_url()),
        # Enough for a thread-pool io worker (32 threads in docker-compose) without waiting on the pool.
        pool_size=10,
        max_overflow=30,
    )
    ping_after_idle(engine, PING_AFTER_IDLE_SECONDS)
    return engine


def ping_after_idle(engine: Engine, idle_seconds: float) -> None:
    """Workers and API processes outlive database restarts, so a connection that sat in the pool
    is pinged before use, and a dead one replaced there (the pool retries its checkout on a
    DisconnectionError). SQLAlchemy's `pool_pre_ping` pings at every checkout: a round trip
    each, three or four per quick job. A connection back in the pool less than `idle_seconds`
    ago was alive then; if the server restarted since, the statement fails once, SQLAlchemy
    drops the pool's connections, and the caller's retry finds new ones (workers.runtime: the
    claim retries, a running job's database error retries the job; the API answers 503)."""

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < idle_seconds:
            return  # new, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # noqa: BLE001 - any failure means: not this connection
            raise exc.DisconnectionError() from error


@lru_cache
def sync_autocommit_engine() -> Engine:
    """The sync engine's pool in autocommit: a statement atomic by itself pays no BEGIN and COMMIT
    round trips (the driver's autocommit is a client-side flag, set and reset without one)."""
    return sync_engine().execution_options(isolation_level="AUTOCOMMIT")


@lru_cache
def async_engine() -> AsyncEngine:
    settings = get_settings()
    engine = create_async_engine(
        sqlalchemy_url(settings.require_database_url()),
        # No pre-ping at every checkout (a round trip each): a connection idle a while is pinged
        # instead (below). Without that, an API idle through a PostgreSQL restart answered its next
        # request 503 on each process (the rehearsal's restart, tests/hosts/). One used in the
        # last second that died with a restart still fails its request once (503), and the pool
        # then drops every connection of that server.
        pool_pre_ping=False,
        pool_size=20,
        max_overflow=20,
        pool_timeout=10,
        # Fail fast when PostgreSQL is down so the API answers 503 instead of hanging.
        connect_args={"connect_timeout": 5},
    )
    ping_after_idle(engine.sync_engine, PING_AFTER_IDLE_SECONDS)
    return engine


@lru_cache
def sync_session_factory() -> sessionmaker[Session]:
    return sessionmaker(sync_engine(), expire_on_commit=False)


@lru_cache
def async_session_factory() -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(async_engine(), expire_on_commit=False)


async def get_async_session() -> AsyncIterator[AsyncSession]:
    """An API-side session; services commit with db.unit_of_work.commit_async, the rest is rolled back."""
    async with async_session_factory()() as session:
        yield session


def reset_engines() -> None:
    """Forget engines (after fork, or when settings changed in tests)."""
    for cached in (
        sync_engine,
        sync_autocommit_engine,
        async_engine,
        sync_session_factory,
        async_session_factory,
    ):
        cached.cache_clear()
