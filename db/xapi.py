"""The xAPI outbox: statements recorded in the transaction of their event, claimed and marked by
`xapi.send` jobs (tasks/xapi_send/), exported with the learner's data.

Recording is a no-op while MENTORQ_XAPI_ENDPOINT is unset: no statement waits for an LRS that may
never be configured (turning xAPI on later sends what happens from then on, not history)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from core.jobspec import JobSpec
from core.settings import get_settings
from core.xapi import statements
from db.jobs import create_job
from db.models import Collection, Document, Exercise, LtiAccount, Submission, XapiStatement

CLAIM_STALE_AFTER = timedelta(minutes=5)  # past the send job's time limit: its worker is gone


@dataclass(frozen=True)
class Cited:
    document_id: uuid.UUID
    title: str
    recording: bool  # cited with a time range: a lecture recording


def _actor(session: Session, user_id: uuid.UUID, base_url: str) -> statements.Actor:
    """The learner's LMS account when a launch linked one (the latest), else mentorq's own."""
    linked = session.execute(
        select(LtiAccount.issuer, LtiAccount.subject)
        .where(LtiAccount.user_id == user_id)
        .order_by(LtiAccount.last_launch_at.desc())
        .limit(1)
    ).first()
    if linked is not None:
        return statements.Actor(home_page=linked.issuer, name=linked.subject)
    return statements.Actor(home_page=base_url, name=str(user_id))


def _record(
    session: Session,
    send_spec: JobSpec,
    *,
    user_id: uuid.UUID,
    events: list[tuple[uuid.UUID, str, statements.Activity, Any]],
) -> None:
    """Store each (id, verb, activity, result) as a statement, once per id, and queue a send job
    for the new ones; both commit with the caller's event or not at all."""
    settings = get_settings()
    base_url = settings.public_url
    if not settings.xapi_endpoint or not base_url:
        return
    actor = _actor(session, user_id, base_url)
    now = datetime.now(UTC)
    rows = [
        {
            "id": statement_id,
            "user_id": user_id,
            "verb": verb,
            "statement": statements.statement(
                statement_id=statement_id,
                actor=actor,
                verb=verb,
                activity=activity,
                base_url=base_url,
                timestamp=now,
                result=result,
            ),
        }
        for statement_id, verb, activity, result in events
    ]
    if not rows:
        return
    new_ids = list(
        session.execute(
            insert(XapiStatement).values(rows).on_conflict_do_nothing().returning(XapiStatement.id)
        ).scalars()
    )
    if new_ids:
        create_job(
            session,
            send_spec,
            job_id=uuid.uuid5(new_ids[0], send_spec.name),
            owner_id=user_id,
            input={"statement_ids": [str(statement_id) for statement_id in new_ids]},
        )


# What an LRS is told an activity is called when its own name is private: a learner's generated
# exercise (its prompt comes from their own documents) or a document of a private collection (its
# title may hold a name, an e-mail address). The id still tells the activities apart.
PRIVATE_EXERCISE = "a practice exercise"
PRIVATE_DOCUMENT = "a private document"
PRIVATE_RECORDING = "a private recording"


def _exercise(exercise: Exercise) -> statements.Activity:
    """An exercise written for everyone or a course is named by its title; a learner's own
    generated one, and one without a title, by PRIVATE_EXERCISE, never by its prompt."""
    shared = exercise.owner_id is None and exercise.title
    return statements.Activity(
        f"/exercises/{exercise.id}", statements.EXERCISE_TYPE, exercise.title if shared else PRIVATE_EXERCISE
    )


def record_attempt(
    session: Session, send_spec: JobSpec, *, submission: Submission, exercise: Exercise
) -> None:
    """`attempted`: the learner sent an answer (before it is graded)."""
    _record(
        session,
        send_spec,
        user_id=submission.user_id,
        events=[
            (statements.statement_id(submission.id, "attempted"), "attempted", _exercise(exercise), None)
        ],
    )


