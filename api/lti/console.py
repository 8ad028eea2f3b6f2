"""/admin/lms: the LMS platforms (Moodle, Canvas…) this mentorq is an LTI 1.3 tool of. A form
makes a one-time registration URL to paste into the platform's Dynamic Registration screen (shown
once: only its code's digest is kept), beside the URLs still open and when each expires; the
registered platforms with their issuer, client id, deployments, whose accounts their launches
reach and the latest launch, each removable after a confirmation page; the courses launches
recorded, each with a page of its roster, its gradebook columns and its failed `lti.roster` and
`lti.score` jobs, and a roster sync (a new `lti.roster` job: a failed sync's retry).

Everything goes through api/lti/service.py, the functions /v1/admin/lti and
/v1/lti/courses use: their checks (and error codes) decide what happens.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from api.console.auth import AdminForm, AdminUser
from api.console.routing import ConsoleRoute
from api.console.templating import NavEntry, render
from api.errors import ProblemError
from api.lti import service
from api.lti.schemas import RegistrationUrl
from api.same_origin import own_origin
from api.shared import SessionDep
from core.lti.errors import LtiError
from db.models import User

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
NAV = NavEntry("LMS", "/admin/lms")

FAILURES_SHOWN = 50
NOTICES = {
    "removed": "The platform is removed: its launches are refused from now on. Its courses are removed"
    " with it; the accounts its launches made stay.",
    "syncing": "A roster sync is queued: an lti.roster job reads every page of the course's roster.",
}


def _job_id(value: str) -> uuid.UUID | None:
    """Only an id is taken from the URL, and shown as a link to that job's page."""
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


async def _lms_page(
    request: Request,
    session: SessionDep,
    admin: User,
    *,
    notice: str | None = None,
    created: RegistrationUrl | None = None,
    status_code: int = 200,
) -> Response:
    try:
        key_ids = [key.kid for key in service.configured_keys()]
    except LtiError:
        key_ids = []
    platforms = await service.platform_statuses(session)
    courses = await service.list_courses(session, user=admin)
    names = {platform.id: platform.name for platform in platforms}
    return render(
        request,
        "lms.html",
        title="LMS",
        status_code=status_code,
        key_ids=key_ids,
        created=created,
        registrations=await service.open_registrations(session),
        platforms=platforms,
        names=names,
        courses=courses.items,
        notice=notice,
    )


@router.get("/admin/lms")
async def lms_page(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    notice: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    return await _lms_page(request, session, admin, notice=NOTICES.get(notice))


@router.post("/admin/lms/registrations")
async def new_registration(request: Request, session: SessionDep, form: AdminForm) -> Response:
    """The new URL is answered on the page itself, once, never put in a redirect's address: whoever
    holds it may register a platform until it expires."""
    created = await service.new_registration_url(
        session, admin=form.admin, origin=own_origin(request.scope) or ""
    )
    return await _lms_page(request, session, form.admin, created=created, status_code=201)


@router.get("/admin/lms/platforms/{platform_id}/remove")
async def confirm_remove(
    request: Request, platform_id: str, session: SessionDep, admin: AdminUser
) -> Response:
    platform = await service.get_platform(session, platform_id=platform_id)
    return render(
        request, "lms_platform_remove.html", title=f"Remove the platform {platform.name}", platform=platform
    )


@router.post("/admin/lms/platforms/{platform_id}/remove")
async def remove(platform_id: str, session: SessionDep, form: AdminForm) -> Response:
    """Only with the confirmation box ticked."""
    if form.text("confirm") != "yes":
        raise ProblemError(
            422, "confirmation_required", "tick the box that confirms the removal, then remove"
        )
    await service.remove_platform(session, platform_id=platform_id)
    return RedirectResponse("/admin/lms?notice=removed", status_code=303)


@router.get("/admin/lms/courses/{course_id}")
async def course_page(
    request: Request,
    course_id: str,
    session: SessionDep,
    admin: AdminUser,
    notice: Annotated[str, Query(max_length=40)] = "",
    job: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    course = service.course_read(await service.taught_course(session, user=admin, course_id=course_id))
    platform = await service.get_platform(session, platform_id=str(course.platform_id))
    roster = await service.read_roster(session, user=admin, course_id=course_id)
    columns = await service.line_items(session, user=admin, course_id=course_id)
    failures = await service.course_failures(session, course_id=course.id, limit=FAILURES_SHOWN)
    return render(
        request,
        "lms_course.html",
        title=f"Course {course.title or course.label or course.context_id}",
        course=course,
        platform=platform,
        roster=roster.items,
        active=sum(1 for member in roster.items if member.status == "Active"),
        line_items=columns.items,
        failures=failures,
        failures_shown=FAILURES_SHOWN,
        submitted_job=_job_id(job),
        notice=NOTICES.get(notice),
    )


@router.post("/admin/lms/courses/{course_id}/roster")
async def sync_roster(course_id: str, session: SessionDep, form: AdminForm) -> Response:
    job = await service.sync_roster(session, user=form.admin, course_id=course_id)
    course = job.input["context_id"]
    return RedirectResponse(f"/admin/lms/courses/{course}?notice=syncing&job={job.id}", status_code=303)
