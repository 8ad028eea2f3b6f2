"""/admin/users: accounts, searched by e-mail; promote and demote, deactivate and reactivate, and
delete (the account-deletion job, after a confirmation page that needs no JavaScript)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import RedirectResponse, Response

from api.auth import UserManager, get_user_manager
from api.console.auth import AdminForm, AdminUser
from api.console.routing import ConsoleRoute
from api.console.templating import NavEntry, render
from api.errors import ProblemError
from api.shared import SessionDep
from api.users import service as user_admin_service

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
NAV = NavEntry("Users", "/admin/users")

PAGE_SIZE = 50
NOTICES = {
    "promoted": "The account is now an admin.",
    "demoted": "The account is no longer an admin.",
    "deactivated": "The account is deactivated: its tokens are refused from now on.",
    "reactivated": "The account is active again.",
}
Manager = Annotated[UserManager, Depends(get_user_manager)]


def _back(user_id: object, notice: str) -> RedirectResponse:
    return RedirectResponse(f"/admin/users?notice={notice}#user-{user_id}", status_code=303)


@router.get("/admin/users")
async def user_list(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    q: Annotated[str, Query(max_length=320)] = "",
    cursor: Annotated[str, Query(max_length=200)] = "",
    notice: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    users, next_cursor = await user_admin_service.list_users(
        session, admin=admin, email_contains=q.strip(), limit=PAGE_SIZE, cursor=cursor or None
    )
    return render(
        request,
        "users.html",
        title="Users",
        users=users,
        q=q,
        next_cursor=next_cursor,
        later_page=bool(cursor),
        notice=NOTICES.get(notice),
    )


@router.post("/admin/users/{user_id}/promote")
async def promote(user_id: str, session: SessionDep, form: AdminForm, manager: Manager) -> Response:
    user = await user_admin_service.set_admin(
        session, admin=form.admin, user_manager=manager, user_id=user_id, is_admin=True
    )
    return _back(user.id, "promoted")


@router.post("/admin/users/{user_id}/demote")
async def demote(user_id: str, session: SessionDep, form: AdminForm, manager: Manager) -> Response:
    user = await user_admin_service.set_admin(
        session, admin=form.admin, user_manager=manager, user_id=user_id, is_admin=False
    )
    return _back(user.id, "demoted")


@router.post("/admin/users/{user_id}/deactivate")
async def deactivate(user_id: str, session: SessionDep, form: AdminForm, manager: Manager) -> Response:
    user = await user_admin_service.set_active(
        session, admin=form.admin, user_manager=manager, user_id=user_id, active=False
    )
    return _back(user.id, "deactivated")


@router.post("/admin/users/{user_id}/reactivate")
async def reactivate(user_id: str, session: SessionDep, form: AdminForm, manager: Manager) -> Response:
    user = await user_admin_service.set_active(
        session, admin=form.admin, user_manager=manager, user_id=user_id, active=True
    )
    return _back(user.id, "reactivated")


@router.get("/admin/users/{user_id}/delete")
async def confirm_delete(request: Request, user_id: str, session: SessionDep, admin: AdminUser) -> Response:
    user = await user_admin_service.get_user(session, admin=admin, user_id=user_id)
    return render(request, "user_delete.html", title=f"Delete {user.email}", user=user)


@router.post("/admin/users/{user_id}/delete")
async def delete(user_id: str, session: SessionDep, form: AdminForm) -> Response:
    """Only with the confirmation box ticked; then the deletion job's page."""
    if form.text("confirm") != "yes":
        raise ProblemError(
            422, "confirmation_required", "tick the box that confirms the deletion, then delete"
        )
    deletion = await user_admin_service.delete_user(session, admin=form.admin, user_id=user_id)
    return RedirectResponse(f"/admin/jobs/{deletion.job_id}", status_code=303)
