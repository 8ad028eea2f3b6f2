"""Every password hash and check of a request runs in a worker thread, never on the API's event loop
(issue 59): at the production cost one takes about 200 ms of a core, during which a loop that ran
it would serve nobody else. Checked in the test process on the stack's database: the hasher records
whether it was called from a thread running an event loop, through every path that hashes
(register, the profile service's sign-up, login with a right, a wrong and an unknown account's
password, a password change, a reset)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import anyio.to_thread
import pytest
from fastapi.security import OAuth2PasswordRequestForm
from fastapi_users_db_sqlalchemy import SQLAlchemyUserDatabase

from api.auth import UserCreate, UserManager, UserUpdate
from api.profiles.schemas import AccountCreate
from api.profiles.service import create_account
from core.account_tokens import reset_token
from core.passwords import PlatformPasswordHelper
from core.settings import get_settings
from db.models import OAuthAccount, User
from db.session import async_session_factory
from tests.support.stack import Stack


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def on_an_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture
def hasher_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """(method, called on an event loop) for every hash and check the platform's helper makes."""
    calls: list[tuple[str, bool]] = []

    def recorded(name: str) -> Callable[..., object]:
        original = getattr(PlatformPasswordHelper, name)

        def call(self: PlatformPasswordHelper, *args: str) -> object:
            calls.append((name, on_an_event_loop()))
            return original(self, *args)

        return call

    for name in ("hash", "verify_and_update"):
        monkeypatch.setattr(PlatformPasswordHelper, name, recorded(name))
    return calls


def credentials(email: str, password: str) -> OAuth2PasswordRequestForm:
    return OAuth2PasswordRequestForm(
        grant_type="password", username=email, password=password, scope="", client_id=None, client_secret=None
    )


@pytest.mark.anyio
async def test_no_password_is_hashed_or_checked_on_the_event_loop(
    on_the_stack: Stack, hasher_calls: list[tuple[str, bool]]
) -> None:
    email = f"loop-{uuid.uuid4().hex[:10]}@example.com"
    async with async_session_factory()() as session:
        manager = UserManager(SQLAlchemyUserDatabase(session, User, OAuthAccount))
        user = await manager.create(UserCreate(email=email, password="correct-horse-battery"))
        assert await manager.authenticate(credentials(email, "correct-horse-battery")) is not None
        assert await manager.authenticate(credentials(email, "wrong-horse-battery")) is None
        assert await manager.authenticate(credentials(f"nobody-{email}", "correct-horse-battery")) is None
        user = await manager.update(UserUpdate(password="another-horse-battery"), user)
        # The reset mail's token is minted by a worker: here in a thread of its own, not the loop.
        token = await anyio.to_thread.run_sync(
            lambda: reset_token(get_settings(), user_id=user.id, hashed_password=user.hashed_password)
        )
        await manager.reset_password(token, "a-third-horse-battery")
        assert await manager.authenticate(credentials(email, "a-third-horse-battery")) is not None
        await create_account(
            session,
            request=AccountCreate(
                email=f"profile-{email}",
                password="correct-horse-battery",
                username=f"u{uuid.uuid4().hex[:10]}",
            ),
            user_manager=manager,
        )
        await session.rollback()
    made = [name for name, _ in hasher_calls]
    # register, login x3, change, reset (the token's check, the new hash), login, profile sign-up;
    # the reset's token minting (hash) counted too, made in a thread.
    assert made.count("hash") >= 5 and made.count("verify_and_update") >= 4, hasher_calls
    assert [call for call in hasher_calls if call[1]] == []
