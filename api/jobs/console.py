"""/admin/jobs: every job, filtered by kind, status and owner; a job's page (input, output, error,
timeline, webhook deliveries) that follows a running job live; cancel and redeliver."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from api.console.auth import AdminForm, AdminUser
from api.console.routing import ConsoleRoute
from api.console.templating import NavEntry, render
from api.jobs import service as job_service
from api.shared import SessionDep
from api.users import service as user_admin_service
from api.webhooks import service as webhook_service
from core.job_status import TERMINAL, JobStatus
from core.settings import get_settings
from tasks.registry import enabled_kinds

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
NAV = NavEntry("Jobs", "/admin/jobs")

PAGE_SIZE = 50
TIMELINE_LIMIT = 500  # a long streamed answer records an event per chunk of tokens
NOTICES = {
    "canceled": "The job was canceled.",
    "redelivered": "The delivery was queued to be sent again now.",
}

Text = Annotated[str, Query(max_length=320)]


@router.get("/admin/jobs")
async def job_list(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    kind: Text = "",
    status: Text = "",
    user: Text = "",
    cursor: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    kinds = sorted(enabled_kinds(include_debug=get_settings().debug_kinds))
    statuses = [s.value for s in JobStatus]
    owner, unknown_owner = None, False
    if user:
        owner = await user_admin_service.find_by_email(session, admin=admin, email=user)
        unknown_owner = owner is None
    items, next_cursor = [], None
    if not unknown_owner:
        items, next_cursor = await job_service.page_of_jobs(
            session,
            user=admin,
            kind=kind or None,
            status=status if status in statuses else None,
            limit=PAGE_SIZE,
            cursor=cursor or None,
            owner_id=owner.id if owner else None,
        )
    owners = await user_admin_service.emails_of(
        session, admin=admin, user_ids={job.owner_id for job in items}
    )
    return render(
        request,
        "jobs.html",
        title="Jobs",
        jobs=items,
        owners=owners,
        kinds=kinds,
        statuses=statuses,
        filters={"kind": kind, "status": status, "user": user},
        unknown_owner=unknown_owner,
        next_cursor=next_cursor,
        later_page=bool(cursor),
    )


@router.get("/admin/jobs/{job_id}")
async def job_page(
    request: Request, job_id: str, session: SessionDep, admin: AdminUser, notice: Text = ""
) -> Response:
    job, events = await job_service.job_timeline_for(
        session, user=admin, job_id=job_id, limit=TIMELINE_LIMIT + 1
    )
    deliveries = await webhook_service.list_deliveries(session, user=admin, job_id=job_id)
    owners = await user_admin_service.emails_of(session, admin=admin, user_ids={job.owner_id})
    resource = job_service.job_read(job)
    return render(
        request,
        "job.html",
        title=f"Job {job.kind} {str(job.id)[:8]}",
        job=resource,
        owner=owners.get(job.owner_id),
        owner_id=job.owner_id,
        events=events[:TIMELINE_LIMIT],
        more_events=len(events) > TIMELINE_LIMIT,
        last_event_id=events[min(len(events), TIMELINE_LIMIT) - 1].id if events else 0,
        deliveries=deliveries["items"],
        active=job.status not in TERMINAL,
        notice=NOTICES.get(notice),
    )


@router.post("/admin/jobs/{job_id}/cancel")
async def cancel(job_id: str, session: SessionDep, form: AdminForm) -> Response:
    job = await job_service.cancel_job_for(session, user=form.admin, job_id=job_id)
    return RedirectResponse(f"/admin/jobs/{job.id}?notice=canceled", status_code=303)


@router.post("/admin/jobs/{job_id}/deliveries/{delivery_id}/redeliver")
async def redeliver(job_id: str, delivery_id: str, session: SessionDep, form: AdminForm) -> Response:
    delivery = await webhook_service.redeliver(session, user=form.admin, delivery_id=delivery_id)
    return RedirectResponse(f"/admin/jobs/{delivery['job_id']}?notice=redelivered", status_code=303)
