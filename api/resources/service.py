"""Resource suggestions: a `resources` job for the caller's query."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from api.jobs.schemas import JobRead
from api.jobs.service import job_read
from api.quotas import check_job_quota
from api.resources.schemas import ResourcesRequest
from api.shared import open_session_for
from db.jobs import create_job
from db.models import User
from db.unit_of_work import commit_async
from tasks.resources.spec import SPEC as RESOURCES


async def request_resources(session: AsyncSession, *, user: User, request: ResourcesRequest) -> JobRead:
    session_id = await open_session_for(session, user=user, session_id=request.session_id)
    await check_job_quota(session, user=user)
    payload = request.model_dump(exclude={"session_id"}, mode="json") | {"user_id": str(user.id)}
    job = create_job(session, RESOURCES, input=payload, owner_id=user.id, session_id=session_id)
    await commit_async(session)
    return job_read(job)
