"""Accounts with fastapi-users: register, bearer and cookie login (throttled per account), the user."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends
from fastapi.security import OAuth2PasswordRequestForm
from fastapi_users import BaseUserManager, FastAPIUsers, InvalidPasswordException, UUIDIDMixin, schemas
from fastapi_users.authentication import AuthenticationBackend, BearerTransport, CookieTransport
from fastapi_users_db_sqlalchemy import SQLAlchemyUserDatabase
from pydantic import model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ProblemError
from api.rate_limits import count, exhausted, forget, limit
from api.tokens import get_token_strategy
from core.settings import get_settings
from db.models import User
from db.session import get_async_session

MIN_PASSWORD_LENGTH = 8


class UserRead(schemas.BaseUser[uuid.UUID]):
    pass


class UserCreate(schemas.BaseUserCreate):
    pass


class UserUpdate(schemas.BaseUserUpdate):
    """Every field is optional; none may be null (an account always has an email, a password, flags)."""

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        fields = data.items() if isinstance(data, dict) else ()
        if nulls := sorted(name for name, value in fields if value is None):
            raise ValueError(f"{', '.join(nulls)} may not be null; leave a field out to keep it as it is")
        return data


async def get_user_db(
    session: Annotated[AsyncSession, Depends(get_async_session)],
) -> AsyncIterator[SQLAlchemyUserDatabase]:
    yield SQLAlchemyUserDatabase(session, User)


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    def __init__(self, user_db: SQLAlchemyUserDatabase):
        super().__init__(user_db)
        secret = get_settings().secret_key
        self.reset_password_token_secret = secret
        self.verification_token_secret = secret

    async def validate_password(self, password: str, user: UserCreate | User) -> None:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidPasswordException(
                reason=f"password must be at least {MIN_PASSWORD_LENGTH} characters"
            )
        if user.email.lower() in password.lower():
            raise InvalidPasswordException(reason="password must not contain the e-mail address")

    async def authenticate(self, credentials: OAuth2PasswordRequestForm) -> User | None:
        """Password login, throttled per account: past MENTORQ_LOGIN_FAILURES_PER_ACCOUNT wrong
        passwords in its window, logins for that account are refused (429 `login_throttled`) until
        the window moves on; a right password clears the count. Checked before hashing, so a
        guessing attacker cannot burn the API's CPU either, and a real user waits at most a window."""
        account = credentials.username.strip().lower()
        failures = limit(get_settings().login_failures_per_account)
        refusal = await exhausted(failures, "login", account)
        if refusal is not None:
            raise ProblemError(
                429,
                "login_throttled",
                "too many wrong passwords for this account; retry later",
                headers=refusal,
            )
        user = await super().authenticate(credentials)
        if user is None:
            await count(failures, "login", account)
        else:
            await forget(failures, "login", account)
        return user


async def get_user_manager(
    user_db: Annotated[SQLAlchemyUserDatabase, Depends(get_user_db)],
) -> AsyncIterator[UserManager]:
    yield UserManager(user_db)


bearer_backend = AuthenticationBackend(
    name="jwt", transport=BearerTransport(tokenUrl="auth/jwt/login"), get_strategy=get_token_strategy
)
cookie_backend = AuthenticationBackend(
    name="cookie",
    transport=CookieTransport(
        cookie_name="mentorq_session",
        cookie_secure=get_settings().env == "production",
        cookie_samesite="lax",
        cookie_max_age=get_settings().access_token_lifetime_seconds,
    ),
    get_strategy=get_token_strategy,
)

fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, [bearer_backend, cookie_backend])

current_active_user = fastapi_users.current_user(active=True)
CurrentUser = Annotated[User, Depends(current_active_user)]
