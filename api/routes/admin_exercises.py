"""/v1/admin/exercises: admins write exercises for every learner, or import them from Moodle GIFT;
each goes through the same publish gate as a generated one."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api import exercise_service
from api.deps import CurrentUser, SessionDep
from api.learning_schemas import AuthoredExercise, GiftImport, GiftImported
from api.openapi import problems
from api.schemas import JobRead

router = APIRouter(prefix="/v1/admin/exercises", tags=["admin"], responses=problems(403))


@router.post("", response_model=JobRead, status_code=202)
async def create_exercise(
    request: AuthoredExercise, session: SessionDep, user: CurrentUser, response: Response
) -> JobRead:
    """Queue an `exercise` job that checks this exercise with the publish gate (for coding, the
    reference solution must pass its tests in the sandbox and the starter code must not) and
    publishes it for everyone, or fails with `exercise_rejected` and the reasons."""
    job = await exercise_service.create_authored(session, user=user, request=request)
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return job


@router.post("/gift", response_model=GiftImported, status_code=202)
async def import_gift(request: GiftImport, session: SessionDep, user: CurrentUser) -> GiftImported:
    """Import a Moodle GIFT file: multiple-choice, true/false, short-answer and numeric questions each
    become an `exercise` job, as written; the rest (essay, matching, multiple-answer, what Moodle would
    misread, and questions the gate's rules refuse) are listed with the line, title and reason."""
    return await exercise_service.import_gift(session, user=user, request=request)
