"""/api/learning/exercises: exercises, their GIFT export and submissions (the original service's
paths); /v1/admin/exercises (admin_router): authored exercises, GIFT imports, and the essays left for
an instructor's grade."""

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
    InstructorGrade,
    SubmissionAwaitingList,
    SubmissionCreate,
    SubmissionList,
    SubmissionRead,
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
    """The exercise in Moodle's GIFT format, key included (admins): description, essay, multiple choice
    and true/false, multiple answer, matching, short answers with accepted answers, numeric; `422
    gift_unsupported` says why another (coding, a short answer the model grades) has no GIFT form."""
    text = await exercise_service.export_gift(session, user=user, exercise_id=exercise_id)
    return PlainTextResponse(text, media_type="text/plain; charset=utf-8")


@router.get("/exercises/{exercise_id}", response_model=ExerciseRead, responses=problems(404))
async def read_exercise(exercise_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> ExerciseRead:
    """An exercise you may answer: its prompt, choices (in an order fixed for you), a matching's items,
    starter code, visible tests and hints."""
    exercise = await exercise_service.visible_exercise(session, user=user, exercise_id=exercise_id)
    return exercise_read(exercise, learner_id=user.id)


@router.post(
    "/exercises/{exercise_id}/submissions",
    response_model=JobRead,
    status_code=202,
    responses=problems(404, 413, 422, 429),
)
async def submit_answer(
    exercise_id: uuid.UUID,
    request: SubmissionCreate,
    session: SessionDep,
    user: CurrentUser,
    response: Response,
) -> JobRead:
    """Queue a `grade` job for your answer (multiple choice: one of the choices as written; multiple
    answer: the list of options you tick; matching: an object giving each item its match; numeric: a
    number; coding: the code; an essay or a short answer: text). A description takes no answer (`422
    not_answerable`)."""
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
    """Import a Moodle GIFT file: every question (description, essay, multiple choice, true/false,
    multiple answer, matching, short answer, numeric) becomes an `exercise` job, as written; category
    lines, what Moodle would misread, and questions the gate's rules refuse are listed with the line,
    title and reason."""
    return await exercise_service.import_gift(session, user=user, request=request)


@admin_router.get("/submissions", response_model=SubmissionAwaitingList)
async def awaiting_grades(session: SessionDep, user: CurrentUser) -> SubmissionAwaitingList:
    """The essays waiting for an instructor's grade (left for one by their author, or because the
    model's grade rested on nothing the learner wrote), oldest first, with what grading them needs."""
    return await exercise_service.awaiting_grades(session, user=user)


@admin_router.post(
    "/submissions/{submission_id}/grade", response_model=SubmissionRead, responses=problems(404, 409)
)
async def grade_submission(
    submission_id: uuid.UUID, grade: InstructorGrade, session: SessionDep, user: CurrentUser
) -> SubmissionRead:
    """Grade a submission waiting for an instructor: recorded once, as the grade job records a grade
    (the learner model moves); `409 submission_not_awaiting_grade` for any other."""
    return await exercise_service.grade_by_instructor(
        session, user=user, submission_id=submission_id, grade=grade
    )
