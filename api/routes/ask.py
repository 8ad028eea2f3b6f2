"""/api/ask: grounded answers with checked citations, and a stored answer's citations looked up again."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api import ask_service, job_service
from api.assistant_schemas import AnswerRead, AskRequest
from api.deps import CurrentUser, EventHubDep, SessionDep
from api.openapi import problems
from api.routes.jobs import PreferHeader, wait_seconds
from api.schemas import JobRead
from core.job_status import TERMINAL

router = APIRouter(prefix="/api/ask", tags=["assistant"])


@router.post(
    "",
    response_model=JobRead,
    status_code=202,
    responses={200: {"model": JobRead}, **problems(404, 409, 413, 429)},
)
async def ask(
    request: AskRequest,
    session: SessionDep,
    user: CurrentUser,
    hub: EventHubDep,
    response: Response,
    prefer: PreferHeader = None,
) -> JobRead:
    """Queue an `ask` job (its tokens stream on /v1/jobs/{id}/events). A question answered before
    from the same collections, unchanged since, under the same instructions and model, comes back
    at once as a succeeded job with `cached: true` and the original job's id."""
    wait = wait_seconds(prefer, response)
    job = await ask_service.ask(session, user=user, request=request)
    if wait:
        job = await job_service.wait_for_job(session, hub, job=job, seconds=wait)
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    response.status_code = 200 if job.status in TERMINAL and wait else 202
    return job_service.job_read(job)


@router.get("/{job_id}", response_model=AnswerRead, responses=problems(404))
async def answer(job_id: str, session: SessionDep, user: CurrentUser) -> AnswerRead:
    """The answer with each citation looked up now: `current`, `moved` (its document was
    re-ingested; the chunk now holding the quote) or `removed`."""
    return await ask_service.answer(session, user=user, job_id=job_id)
