"""Exercises for learners: generate one (an `exercise` job), read it without its key, submit answers
(a `grade` job each) and list the attempts."""

from __future__ import annotations

import uuid

import anyio
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ProblemError
from api.exercises.schemas import (
    MAX_ANSWER_BYTES,
    AuthoredExercise,
    ExerciseCreate,
    GiftImport,
    GiftImported,
    GiftSkipped,
    SubmissionList,
    SubmissionRead,
)
from api.jobs.schemas import JobRead
from api.jobs.service import job_read
from api.quotas import check_job_quota
from api.shared import open_session_for, require_admin
from core.exercises import gift
from core.exercises.rules import AuthoredDraft, ChoiceKey, normalized, parse_number
from db.jobs import create_job
from db.models import Exercise, Submission, User
from db.unit_of_work import commit_async
from tasks.exercise.spec import SPEC as EXERCISE
from tasks.grade.spec import SPEC as GRADE

# What the admin check says only admins may do here (403 admin_only).
ADMINS_ONLY = "write exercises for everyone"


async def request_exercise(session: AsyncSession, *, user: User, request: ExerciseCreate) -> JobRead:
    session_id = await open_session_for(session, user=user, session_id=request.session_id)
    await check_job_quota(session, user=user)
    payload = request.model_dump(exclude={"session_id"}, mode="json") | {"user_id": str(user.id)}
    job = create_job(session, EXERCISE, input=payload, owner_id=user.id, session_id=session_id)
    await commit_async(session)
    return job_read(job)


async def visible_exercise(session: AsyncSession, *, user: User, exercise_id: uuid.UUID) -> Exercise:
    """The exercise if the user may answer it (theirs, or one an admin wrote for everyone); else 404."""
    exercise = (
        await session.execute(
            select(Exercise).where(
                Exercise.id == exercise_id, or_(Exercise.owner_id == user.id, Exercise.owner_id.is_(None))
            )
        )
    ).scalar_one_or_none()
    if exercise is None:
        raise ProblemError(404, "exercise_not_found", "no such exercise")
    return exercise


async def submit(session: AsyncSession, *, user: User, exercise_id: uuid.UUID, answer: str) -> JobRead:
    if len(answer.encode()) > MAX_ANSWER_BYTES:
        raise ProblemError(413, "answer_too_large", f"an answer is at most {MAX_ANSWER_BYTES // 1024} KB")
    exercise = await visible_exercise(session, user=user, exercise_id=exercise_id)
    if exercise.exercise_type == "multiple_choice" and normalized(answer) not in {
        normalized(choice) for choice in exercise.choices or []
    }:
        raise ProblemError(
            422,
            "invalid_choice",
            "answer with one of the exercise's choices, as written",
            errors=[{"path": "answer", "message": "not one of the choices"}],
        )
    if exercise.exercise_type == "numeric" and parse_number(answer) is None:
        raise ProblemError(
            422,
            "validation_error",
            "answer with a number: digits, a point for decimals, an optional exponent (3.14, -40, 6.02e23)",
            errors=[{"path": "answer", "message": "not a number"}],
        )
    await check_job_quota(session, user=user)
    # Serialize a learner's attempts at one exercise so attempt numbers never collide.
    await session.execute(select(Exercise.id).where(Exercise.id == exercise.id).with_for_update())
    attempt = (
        await session.execute(
            select(func.coalesce(func.max(Submission.attempt), 0)).where(
                Submission.exercise_id == exercise.id, Submission.user_id == user.id
            )
        )
    ).scalar_one() + 1
    submission = Submission(
        id=uuid.uuid4(),
        exercise_id=exercise.id,
        user_id=user.id,
        attempt=attempt,
        answer=answer,
        status="grading",
    )
    job = create_job(
        session,
        GRADE,
        input={"submission_id": str(submission.id)},
        owner_id=user.id,
        session_id=exercise.session_id,
    )
    submission.job_id = job.id
    session.add(submission)
    await commit_async(session)
    return job_read(job)


