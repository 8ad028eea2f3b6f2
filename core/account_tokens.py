"""The tokens in account mail, minted exactly as fastapi-users mints them, so its own routes
(`/auth/verify`, `/auth/reset-password`) check them: the same audiences, claims and signing key.

They are minted by the `io` worker when it renders a message, never by the API and never stored:
a reset token carries a hash of the account's password hash (`password_fgpt`), so it dies with
the password it resets; a verify token names the e-mail it proves.

fastapi-users is imported where a token is minted, not with this module: the mail task imports it,
so every worker would otherwise import fastapi-users and FastAPI at start (0.4 s of a core) for
the io worker's first account message.
"""

from __future__ import annotations

import uuid

from core.settings import Settings


def verify_token(settings: Settings, *, user_id: uuid.UUID, email: str) -> str:
    """A token for POST /auth/verify, valid MENTORQ_VERIFY_TOKEN_MINUTES."""
    from fastapi_users.jwt import generate_jwt
    from fastapi_users.manager import VERIFY_USER_TOKEN_AUDIENCE

    claims = {"sub": str(user_id), "email": email, "aud": VERIFY_USER_TOKEN_AUDIENCE}
    return generate_jwt(claims, settings.secret_key, lifetime(settings.verify_token_minutes))


def reset_token(settings: Settings, *, user_id: uuid.UUID, hashed_password: str) -> str:
    """A token for POST /auth/reset-password, valid MENTORQ_RESET_TOKEN_MINUTES and until the
    password changes (the API's default password helper checks the fingerprint)."""
    from fastapi_users.jwt import generate_jwt
    from fastapi_users.manager import RESET_PASSWORD_TOKEN_AUDIENCE

    from core.passwords import password_helper

    fingerprint = password_helper(settings).hash(hashed_password)
    claims = {"sub": str(user_id), "password_fgpt": fingerprint, "aud": RESET_PASSWORD_TOKEN_AUDIENCE}
    return generate_jwt(claims, settings.secret_key, lifetime(settings.reset_token_minutes))


def lifetime(minutes: float) -> int:
    """Whole seconds, at least one (fastapi-users leaves `exp` out of a token given 0)."""
    return max(1, round(minutes * 60))
