"""Accounts as admins manage them (the console's Users page): list and search, promote and demote,
deactivate and reactivate through fastapi-users' user manager, delete through the account-deletion
job (api/profiles/service.delete_account, the same as DELETE /api/profiles/me).

An admin cannot demote, deactivate or delete their own account here: the last admin locking
everyone out by a slip of the mouse is worse than asking another admin (or the CLI)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import UserManager, UserUpdate
from api.errors import ProblemError
from api.profiles.schemas import AccountDeletion
from api.profiles.service import delete_account
from api.shared import decode_cursor, encode_cursor, get_or_404, require_admin
from db import users as user_queries
from db.models import User

# What the admin check says only admins may do here (403 admin_only).
ADMINS_ONLY = "manage accounts"


async def list_users(
    session: AsyncSession, *, admin: User, email_contains: str | None, limit: int, cursor: str | None
) -> tuple[list[User], str | None]:
    """One page of accounts, newest first, and the cursor of the next page (None at the end)."""
    require_admin(admin, to=ADMINS_ONLY)
    before = decode_cursor(cursor) if cursor else None
    found = await user_queries.list_users(
        session, email_contains=email_contains or None, limit=limit + 1, before=before
    )
    page, more = found[:limit], len(found) > limit
    return page, encode_cursor(page[-1]) if more else None


async def find_by_email(session: AsyncSession, *, admin: User, email: str) -> User | None:
    require_admin(admin, to=ADMINS_ONLY)
    return await user_queries.user_by_email(session, email=email)


async def emails_of(session: AsyncSession, *, admin: User, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """user id -> e-mail for the owners shown on a page."""
    require_admin(admin, to=ADMINS_ONLY)
    return await user_queries.emails_by_id(session, user_ids={i for i in user_ids if i is not None})


async def get_user(session: AsyncSession, *, admin: User, user_id: str) -> User:
    require_admin(admin, to=ADMINS_ONLY)
    return await get_or_404(
        user_id, lambda parsed: session.get(User, parsed), code="user_not_found", detail="no such user"
    )


def _not_self(admin: User, user: User, what: str) -> None:
    if user.id == admin.id:
        raise ProblemError(
            409, "own_account", f"admins cannot {what} their own account here; ask another admin"
        )


async def set_admin(
    session: AsyncSession, *, admin: User, user_manager: UserManager, user_id: str, is_admin: bool
) -> User:
    """Promote to superuser, or demote (not oneself)."""
    user = await get_user(session, admin=admin, user_id=user_id)
    if not is_admin:
        _not_self(admin, user, "demote")
    return await user_manager.update(UserUpdate(is_superuser=is_admin), user, safe=False)


async def set_active(
    session: AsyncSession, *, admin: User, user_manager: UserManager, user_id: str, active: bool
) -> User:
    """Deactivate (every token of the account is refused from the next request on) or reactivate."""
    user = await get_user(session, admin=admin, user_id=user_id)
    if not active:
        _not_self(admin, user, "deactivate")
    return await user_manager.update(UserUpdate(is_active=active), user, safe=False)


async def delete_user(session: AsyncSession, *, admin: User, user_id: str) -> AccountDeletion:
    """Queue the account's deletion job (it is deactivated at once, everything it owns goes)."""
    user = await get_user(session, admin=admin, user_id=user_id)
    _not_self(admin, user, "delete")
    return await delete_account(session, user=user)
