"""/api/learning/exercises: exercises, their GIFT export and submissions (the original service's
paths); /v1/admin/exercises (admin_router): authored exercises and GIFT imports."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse

from api.exercises import service as exercise_service
from api.exercises.schemas import (
    AuthoredExercise,
    ExerciseCreate,
    ExerciseRead,
    GiftImport,
    GiftImported,
    SubmissionCreate,
    SubmissionList,
    exercise_read,
)
from api.jobs.schemas import JobRead
from api.openapi import problems
from api.shared import CurrentUser, SessionDep

router = APIRouter(prefix="/api/learning", tags=["learning"])


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


admin_router = APIRouter(prefix="/v1/admin/exercises", tags=["admin"], responses=problems(403))


@admin_router.post("", response_model=JobRead, status_code=202)
async def create_exercise(
    request: AuthoredExercise, session: SessionDep, user: CurrentUser, response: Response
) -> JobRead:
    """Queue an `exercise` job that checks this exercise with the publish gate (for coding, the
    reference solution must pass its tests in the sandbox and the starter code must not) and
    publishes it for everyone, or fails with `exercise_rejected` and the reasons."""
    job = await exercise_service.create_authored(session, user=user, request=request)
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return job


@admin_router.post("/gift", response_model=GiftImported, status_code=202)
async def import_gift(request: GiftImport, session: SessionDep, user: CurrentUser) -> GiftImported:
    """Import a Moodle GIFT file: multiple-choice, true/false, short-answer and numeric questions each
    become an `exercise` job, as written; the rest (essay, matching, multiple-answer, what Moodle would
    misread, and questions the gate's rules refuse) are listed with the line, title and reason."""
    return await exercise_service.import_gift(session, user=user, request=request)
