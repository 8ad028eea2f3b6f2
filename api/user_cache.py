"""The users behind the tokens this API process has seen, so that an authenticated request does
not read its user from PostgreSQL every time, and a change to an account takes effect at once.

Every change to a `users` row and every logout (a row in `revoked_tokens`) is announced by a
trigger on PostgreSQL's `mentorq_users` channel when its transaction commits, whoever made it:
this API process or another, a worker deleting an account, the command line, an operator's SQL.
Each API process LISTENs on one connection of its own and drops the user named. A change this
process makes itself (a logout, the console's deactivation, a user's own PATCH) is also dropped
here when its transaction commits, before the request that made it answers.

What is kept is a user's row as the request that read it saw it (never an object of a session):
each request gets its own copy in its own session (`Session.merge(load=False)`, no query), so
what one request changes on its user is never seen by another.

The cache only serves while the listener is connected: it starts empty, and it is emptied and
bypassed whenever the connection drops, until it is back. A request that read its user while a
change was announced does not store what it read (a generation counter). The remaining window is
the announcement's own delivery to another process, a few milliseconds after the commit (of 20
deactivations made by SQL, the very next request was refused 19 times, the one after it the
20th); entries also expire after MENTORQ_USER_CACHE_SECONDS (TCP keepalives bound how long a
silently dead connection goes unnoticed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator

import psycopg
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, make_transient_to_detached

from db.models import RevokedToken, User

log = logging.getLogger(__name__)

CHANNEL = "mentorq_users"  # the migration 2026_11_24_users_changed's triggers notify it
MAX_USERS = 10_000
RECONNECT_S = (0.5, 10.0)  # first and longest wait before the listener connects again
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}

# (user id, token id, issued at): a token's user is cached per token, so the checks the query
# makes for that token (revoked, issued before a sessions reset) are what the entry stands for.
TokenKey = tuple[uuid.UUID, str, float]


def detached_copy(user: User) -> User:
    """The user's row as a detached object with no pending changes, for `merge(load=False)`."""
    copy = User(**{attribute.key: getattr(user, attribute.key) for attribute in User.__mapper__.column_attrs})
    make_transient_to_detached(copy)
    return copy


class UserCache:
    def __init__(self) -> None:
        self.ttl_s = 0.0  # 0: nothing is kept (set when the listener starts)
        self.listening = False
        self.generation = 0  # moves on every drop: a read that straddles one is not stored
        self._entries: dict[TokenKey, tuple[User, float]] = {}
        self._keys_of: dict[uuid.UUID, set[TokenKey]] = {}

    def get(self, key: TokenKey) -> User | None:
        """The cached row for this token (a detached object: merge it into a session), or None."""
        if not self.listening:
            return None
        found = self._entries.get(key)
        if found is None:
            return None
        user, stored_at = found
        if time.monotonic() - stored_at > self.ttl_s:
            self.forget(key[0])
            return None
        return user

    def put(self, key: TokenKey, user: User, generation: int) -> None:
        """Keep the row a request read, unless an account changed since it began to read (`generation`)."""
        if not self.listening or self.ttl_s <= 0 or generation != self.generation:
            return
        if len(self._entries) >= MAX_USERS:
            self.clear()
        self._entries[key] = (detached_copy(user), time.monotonic())
        self._keys_of.setdefault(key[0], set()).add(key)

    def forget(self, user_id: uuid.UUID) -> None:
        self.generation += 1
        for key in self._keys_of.pop(user_id, ()):
            self._entries.pop(key, None)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()
        self._keys_of.clear()

    def __len__(self) -> int:
        return len(self._entries)

    async def listen(self, dsn: str, *, ttl_s: float) -> None:
        """Follow the announcements until canceled, connecting again whenever the connection drops."""
        self.ttl_s = ttl_s
        wait_s = RECONNECT_S[0]
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True, **KEEPALIVES) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.clear()  # whatever was kept before may have missed an announcement
                    self.listening, wait_s = True, RECONNECT_S[0]
                    async for notice in conn.notifies():
                        self._announced(notice.payload)
            except (psycopg.Error, OSError):
                log.warning("user announcements unavailable; users are read on every request", exc_info=True)
            finally:
                self.listening = False
                self.clear()
            await asyncio.sleep(wait_s)
            wait_s = min(RECONNECT_S[1], wait_s * 2)

    def _announced(self, payload: str) -> None:
        try:
            self.forget(uuid.UUID(payload))
        except ValueError:
            self.clear()


USERS = UserCache()

# This process's own changes are dropped when their transaction commits, not when the
# announcement comes back: a request right after a console deactivation is refused at once.
_CHANGED = "mentorq_users_changed"
_ALL_CHANGED = "mentorq_users_all_changed"


@event.listens_for(Session, "after_flush")
def _note_changed_users(session: Session, _flush_context: object) -> None:
    changed = {obj.id for obj in (*session.dirty, *session.deleted) if isinstance(obj, User)}
    changed |= {obj.user_id for obj in session.new if isinstance(obj, RevokedToken)}
    if changed:
        session.info.setdefault(_CHANGED, set()).update(changed)


@event.listens_for(Session, "do_orm_execute")
def _note_statements_on_users(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and state.bind_mapper is User.__mapper__:
        state.session.info[_ALL_CHANGED] = True  # an UPDATE or DELETE of users by statement


@event.listens_for(Session, "after_commit")
def _forget_committed_changes(session: Session) -> None:
    if session.info.pop(_ALL_CHANGED, False):
        USERS.clear()
    for user_id in session.info.pop(_CHANGED, ()):
        USERS.forget(user_id)


@event.listens_for(Session, "after_rollback")
def _discard_noted_changes(session: Session) -> None:
    session.info.pop(_ALL_CHANGED, None)
    session.info.pop(_CHANGED, None)


def listener_dsn(database_url: str) -> str:
    """A libpq address from the settings' URL (which may name SQLAlchemy's driver)."""
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextlib.asynccontextmanager
async def following_user_changes(database_url: str | None, *, ttl_s: float) -> AsyncIterator[UserCache]:
    """The API's lifespan: the cache serves while this block runs (never with ttl_s 0 or no database)."""
    if ttl_s <= 0 or not database_url:
        yield USERS
        return
    task = asyncio.create_task(USERS.listen(listener_dsn(database_url), ttl_s=ttl_s))
    try:
        yield USERS
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
