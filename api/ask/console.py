"""/admin/cache: the answer cache. Its entries, newest first, with the hit ratio of ask jobs over a
window of hours, and a purge of every entry or of one account's private entries.

Everything goes through api/ask/service.py, the same functions /v1/admin/cache uses (GET lists,
DELETE purges): what an operator sees and removes here is what the API sees and removes.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from api.ask import service as ask_service
from api.console.auth import AdminForm, AdminUser
from api.console.routing import ConsoleRoute
from api.console.templating import NavEntry, render
from api.errors import ProblemError
from api.shared import SessionDep
from api.users import service as user_admin_service
from core.settings import get_settings
from core.sql_limits import MAX_BIGINT

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
NAV = NavEntry("Answer cache", "/admin/cache")

PAGE_SIZE = 50
WINDOWS = (1, 24, 24 * 7, 24 * 30)  # hours the hit ratio may be counted over (the API allows 1 to 720)


def _purged_notice(purged: int | None, owner_email: str | None) -> str | None:
    if purged is None:
        return None
    entries = f"{purged} entr{'y' if purged == 1 else 'ies'}"
    whose = f"the private entries of {owner_email}" if owner_email else "the cache"
    return f"Purged {whose}: {entries} removed. Those questions are answered afresh the next time."


@router.get("/admin/cache")
async def cache_page(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    window_hours: Annotated[int, Query(ge=1, le=24 * 30)] = 24,
    cursor: Annotated[int | None, Query(ge=0, le=MAX_BIGINT)] = None,
    purged: Annotated[int | None, Query(ge=0, le=MAX_BIGINT)] = None,
    owner: uuid.UUID | None = None,
) -> Response:
    report = await ask_service.cache_report(
        session, user=admin, limit=PAGE_SIZE, before_id=cursor, window_hours=window_hours
    )
    # Only an id comes from the URL (after a purge); the notice names the account it belongs to.
    owner_email = None
    if owner is not None:
        emails = await user_admin_service.emails_of(session, admin=admin, user_ids={owner})
        owner_email = emails.get(owner, "an account since deleted")
    return render(
        request,
        "answer_cache.html",
        title="Answer cache",
        report=report,
        windows=sorted({*WINDOWS, window_hours}),
        later_page=cursor is not None,
        ttl_days=get_settings().answer_cache_ttl_days,
        notice=_purged_notice(purged, owner_email),
    )


@router.post("/admin/cache/purge")
async def purge(session: SessionDep, form: AdminForm) -> Response:
    """Only with the confirmation box ticked; with an e-mail, only that account's private entries."""
    if form.text("confirm") != "yes":
        raise ProblemError(422, "confirmation_required", "tick the box that confirms the purge, then purge")
    email = form.text("email")
    owner_id = None
    if email:
        owner = await user_admin_service.find_by_email(session, admin=form.admin, email=email)
        if owner is None:
            raise ProblemError(404, "user_not_found", "no account has that e-mail")
        owner_id = owner.id
    result = await ask_service.purge_cache(session, user=form.admin, owner_id=owner_id)
    query = f"purged={result.purged}" + (f"&owner={owner_id}" if owner_id else "")
    return RedirectResponse(f"/admin/cache?{query}", status_code=303)
