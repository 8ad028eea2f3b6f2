"""The `lti.score` kind's body: post the submission's score to its line item, once.

Sent twice only if a worker dies between the platform's answer and the job's end; the score then
goes again with the same timestamp and value, which a platform keeps as it was (AGS 2.0: a score
is applied unless the one on record is newer), so the gradebook shows one grade either way."""

from __future__ import annotations

from db import lti
from db.unit_of_work import unit_of_work
from tasks.lti_score.spec import SPEC, ScoreInput, ScoreOutput
from workers.errors import JobFailure
from workers.lti.platform_client import post_score
from workers.runtime import JobContext, job_task


@job_task(SPEC)
def send_score(ctx: JobContext, payload: ScoreInput) -> ScoreOutput:
    with unit_of_work() as session:
        platform = lti.platform_sync(session, payload.platform_id)
        if platform is None:
            raise JobFailure("lti_platform_gone", "the platform was removed; the score has nowhere to go")
        session.expunge(platform)
    score = {
        "userId": payload.user_id,
        "scoreGiven": payload.score_given,
        "scoreMaximum": payload.score_maximum,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": payload.timestamp.isoformat(timespec="milliseconds"),
    }
    ctx.progress("sending")
    status = post_score(platform, payload.lineitem_url, score)
    return ScoreOutput(
        submission_id=payload.submission_id, lineitem_url=payload.lineitem_url, status_code=status
    )
