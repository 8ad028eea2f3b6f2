"""The users behind tokens, kept by each API process (api/user_cache.py): a change to an account
takes effect as soon as PostgreSQL's announcement of it arrives (a few milliseconds after its
commit; a cached user otherwise lives 60 s), whoever made it; a logout at once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest

from api.user_cache import UserCache, listener_dsn
from db.models import User
from tests.conftest import ApiClient
from tests.support.stack import Stack

ADMIN_ONLY = "/v1/admin/stats"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# fastapi-users' own dependency (/users/me) and the API's (api/auth.current_active_user, /v1/jobs)
# read tokens through the same cache, and each refuses a changed account as promptly.
BOTH_DEPENDENCIES = pytest.mark.parametrize("path", ["/users/me", "/v1/jobs"])

PROMPTLY_S = 2.0  # far below the 60 s a cached user would otherwise live: only the announcement does it


def seen_twice(client: ApiClient, path: str = "/users/me") -> int:
    """Two requests with the token: the second is served from the cache when it keeps users."""
    client.get(path)
    return client.get(path).status_code


def answers_within(client: ApiClient, path: str, status: int) -> float:
    """Seconds until `path` answers `status` (the announcement's delivery); fails past PROMPTLY_S."""
    started = time.monotonic()
    while (answer := client.get(path)).status_code != status:
        assert time.monotonic() - started < PROMPTLY_S, (answer.status_code, answer.text)
        time.sleep(0.005)
    return time.monotonic() - started


@BOTH_DEPENDENCIES
def test_a_deactivation_made_outside_the_api_is_refused_once_announced(
    stack: Stack, client: ApiClient, path: str
):
    assert seen_twice(client, path) == 200
    stack.sql("UPDATE users SET is_active = false WHERE email = %s", client.email)
    answers_within(client, path, 401)


def test_a_promotion_and_a_demotion_apply_once_announced(stack: Stack, client: ApiClient):
    assert seen_twice(client, ADMIN_ONLY) == 403
    stack.sql("UPDATE users SET is_superuser = true WHERE email = %s", client.email)
    answers_within(client, ADMIN_ONLY, 200)
    assert client.get(ADMIN_ONLY).status_code == 200
    stack.sql("UPDATE users SET is_superuser = false WHERE email = %s", client.email)
    answers_within(client, ADMIN_ONLY, 403)


@BOTH_DEPENDENCIES
def test_a_sessions_reset_applies_once_announced(stack: Stack, client: ApiClient, path: str):
    assert seen_twice(client, path) == 200
    stack.sql("UPDATE users SET sessions_valid_after = now() WHERE email = %s", client.email)
    answers_within(client, path, 401)


@BOTH_DEPENDENCIES
def test_a_logout_refuses_the_token_on_the_next_request(stack: Stack, client: ApiClient, path: str):
    assert seen_twice(client, path) == 200
    assert client.post("/auth/jwt/logout").status_code == 204
    assert client.get(path).status_code == 401  # the process that logged it out forgot it first


def test_an_email_changed_elsewhere_is_what_the_next_request_sees(stack: Stack, client: ApiClient):
    assert seen_twice(client) == 200
    changed = f"renamed-{uuid.uuid4().hex[:8]}@example.com"
    stack.sql("UPDATE users SET email = %s WHERE email = %s", changed, client.email)
    started = time.monotonic()
    while client.get("/users/me").json()["email"] != changed:
        assert time.monotonic() - started < PROMPTLY_S


# --- the cache itself, against the stack's PostgreSQL --------------------------------------------


def a_user() -> User:
    return User(id=uuid.uuid4(), email="someone@example.com", hashed_password="x", is_active=True)


@pytest.fixture
async def listening(stack: Stack) -> AsyncIterator[UserCache]:
    cache = UserCache()
    task = asyncio.create_task(cache.listen(listener_dsn(stack.database_url), ttl_s=60))
    for _ in range(100):
        if cache.listening:
            break
        await asyncio.sleep(0.05)
    assert cache.listening
    yield cache
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def announced(stack: Stack, user_id: uuid.UUID) -> None:
    async with await psycopg.AsyncConnection.connect(
        listener_dsn(stack.database_url), autocommit=True
    ) as conn:
        await conn.execute("SELECT pg_notify('mentorq_users', %s)", [str(user_id)])


async def until(condition, seconds: float = 5.0) -> bool:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return True
        await asyncio.sleep(0.01)
    return condition()


@pytest.mark.anyio
async def test_an_announcement_drops_only_that_users_tokens(stack: Stack, listening: UserCache):
    user, other = a_user(), a_user()
    listening.put((user.id, "a", 1.0), user, listening.generation)
    listening.put((user.id, "b", 1.0), user, listening.generation)
    listening.put((other.id, "c", 1.0), other, listening.generation)
    kept = listening.get((user.id, "a", 1.0))
    assert kept is not None and kept is not user and kept.email == user.email  # a copy, not the request's
    await announced(stack, user.id)
    assert await until(lambda: listening.get((user.id, "a", 1.0)) is None)
    assert listening.get((user.id, "b", 1.0)) is None and listening.get((other.id, "c", 1.0)) is not None


@pytest.mark.anyio
async def test_a_read_that_straddles_an_announcement_is_not_kept(stack: Stack, listening: UserCache):
    user = a_user()
    generation = listening.generation  # a request starts reading its user ...
    await announced(stack, uuid.uuid4())  # ... while some account changes
    assert await until(lambda: listening.generation != generation)
    listening.put((user.id, "a", 1.0), user, generation)
    assert listening.get((user.id, "a", 1.0)) is None


@pytest.mark.anyio
async def test_nothing_is_served_while_the_listener_is_away(stack: Stack, listening: UserCache):
    user = a_user()
    listening.put((user.id, "a", 1.0), user, listening.generation)
    assert listening.get((user.id, "a", 1.0)) is not None
    # The listener's connection is killed by the server: the cache empties and stops serving,
    # then the listener connects again (with nothing kept from before).
    stack.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN mentorq_users' "
        "AND pid <> pg_backend_pid() AND application_name = ''"
    )
    assert await until(lambda: not listening.listening or len(listening) == 0)
    assert listening.get((user.id, "a", 1.0)) is None
    assert await until(lambda: listening.listening, seconds=10)
    assert listening.get((user.id, "a", 1.0)) is None


def test_an_expired_entry_is_not_served():
    cache = UserCache()
    cache.listening, cache.ttl_s = True, 0.0001
    user = a_user()
    cache.put((user.id, "a", 1.0), user, cache.generation)
    time.sleep(0.01)
    assert cache.get((user.id, "a", 1.0)) is None