def record_grade(
    session: Session, send_spec: JobSpec, *, submission: Submission, exercise: Exercise, score: float
) -> None:
    """`answered` with the score, then `passed` and `completed`, or `failed`."""
    _record(
        session,
        send_spec,
        user_id=submission.user_id,
        events=[
            (statements.statement_id(submission.id, verb), verb, _exercise(exercise), result)
            for verb, result in statements.grade_verbs(score)
        ],
    )


def record_question(
    session: Session,
    send_spec: JobSpec,
    *,
    job_id: uuid.UUID,
    user_id: uuid.UUID,
    question: str,
    collection_ids: list[uuid.UUID],
    cited: list[Cited],
) -> None:
    """`asked` for the tutor's collection (the question's text only if the operator shares it), and
    `experienced` for each document or recording the answer cited: what the learner read through
    the tutor."""
    share = get_settings().xapi_share_questions
    target = (
        statements.Activity(f"/collections/{collection_ids[0]}", statements.COLLECTION_TYPE)
        if len(collection_ids) == 1
        else statements.Activity("/tutor", statements.COLLECTION_TYPE, "the tutor")
    )
    events: list[tuple[uuid.UUID, str, statements.Activity, Any]] = [
        (
            statements.statement_id(job_id, "asked"),
            "asked",
            target,
            statements.question_result(question, share_text=share),
        )
    ]
    documents = {item.document_id: item for item in cited}
    private = set(
        session.execute(
            select(Document.id)
            .join(Collection, Collection.id == Document.collection_id)
            .where(Document.id.in_(documents), Collection.owner_id.is_not(None))
        ).scalars()
    )
    for document in documents.values():
        kind = statements.RECORDING_TYPE if document.recording else statements.DOCUMENT_TYPE
        title = document.title
        if document.document_id in private:
            title = PRIVATE_RECORDING if document.recording else PRIVATE_DOCUMENT
        events.append(
            (
                statements.statement_id(job_id, "experienced", str(document.document_id)),
                "experienced",
                statements.Activity(f"/documents/{document.document_id}", kind, title),
                None,
            )
        )
    _record(session, send_spec, user_id=user_id, events=events)


def claim(session: Session, *, job_id: uuid.UUID, limit: int) -> list[XapiStatement]:
    """The oldest unsent statements for this job to send: its own claim again (a retry after its
    worker died), unclaimed ones, or ones whose claim is stale. SKIP LOCKED: two jobs never take
    the same statement."""
    stale = datetime.now(UTC) - CLAIM_STALE_AFTER
    candidates = (
        select(XapiStatement.id)
        .where(
            XapiStatement.sent_at.is_(None),
            XapiStatement.error_code.is_(None),
            or_(
                XapiStatement.claimed_by.is_(None),
                XapiStatement.claimed_by == job_id,
                XapiStatement.claimed_at < stale,
            ),
        )
        .order_by(XapiStatement.created_at, XapiStatement.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    claimed = session.execute(
        update(XapiStatement)
        .where(XapiStatement.id.in_(candidates))
        .values(claimed_by=job_id, claimed_at=func.now())
        .returning(XapiStatement)
    ).scalars()
    return sorted(claimed, key=lambda row: (row.created_at, row.id))


def mark_sent(session: Session, ids: list[uuid.UUID]) -> None:
    session.execute(update(XapiStatement).where(XapiStatement.id.in_(ids)).values(sent_at=func.now()))


def mark_refused(session: Session, statement_id: uuid.UUID, *, code: str, message: str) -> None:
    session.execute(
        update(XapiStatement)
        .where(XapiStatement.id == statement_id)
        .values(error_code=code, error=message[:2000])
    )


def export(session: Session, *, user_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
    """The learner's statements as they were (or will be) sent, and whether each was."""
    rows = session.execute(
        select(XapiStatement).where(XapiStatement.user_id == user_id).order_by(XapiStatement.created_at)
    ).scalars()
    return {
        "xapi_statements": [
            {
                "statement": row.statement,
                "sent_at": row.sent_at.isoformat() if row.sent_at else None,
                "error_code": row.error_code,
            }
            for row in rows
        ]
    }