async def submissions(session: AsyncSession, *, user: User, exercise_id: uuid.UUID) -> SubmissionList:
    exercise = await visible_exercise(session, user=user, exercise_id=exercise_id)
    rows = (
        await session.execute(
            select(Submission)
            .where(Submission.exercise_id == exercise.id, Submission.user_id == user.id)
            .order_by(Submission.attempt)
        )
    ).scalars()
    listed = [SubmissionRead.model_validate(row, from_attributes=True) for row in rows]
    return SubmissionList(attempts=len(listed), submissions=listed)


# --- admins: authored exercises, GIFT in and out ------------------------------------------------


def _authored_job(
    session: AsyncSession, *, user: User, exercise_type: str, topic: str | None, draft: AuthoredDraft
):
    payload = {
        "exercise_type": exercise_type,
        "topic": topic,
        "skills": draft.skills,
        "difficulty": draft.difficulty,
        "authored": draft.model_dump(mode="json"),
    }
    return create_job(session, EXERCISE, input=payload, owner_id=user.id)


async def create_authored(session: AsyncSession, *, user: User, request: AuthoredExercise) -> JobRead:
    """An `exercise` job that checks the admin's exercise with the publish gate (the sandbox for
    coding) and publishes it for every learner."""
    require_admin(user, to=ADMINS_ONLY)
    draft = AuthoredDraft.model_validate(request.model_dump(exclude={"exercise_type", "topic"}))
    job = _authored_job(
        session, user=user, exercise_type=request.exercise_type, topic=request.topic, draft=draft
    )
    await commit_async(session)
    return job_read(job)


async def import_gift(session: AsyncSession, *, user: User, request: GiftImport) -> GiftImported:
    """One `exercise` job per GIFT question that imports as written and passes the gate's rules; every
    other question listed with its line, title and reason."""
    require_admin(user, to=ADMINS_ONLY)
    # Up to a megabyte of text: read off the event loop (a hostile file takes about half a second).
    questions, skipped = await anyio.to_thread.run_sync(gift.parse, request.text)
    jobs = [
        _authored_job(
            session,
            user=user,
            exercise_type=question.exercise_type,
            topic=request.topic,
            draft=question.draft.model_copy(update={"skills": request.skills}),
        )
        for question in questions
    ]
    await commit_async(session)
    refused = [GiftSkipped(line=s.line, title=s.title, reason=s.reason) for s in skipped]
    return GiftImported(jobs=[job_read(job) for job in jobs], skipped=refused)


async def export_gift(session: AsyncSession, *, user: User, exercise_id: uuid.UUID) -> str:
    """The exercise as a GIFT question that imports back as the same question, or 422 with the reason."""
    require_admin(user, to=ADMINS_ONLY)
    exercise = await session.get(Exercise, exercise_id)
    if exercise is None:
        raise ProblemError(404, "exercise_not_found", "no such exercise")
    try:
        return gift.format_question(exercise.exercise_type, _stored_draft(exercise))
    except ValueError as error:
        raise ProblemError(422, "gift_unsupported", str(error)) from None


def _stored_draft(exercise: Exercise) -> AuthoredDraft:
    """The exercise as it was published: the row's visible fields and its key."""
    key = exercise.key
    return AuthoredDraft(
        prompt=exercise.prompt,
        title=exercise.title,
        text_format=exercise.text_format,  # type: ignore[arg-type]
        blank_at=exercise.blank_at,
        choices=exercise.choices or [],
        answer=key.get("answer"),
        rubric=key.get("rubric"),
        general_feedback=key.get("general_feedback"),
        choice_keys=[
            ChoiceKey(weight=choice["weight"], feedback=choice["feedback"])
            for choice in key.get("scored_choices") or []
        ],
        accepted_answers=key.get("accepted_answers") or [],
        numeric_answers=key.get("numeric_answers") or [],
        other_feedback=key.get("other_feedback"),
    )
