"""/admin/matches: every learner's matches, grouped by account, and one match's detail (read only:
a match is its learner's; an admin looks, never edits)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.console.auth import AdminUser
from api.console.routing import ConsoleRoute
from api.console.templating import NavEntry, render
from api.matches import service as match_service
from api.shared import SessionDep

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
NAV = NavEntry("Matches", "/admin/matches")


@router.get("/admin/matches")
async def match_list(request: Request, session: SessionDep, admin: AdminUser) -> Response:
    rows = await match_service.admin_matches(session)
    by_user: dict[str, list] = {}
    for summary, email in rows:
        by_user.setdefault(email, []).append(summary)
    return render(request, "matches.html", title="Matches", by_user=by_user)


@router.get("/admin/matches/{match_id}")
async def match_page(request: Request, match_id: str, session: SessionDep, admin: AdminUser) -> Response:
    detail = await match_service.match_detail(session, user=None, match_id=match_id)
    return render(request, "match.html", title=f"Match: {detail.target_title}", match=detail)
