"""The platform's password hasher: fastapi-users' own (Argon2id, bcrypt for old hashes), at the
cost the settings give."""

from __future__ import annotations

from functools import lru_cache

from fastapi_users.password import PasswordHelper
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from core.settings import Settings


def password_helper(settings: Settings) -> PasswordHelper:
    """One helper per cost, made once: fastapi-users builds a user manager for every authenticated
    request, and a new argon2 hasher checks its parameters each time (6 % of the API's CPU on a
    quick job's submit, py-spy)."""
    return _helper(settings.password_hash_memory_kib, settings.password_hash_time_cost)


@lru_cache(maxsize=4)
def _helper(memory_kib: int, time_cost: int) -> PasswordHelper:
    argon2 = Argon2Hasher(memory_cost=memory_kib, time_cost=time_cost)
    return PasswordHelper(PasswordHash((argon2, BcryptHasher())))
