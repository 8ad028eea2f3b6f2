"""The platform's password hasher: fastapi-users' own (Argon2id, bcrypt for old hashes), at the
cost the settings give, run off the event loop.

A hash at the production cost (64 MiB, 3 passes) takes about 200 ms of a core. The API hashes and
verifies in worker threads (`off_the_loop`), a few at a time, so a login, a sign-up or a password
change never stops the event loop that serves every other request (argon2 and bcrypt release the
GIL while they work).

An account with no password (an LTI account, which signs in by launch; one a provider login
made, until its owner sets a password; the system user) stores a
marker instead of a hash: a string starting with `!`, which no scheme the helper knows produces, so
no password matches it, and checking one costs nothing."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

import anyio
import anyio.to_thread
from fastapi_users.password import PasswordHelper
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from core.settings import Settings

NO_PASSWORD_PREFIX = "!"  # never the start of an argon2 (`$argon2`) or bcrypt (`$2b$`) hash
LTI_LAUNCH_ONLY = "!lti-launch-only"  # an LTI account: it signs in by a launch from its platform
PROVIDER_LOGIN_ONLY = "!provider-login-only"  # made or taken over by a provider login (GitHub)
# Hashes at once per API process: each holds 64 MiB while it works, and more than the cores make
# none faster. A module constant, not a setting: the API host's cores are few and known.
HASHING_THREADS = 4

T = TypeVar("T")


class PlatformPasswordHelper(PasswordHelper):
    """fastapi-users' helper, with accounts that have no password: their marker matches nothing
    (pwdlib itself raises UnknownHashError on it, a 500 at login)."""

    def verify_and_update(self, plain_password: str, hashed_password: str) -> tuple[bool, str | None]:
        if hashed_password.startswith(NO_PASSWORD_PREFIX):
            return False, None
        return super().verify_and_update(plain_password, hashed_password)


def password_helper(settings: Settings) -> PasswordHelper:
    """One helper per cost, made once: fastapi-users builds a user manager for every authenticated
    request, and a new argon2 hasher checks its parameters each time (6 % of the API's CPU on a
    quick job's submit, py-spy)."""
    return _helper(settings.password_hash_memory_kib, settings.password_hash_time_cost)


@lru_cache(maxsize=4)
def _helper(memory_kib: int, time_cost: int) -> PasswordHelper:
    argon2 = Argon2Hasher(memory_cost=memory_kib, time_cost=time_cost)
    return PlatformPasswordHelper(PasswordHash((argon2, BcryptHasher())))


_limiter: anyio.CapacityLimiter | None = None


async def off_the_loop(function: Callable[..., T], *args: object) -> T:
    """`function(*args)` (a hash or a check) in a worker thread, at most HASHING_THREADS at once."""
    global _limiter
    if _limiter is None:
        _limiter = anyio.CapacityLimiter(HASHING_THREADS)
    return await anyio.to_thread.run_sync(function, *args, limiter=_limiter)
