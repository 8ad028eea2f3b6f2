"""Password hashes cost what OWASP asks outside tests; the suite's cheap ones are refused elsewhere,
and a hash made at one cost still signs its user in at another (and is remade at the new cost)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.passwords import password_helper
from core.settings import Settings

PRODUCTION = {"MENTORQ_ENV": "production", "SECRET_KEY": "a-long-random-production-secret-0123456789"}
CHEAP = {"MENTORQ_PASSWORD_HASH_MEMORY_KIB": "64", "MENTORQ_PASSWORD_HASH_TIME_COST": "1"}


def test_the_default_cost_is_argon2id_with_64_mib_and_3_passes() -> None:
    hashed = password_helper(Settings(_env_file=None, **PRODUCTION)).hash("correct-horse-battery")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


@pytest.mark.parametrize("env", ["production", "dev"])
@pytest.mark.parametrize(
    "cheap",
    [
        {"MENTORQ_PASSWORD_HASH_MEMORY_KIB": "19455"},
        {"MENTORQ_PASSWORD_HASH_TIME_COST": "1"},
    ],
)
def test_a_cost_below_owasp_s_floor_is_refused_outside_tests(env: str, cheap: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="OWASP's Argon2id floor"):
        Settings(_env_file=None, **{**PRODUCTION, "MENTORQ_ENV": env}, **cheap)


def test_the_floor_itself_is_allowed_in_production() -> None:
    floor = {"MENTORQ_PASSWORD_HASH_MEMORY_KIB": "19456", "MENTORQ_PASSWORD_HASH_TIME_COST": "2"}
    hashed = password_helper(Settings(_env_file=None, **PRODUCTION, **floor)).hash("correct-horse-battery")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=4$")


def test_a_hash_made_at_another_cost_verifies_and_is_remade_at_the_current_one() -> None:
    cheap = password_helper(Settings(_env_file=None, MENTORQ_ENV="test", **CHEAP))
    production = password_helper(Settings(_env_file=None, **PRODUCTION))
    old = cheap.hash("correct-horse-battery")
    assert old.startswith("$argon2id$v=19$m=64,t=1,p=4$")

    assert production.verify_and_update("wrong-horse-battery", old) == (False, None)
    verified, remade = production.verify_and_update("correct-horse-battery", old)
    assert verified and remade is not None and remade.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
