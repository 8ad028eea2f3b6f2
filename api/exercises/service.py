"""Exercises for learners: generate one (an `exercise` job), read it without its key, submit answers
(a `grade` job each) and list the attempts. Admins: authored exercises, GIFT in and out, and the
essays waiting for an instructor's grade."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import anyio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ProblemError
from api.exercises.schemas import (
    MAX_ANSWER_BYTES,
    AuthoredExercise,
    ExerciseCreate,
    GiftImport,
    GiftImported,
    GiftSkipped,
    InstructorGrade,
    SubmissionAwaitingGrade,
    SubmissionAwaitingList,
    SubmissionList,
    SubmissionRead,
)
from api.jobs.schemas import JobRead
from api.jobs.service import job_read
from api.quotas import check_job_quota
from api.shared import open_session_for, require_admin
from core.exercises import gift, gift_export
from core.exercises.learner_answers import AnswerRefused, AnswerValue, stored_answer
from core.exercises.rules import AuthoredDraft, ChoiceKey, MatchPair
from db import course_scope, lti, xapi
from db.exercises import record_grade
from db.jobs import create_job
from db.models import Exercise, Submission, User
from db.unit_of_work import commit_async
from tasks.exercise.spec import SPEC as EXERCISE
from tasks.grade.spec import SPEC as GRADE
from tasks.grade.spec import recorded_grade
from tasks.lti_score.spec import SPEC as LTI_SCORE
from tasks.xapi_send.spec import SPEC as XAPI_SEND

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
    """The exercise if the user may answer it (theirs, one written for everyone, or one of the user's
    courses: db/course_scope.py); else 404, as for an exercise that does not exist."""
    exercise = (
        await session.execute(
            select(Exercise).where(Exercise.id == exercise_id, course_scope.exercise_visible(user.id))
        )
    ).scalar_one_or_none()
    if exercise is None:
        raise ProblemError(404, "exercise_not_found", "no such exercise")
    return exercise


async def submit(
    session: AsyncSession, *, user: User, exercise_id: uuid.UUID, answer: AnswerValue
) -> JobRead:
    """A `grade` job for the learner's answer, once it is an answer the exercise can take (one of the
    choices shown, a number, the options ticked, every item matched); a description takes none."""
    as_text = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)
    if len(as_text.encode()) > MAX_ANSWER_BYTES:
        raise ProblemError(413, "answer_too_large", f"an answer is at most {MAX_ANSWER_BYTES // 1024} KB")
    exercise = await visible_exercise(session, user=user, exercise_id=exercise_id)
    try:
        stored = stored_answer(exercise.exercise_type, answer, choices=exercise.choices, items=exercise.items)
    except AnswerRefused as refused:
        raise ProblemError(
            422, refused.code, refused.message, errors=[{"path": "answer", "message": refused.problem}]
        ) from None
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
        answer=stored,
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
    await session.run_sync(
        lambda sync: xapi.record_attempt(sync, XAPI_SEND, submission=submission, exercise=exercise)
    )
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
    session: AsyncSession,
    *,
    user: User,
    exercise_type: str,
    topic: str | None,
    draft: AuthoredDraft,
    course_id: uuid.UUID | None,
):
    payload = {
        "exercise_type": exercise_type,
        "topic": topic,
        "skills": draft.skills,
        "difficulty": draft.difficulty,
        "authored": draft.model_dump(mode="json"),
        "course_id": str(course_id) if course_id else None,
    }
    return create_job(session, EXERCISE, input=payload, owner_id=user.id)


async def create_authored(
    session: AsyncSession, *, user: User, request: AuthoredExercise, course_id: uuid.UUID | None = None
) -> JobRead:
    """An `exercise` job that checks the exercise with the publish gate (the sandbox for coding) and
    publishes it for every learner (an admin's), or for the members of the course `course_id` (the
    caller has checked that the user teaches it: POST /v1/lti/courses/{id}/exercises)."""
    if course_id is None:
        require_admin(user, to=ADMINS_ONLY)
    draft = AuthoredDraft.model_validate(request.model_dump(exclude={"exercise_type", "topic"}))
    job = _authored_job(
        session,
        user=user,
        exercise_type=request.exercise_type,
        topic=request.topic,
        draft=draft,
        course_id=course_id,
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
            course_id=None,
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
        return gift_export.format_question(exercise.exercise_type, _stored_draft(exercise))
    except ValueError as error:
        raise ProblemError(422, "gift_unsupported", str(error)) from None


def _stored_draft(exercise: Exercise) -> AuthoredDraft:
    """The exercise as it was published: the row's visible fields and its key (a matching's choices
    are its pairs' matches, which the key holds)."""
    key = exercise.key
    options = exercise.exercise_type in ("multiple_choice", "multiple_answer")
    return AuthoredDraft(
        prompt=exercise.prompt,
        title=exercise.title,
        text_format=exercise.text_format,  # type: ignore[arg-type]
        blank_at=exercise.blank_at,
        choices=(exercise.choices or []) if options else [],
        pairs=[MatchPair(**pair) for pair in key.get("pairs") or []],
        grader=key.get("grader"),
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


# --- instructors: essays left for them ------------------------------------------------------------

AWAITING_LIMIT = 100


async def awaiting_grades(session: AsyncSession, *, user: User) -> SubmissionAwaitingList:
    """The submissions waiting for an instructor's grade, oldest first (admins)."""
    require_admin(user, to=ADMINS_ONLY)
    rows = await session.execute(
        select(Submission, Exercise)
        .join(Exercise, Exercise.id == Submission.exercise_id)
        .where(Submission.status == "awaiting_instructor")
        .order_by(Submission.created_at)
        .limit(AWAITING_LIMIT)
    )
    return SubmissionAwaitingList(
        submissions=[
            SubmissionAwaitingGrade(
                id=submission.id,
                exercise_id=exercise.id,
                user_id=submission.user_id,
                attempt=submission.attempt,
                answer=submission.answer,
                prompt=exercise.prompt,
                title=exercise.title,
                rubric=exercise.key.get("rubric"),
                model_answer=exercise.key.get("answer"),
                created_at=submission.created_at,
            )
            for submission, exercise in rows.all()
        ]
    )


async def grade_by_instructor(
    session: AsyncSession, *, user: User, submission_id: uuid.UUID, grade: InstructorGrade
) -> SubmissionRead:
    """An instructor's grade for a submission left for one: recorded as the grade job would record
    it (the learner model moves), once; a submission not waiting for one is 409."""
    require_admin(user, to=ADMINS_ONLY)
    submission = (
        await session.execute(select(Submission).where(Submission.id == submission_id).with_for_update())
    ).scalar_one_or_none()
    if submission is None:
        raise ProblemError(404, "submission_not_found", "no such submission")
    if submission.status != "awaiting_instructor":
        raise ProblemError(
            409,
            "submission_not_awaiting_grade",
            f"this submission is {submission.status}, not awaiting a grade",
        )
    exercise = await session.get(Exercise, submission.exercise_id)
    assert exercise is not None  # a submission goes with its exercise (ON DELETE CASCADE)
    score = round(grade.score, 4)
    recorded = await session.run_sync(
        lambda sync: record_grade(sync, submission=submission, exercise=exercise, score=score)
    )
    await session.run_sync(lambda sync: lti.queue_score(sync, LTI_SCORE, submission=submission, score=score))
    await session.run_sync(
        lambda sync: xapi.record_grade(sync, XAPI_SEND, submission=submission, exercise=exercise, score=score)
    )
    output = recorded_grade(
        submission,
        score=score,
        mastery=recorded.mastery,
        feedback=grade.feedback.strip(),
        mistakes=[],
        hint_for_next_try="",
        graded_by="instructor",
    )
    submission.status = "graded"
    submission.result = output.model_dump(mode="json")
    submission.graded_at = datetime.now(UTC)
    await commit_async(session)
    return SubmissionRead.model_validate(submission, from_attributes=True)
