"""Who may use the console: the admin signed in with the existing cookie login (`mentorq_session`,
fastapi-users' cookie backend, the same token as /auth/cookie/login).

Nobody signed in, or an inactive account: 303 to /admin/login. Signed in but not a superuser: 403,
on every page and every form POST. A form POST is checked for its CSRF token only after that, so a
non-admin is told 403 `admin_only` whatever the token says."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from api.auth import cookie_backend, fastapi_users
from api.console import csrf
from api.console.routing import NotAnAdmin, SignInRequired
from db.models import User


async def _cookie_only() -> list:
    return [cookie_backend]  # a bearer token is no browser session: the console ignores it


cookie_user_and_token = fastapi_users.authenticator.current_user_token(
    optional=True, active=True, get_enabled_backends=_cookie_only
)


async def console_admin(
    request: Request, found: Annotated[tuple[User | None, str | None], Depends(cookie_user_and_token)]
) -> User:
    user, _token = found
    if user is None:
        raise SignInRequired
    if not user.is_superuser:
        raise NotAnAdmin
    request.state.console_admin = user
    return user


AdminUser = Annotated[User, Depends(console_admin)]


@dataclass
class ConsoleForm:
    """A form POST from an admin that carried a valid CSRF token."""

    admin: User
    fields: FormData

    def text(self, name: str, default: str = "") -> str:
        value = self.fields.get(name)
        return value.strip() if isinstance(value, str) else default


async def console_form(request: Request, admin: AdminUser) -> ConsoleForm:
    fields = await request.form()
    csrf.check_form(request, fields)
    return ConsoleForm(admin=admin, fields=fields)


AdminForm = Annotated[ConsoleForm, Depends(console_form)]
