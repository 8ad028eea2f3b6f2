"""Accounts with fastapi-users: register, bearer and cookie login (throttled per account), the user,
e-mail verification and password reset (their messages: api/accounts/)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from fastapi_users import (
    BaseUserManager,
    FastAPIUsers,
    InvalidPasswordException,
    UUIDIDMixin,
    exceptions,
    schemas,
)
from fastapi_users.authentication import AuthenticationBackend, BearerTransport, CookieTransport
from fastapi_users.exceptions import UserNotExists
from fastapi_users.jwt import decode_jwt
from fastapi_users.password import PasswordHelperProtocol
from fastapi_users_db_sqlalchemy import SQLAlchemyUserDatabase
from pydantic import model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ProblemError
from api.github_login import is_noreply
from api.rate_limits import count, exhausted, forget, limit
from api.tokens import get_token_strategy, token_user
from core import logs
from core.account_tokens import lifetime
from core.passwords import PROVIDER_LOGIN_ONLY, off_the_loop, password_helper
from core.settings import get_settings
from db.models import OAuthAccount, User
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


# Plain `async def` dependencies, not generators: they have nothing to clean up, and FastAPI
# enters an exit stack for every generator dependency of every authenticated request.
async def get_user_db(session: Annotated[AsyncSession, Depends(get_async_session)]) -> SQLAlchemyUserDatabase:
    return SQLAlchemyUserDatabase(session, User, OAuthAccount)


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    """fastapi-users' manager, with every password hash and check in a worker thread
    (core/passwords.py `off_the_loop`): its own `create`, `authenticate`, `reset_password` and
    `_update` hash on the event loop, about 200 ms each at the production cost, during which the API
    serves nobody else. They are redone here as fastapi-users 15 writes them, the hashing moved."""

    def __init__(self, user_db: SQLAlchemyUserDatabase):
        settings = get_settings()
        super().__init__(user_db, password_helper(settings))
        self.reset_password_token_secret = settings.secret_key
        self.verification_token_secret = settings.secret_key
        # The tokens themselves are minted by the worker that sends the mail (core/account_tokens.py).
        self.reset_password_token_lifetime_seconds = lifetime(settings.reset_token_minutes)
        self.verification_token_lifetime_seconds = lifetime(settings.verify_token_minutes)

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
        user = await self._password_login(credentials)
        if user is None:
            await count(failures, "login", account)
        else:
            await forget(failures, "login", account)
        return user

    async def _password_login(self, credentials: OAuth2PasswordRequestForm) -> User | None:
        """BaseUserManager.authenticate: the user if the password is theirs (its hash remade at the
        current cost if it was made at another), else None."""
        helper = self.password_helper
        try:
            user = await self.get_by_email(credentials.username)
        except UserNotExists:
            await off_the_loop(helper.hash, credentials.password)  # as long as a wrong password takes
            return None
        verified, remade = await off_the_loop(
            helper.verify_and_update, credentials.password, user.hashed_password
        )
        if not verified:
            return None
        if remade is not None:
            await self.user_db.update(user, {"hashed_password": remade})
        return user

    async def create(
        self, user_create: schemas.UC, safe: bool = False, request: Request | None = None
    ) -> User:
        """BaseUserManager.create (POST /auth/register), the password hashed off the loop."""
        await self.validate_password(user_create.password, user_create)
        if await self.user_db.get_by_email(user_create.email) is not None:
            raise exceptions.UserAlreadyExists()
        fields = user_create.create_update_dict() if safe else user_create.create_update_dict_superuser()
        fields["hashed_password"] = await off_the_loop(self.password_helper.hash, fields.pop("password"))
        created = await self.user_db.create(fields)
        await self.on_after_register(created, request)
        return created

    async def reset_password(self, token: str, password: str, request: Request | None = None) -> User:
        """BaseUserManager.reset_password (POST /auth/reset-password): the token must carry a
        fingerprint of the account's password hash (or no-password marker) as it is now."""
        try:
            data = decode_jwt(token, self.reset_password_token_secret, [self.reset_password_token_audience])
            user_id, fingerprint = data["sub"], data["password_fgpt"]
            user = await self.get(self.parse_id(user_id))
        except (jwt.PyJWTError, KeyError, exceptions.InvalidID):
            raise exceptions.InvalidResetPasswordToken() from None
        # The fingerprint is a hash made of the stored hash: the stored hash is the "password" here.
        valid, _ = await off_the_loop(
            self.password_helper.verify_and_update, user.hashed_password, fingerprint
        )
        if not valid:
            raise exceptions.InvalidResetPasswordToken()
        if not user.is_active:
            raise exceptions.UserInactive()
        updated = await self._update(user, {"password": password})
        await self.on_after_reset_password(user, request)
        return updated

    async def _update(self, user: User, update_dict: dict[str, Any]) -> User:
        """BaseUserManager._update (PATCH /users/me, an admin's change, a reset): a new password is
        checked and hashed off the loop; the other fields go through fastapi-users' own."""
        fields = dict(update_dict)
        password = fields.pop("password", None)
        if password is not None:
            await self.validate_password(password, user)
            fields["hashed_password"] = await off_the_loop(self.password_helper.hash, password)
        return await super()._update(user, fields)

    async def on_after_reset_password(self, user: User, request: Request | None = None) -> None:
        """A reset signs the account out everywhere: every bearer token and cookie session issued
        before it is refused (the API's user cache drops the account on PostgreSQL's announcement).
        The reset token itself is dead already: it carried a hash of the old password's hash."""
        await self.user_db.update(user, {"sessions_valid_after": datetime.now(UTC)})

    async def oauth_callback(  # type: ignore[override]
        self,
        oauth_name: str,
        access_token: str,
        account_id: str,
        account_email: str,
        expires_at: int | None = None,
        refresh_token: str | None = None,
        request: Request | None = None,
        *,
        associate_by_email: bool = False,
        is_verified_by_default: bool = False,
    ) -> User:
        """A provider login links to the account with its e-mail only when that e-mail is proven
        (api/github_login.py hands over GitHub-verified addresses or a no-reply one, never linked).

        If the account it links to never proved its e-mail, whoever registered it may not be its
        owner (an attacker can pre-register a victim's address): the verified owner takes it over,
        the password is replaced by an unusable one and every token issued before is refused."""
        proven = not is_noreply(account_email)
        unproven_account = None
        if proven and not await self._linked(oauth_name, account_id):
            existing = await self.user_db.get_by_email(account_email)
            if existing is not None and not existing.is_verified:
                unproven_account = existing
        helper = self.password_helper
        self.password_helper = _ProviderAccountPasswords(helper)  # a new account: no hash on the loop
        try:
            user = await super().oauth_callback(
                oauth_name,
                access_token,
                account_id,
                account_email,
                expires_at,
                refresh_token,
                request,
                associate_by_email=associate_by_email and proven,
                is_verified_by_default=is_verified_by_default and proven,
            )
        finally:
            self.password_helper = helper
        if unproven_account is not None:
            takeover = {
                "hashed_password": PROVIDER_LOGIN_ONLY,
                "is_verified": True,
                "sessions_valid_after": datetime.now(UTC),
            }
            user = await self.user_db.update(user, takeover)
        return user

    async def _linked(self, oauth_name: str, account_id: str) -> bool:
        try:
            await self.get_by_oauth_account(oauth_name, account_id)
        except UserNotExists:
            return False
        return True


