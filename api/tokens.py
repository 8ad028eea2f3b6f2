"""Access tokens: JWTs that always expire and can be revoked (logging out revokes bearer and cookie alike).

A token carries `sub` (the user), `aud`, `exp`, `iat` and a random `jti`. Reading one requires all of
them, so a token minted without an expiry is refused. Logging out records the `jti` in
`revoked_tokens` until the token would have expired; the query that loads a token's user checks
it (db/users.py), and a revocation survives a Redis restart (it lives in PostgreSQL). Retention
deletes revocations once expired. Each API process keeps a token's user between requests
(api/user_cache.py) and drops it when the token is revoked or the account changes: at once in the
process that logged it out, when PostgreSQL's announcement arrives in the others.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any

import jwt
from fastapi import Depends
from fastapi_users.authentication import JWTStrategy
from fastapi_users.jwt import generate_jwt
from fastapi_users.manager import BaseUserManager
from sqlalchemy.ext.asyncio import AsyncSession

from api.user_cache import USERS
from core.settings import get_settings
from db import users
from db.models import User
from db.session import get_async_session
from db.unit_of_work import commit_async

REQUIRED_CLAIMS = ["exp", "sub", "aud", "jti"]
TOKEN_AUDIENCE = ["fastapi-users:auth"]  # fastapi-users' default, which tokens already issued carry


@lru_cache(maxsize=4096)
def _verified(token: str, key: str, audience: tuple[str, ...], algorithm: str) -> dict[str, Any]:
    return jwt.decode(
        token,
        key,
        audience=list(audience),
        algorithms=[algorithm],
        options={"require": REQUIRED_CLAIMS},
    )


def verified_claims(
    token: str, key: str, *, audience: Sequence[str], algorithm: str = "HS256"
) -> dict[str, Any]:
    """The token's claims, checked: signature, audience and required claims once per token (recent
    tokens are remembered: a request reads its token twice, in the rate limiter and in the login
    backend, and a client sends the same one for an hour), expiry on every call."""
    claims = _verified(token, key, tuple(audience), algorithm)
    if claims["exp"] <= time.time():
        raise jwt.ExpiredSignatureError("Signature has expired")
    return dict(claims)


async def token_user(session: AsyncSession, token: str | None, key: str) -> User | None:
    """The user a token signed with `key` names, if it is valid, unrevoked and issued after the
    account's last sign-out everywhere; None otherwise. Read from this process's cache when it can
    (api/user_cache.py: dropped the moment the account changes), else from PostgreSQL."""
    if token is None:
        return None
    try:
        claims = verified_claims(token, key, audience=TOKEN_AUDIENCE)
        user_id = uuid.UUID(str(claims["sub"]))
    except (jwt.PyJWTError, ValueError):
        return None
    # Tokens from before `iat` was written count as issued at the epoch: refused only by a reset.
    issued = float(claims.get("iat", 0))
    cache_key = (user_id, str(claims["jti"]), issued)
    cached = USERS.get(cache_key)
    if cached is not None:
        return await session.merge(cached, load=False)
    generation = USERS.generation
    user = await users.token_owner(
        session, user_id=user_id, jti=cache_key[1], issued_at=datetime.fromtimestamp(issued, tz=UTC)
    )
    if user is not None:
        USERS.put(cache_key, user, generation)
    return user


class RevocableJWTStrategy(JWTStrategy[User, uuid.UUID]):
    """fastapi-users' JWT strategy with required expiry and a revocation list."""

    def __init__(self, *, secret: str, lifetime_seconds: int, session: AsyncSession):
        super().__init__(secret=secret, lifetime_seconds=lifetime_seconds, token_audience=TOKEN_AUDIENCE)
        self.session = session

    def _claims(self, token: str) -> dict[str, Any]:
        return verified_claims(token, self.decode_key, audience=self.token_audience, algorithm=self.algorithm)

    async def read_token(
        self, token: str | None, user_manager: BaseUserManager[User, uuid.UUID]
    ) -> User | None:
        return await token_user(self.session, token, self.decode_key)

    async def write_token(self, user: User) -> str:
        # `iat` to the microsecond: a token issued right after a sessions reset must still count as after it.
        claims = {
            "sub": str(user.id),
            "aud": self.token_audience,
            "jti": secrets.token_urlsafe(16),
            "iat": time.time(),
        }
        return generate_jwt(claims, self.encode_key, self.lifetime_seconds, algorithm=self.algorithm)

    async def destroy_token(self, token: str, user: User) -> None:
        claims = self._claims(token)  # it was just read successfully, so this cannot fail
        expires_at = datetime.fromtimestamp(int(claims["exp"]), tz=UTC)
        await users.revoke_token(self.session, jti=str(claims["jti"]), user_id=user.id, expires_at=expires_at)
        await commit_async(self.session)
        USERS.forget(user.id)  # here at once; the other API processes when PostgreSQL announces it


async def get_token_strategy(
    session: Annotated[AsyncSession, Depends(get_async_session)],
) -> RevocableJWTStrategy:
    """The strategy of both login backends (bearer and cookie), bound to the request's session.
    `async` though it awaits nothing: FastAPI runs a plain `def` dependency on a worker thread,
    a thread hop on every authenticated request."""
    settings = get_settings()
    return RevocableJWTStrategy(
        secret=settings.secret_key, lifetime_seconds=settings.access_token_lifetime_seconds, session=session
    )
