"""/api/learning: the learning assistant's own service (the original paths): resource suggestions,
exercises and their submissions."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse

from api import exercise_service, resource_service
from api.deps import CurrentUser, SessionDep
from api.learning_schemas import (
    ExerciseCreate,
    ExerciseRead,
    ResourcesRequest,
    SubmissionCreate,
    SubmissionList,
    exercise_read,
)
from api.openapi import problems
from api.schemas import JobRead

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


@router.post("/exercises", response_model=JobRead, status_code=202, responses=problems(404, 409, 429))
async def request_exercise(
    request: ExerciseCreate, session: SessionDep, user: CurrentUser, response: Response
) -> JobRead:
    """Queue an `exercise` job: an exercise on the topic (or your weakest skill), grounded in the
    library, published only once it passes the gate. Its output (and GET below) never holds the key."""
    job = await exercise_service.request_exercise(session, user=user, request=request)
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return job


@router.get(
    "/exercises/{exercise_id}.gift",
    response_class=PlainTextResponse,
    responses={**problems(403, 404, 422), 200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def export_gift(exercise_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> PlainTextResponse:
    """The exercise in Moodle's GIFT format, key included (admins): multiple choice and true/false, short
    answers with accepted answers, numeric; `422 gift_unsupported` says why another has no GIFT form."""
    text = await exercise_service.export_gift(session, user=user, exercise_id=exercise_id)
    return PlainTextResponse(text, media_type="text/plain; charset=utf-8")


@router.get("/exercises/{exercise_id}", response_model=ExerciseRead, responses=problems(404))
async def read_exercise(exercise_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> ExerciseRead:
    """An exercise you may answer: its prompt, choices (in an order fixed for you), starter code, visible
    tests and hints."""
    exercise = await exercise_service.visible_exercise(session, user=user, exercise_id=exercise_id)
    return exercise_read(exercise, learner_id=user.id)


@router.post(
    "/exercises/{exercise_id}/submissions",
    response_model=JobRead,
    status_code=202,
    responses=problems(404, 413, 429),
)
async def submit_answer(
    exercise_id: uuid.UUID,
    request: SubmissionCreate,
    session: SessionDep,
    user: CurrentUser,
    response: Response,
) -> JobRead:
    """Queue a `grade` job for your answer (multiple choice: one of the choices as written; numeric: a
    number; coding: the code)."""
    job = await exercise_service.submit(session, user=user, exercise_id=exercise_id, answer=request.answer)
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return job


@router.get("/exercises/{exercise_id}/submissions", response_model=SubmissionList, responses=problems(404))
async def list_submissions(exercise_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> SubmissionList:
    """Your attempts at the exercise, oldest first, with their results."""
    return await exercise_service.submissions(session, user=user, exercise_id=exercise_id)