class _ProviderAccountPasswords:
    """The password helper fastapi-users' oauth_callback sees. An account it makes for a provider
    login gets PROVIDER_LOGIN_ONLY (no password signs in to it; a reset sets one) where fastapi-users
    hashes a random password nobody is told, the same in effect, 200 ms on the event loop."""

    def __init__(self, helper: PasswordHelperProtocol):
        self._helper = helper

    def generate(self) -> str:
        return PROVIDER_LOGIN_ONLY

    def hash(self, password: str) -> str:
        if password != PROVIDER_LOGIN_ONLY:
            raise RuntimeError("oauth_callback hashes nothing but the password it generated")
        return PROVIDER_LOGIN_ONLY

    def verify_and_update(self, plain_password: str, hashed_password: str) -> tuple[bool, str | None]:
        return self._helper.verify_and_update(plain_password, hashed_password)


async def get_user_manager(user_db: Annotated[SQLAlchemyUserDatabase, Depends(get_user_db)]) -> UserManager:
    return UserManager(user_db)


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


async def current_active_user(
    session: Annotated[AsyncSession, Depends(get_async_session)],
    bearer_token: Annotated[str | None, Depends(bearer_backend.transport.scheme)],
    cookie_token: Annotated[str | None, Depends(cookie_backend.transport.scheme)],
) -> User:
    """The active user a bearer token or session cookie names (the bearer first), else 401: what
    `fastapi_users.current_user(active=True)` answers, in one dependency. That one built a token
    strategy per backend and a user manager with its user database for every request, which a
    token read never uses (9 % of the API's CPU on a quick job's submit, py-spy). The two transports'
    schemes are the same objects, so the OpenAPI document's security is unchanged."""
    key = get_settings().secret_key
    for token in (bearer_token, cookie_token):
        user = await token_user(session, token, key)
        if user is not None:
            if not user.is_active:
                break
            logs.bind(user_id=user.id)  # the request's log lines name its user from here on
            return user
    raise HTTPException(status.HTTP_401_UNAUTHORIZED)


CurrentUser = Annotated[User, Depends(current_active_user)]
