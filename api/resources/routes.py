"""/api/learning/resources: documents picked and explained for a learner's query (the original
service's path)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.jobs.schemas import JobRead
from api.openapi import problems
from api.resources import service as resource_service
from api.resources.schemas import ResourcesRequest
from api.shared import CurrentUser, SessionDep

router = APIRouter(prefix="/api/learning", tags=["learning"])


@router.post("/resources", response_model=JobRead, status_code=202, responses=problems(404, 409, 429))
async def request_resources(
    request: ResourcesRequest, session: SessionDep, user: CurrentUser, response: Response
) -> JobRead:
    """Queue a `resources` job: documents from the shared library and your collections for the
    query, picked and explained for you, each one checked to be a document the search found."""
    job = await resource_service.request_resources(session, user=user, request=request)
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return job
