"""Beat's roster pass: an `lti.roster` job for each course whose platform offers its roster (NRPS)
and that beat has not queued one for in MENTORQ_LTI_ROSTER_SYNC_SECONDS, so the console and the
stats show a course's learners before they launch, and leavers as Inactive or Deleted."""

from __future__ import annotations

from datetime import timedelta

from core.platform_tasks import SCHEDULE_ROSTERS
from core.settings import get_settings
from db import jobs as job_queries
from db import lti
from db.unit_of_work import unit_of_work
from tasks.lti_roster.spec import SPEC as ROSTER
from workers.celery_app import platform_task

MAX_COURSES_PER_TICK = 200  # the rest are due on the next tick


@platform_task(SCHEDULE_ROSTERS)
def sync_due_rosters() -> dict[str, int]:
    """Queued once per course and period whatever the sync's outcome (a course whose platform
    fails it is tried again next period, not every tick); the job retries a platform that is down."""
    every = get_settings().lti_roster_sync_seconds
    if every <= 0:
        return {"submitted": 0}
    with unit_of_work() as session:
        due = lti.due_rosters(session, every=timedelta(seconds=every), limit=MAX_COURSES_PER_TICK)
        for context_id in due:
            job_queries.create_job(session, ROSTER, input={"context_id": str(context_id)}, owner_id=None)
    return {"submitted": len(due)}
