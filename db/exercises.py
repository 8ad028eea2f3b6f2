"""The exercises feature's queries (its tables are in db/models/exercises.py; the API's reads are
in its service). Here: a grade recorded in the learner model (the grade job and an instructor's grade
both record one), and submissions whose grading ended without a grade, marked failed with the
job's error, so no submission stays `grading` for good (the reconciler runs this every few seconds)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.progress.learner_model import bkt_parameters
from db import progress
from db.models import Exercise, Submission

# A grade job that failed or was canceled records nothing on its submission (its last transaction
# is the job's); one whose row is gone (deleted with its owner's data, or by hand) cannot. A
# submission with no job for this long is past any job's hard time limit.
ORPHANED_AFTER = "1 hour"


def fail_ungraded(session: Session, *, limit: int) -> int:
    """Mark failed the submissions whose grade job ended without grading them; how many."""
    return (
        session.execute(
            text(
                f"""
                WITH ended AS (
                    SELECT s.id,
                           COALESCE(j.error, jsonb_build_object(
                               'code', CASE WHEN j.status = 'canceled' THEN 'canceled' ELSE 'job_lost' END,
                               'message', CASE WHEN j.status = 'canceled'
                                               THEN 'the grading job was canceled'
                                               ELSE 'the grading job is gone' END)) AS error
                    FROM submissions s
                    LEFT JOIN jobs j ON j.id = s.job_id
                    WHERE s.status = 'grading'
                      AND (j.status IN ('failed', 'canceled')
                           OR (j.id IS NULL AND s.created_at < now() - interval '{ORPHANED_AFTER}'))
                    ORDER BY s.created_at
                    LIMIT :limit
                    FOR UPDATE OF s SKIP LOCKED
                )
                UPDATE submissions
                SET status = 'failed', result = jsonb_build_object('error', ended.error)
                FROM ended
                WHERE submissions.id = ended.id AND submissions.status = 'grading'
                """
            ),
            {"limit": limit},
        ).rowcount
        or 0
    )


def record_grade(
    session: Session, *, submission: Submission, exercise: Exercise, score: float
) -> progress.Recorded:
    """The grade as a progress event of the exercise's skills (mastery and its review card move), in
    the caller's transaction."""
    return progress.record_progress(
        session,
        user_id=submission.user_id,
        completed_task=f"Exercise: {exercise.prompt[:120]}",
        skills=exercise.skills or ([exercise.topic] if exercise.topic else []),
        score=score,
        duration_s=None,
        notes=None,
        session_id=exercise.session_id,
        params=bkt_parameters(),
        item_key=f"exercise:{exercise.id}",
    )
