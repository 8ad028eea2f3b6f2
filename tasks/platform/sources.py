"""Beat's sources pass: submit a run of every due source, and close runs nothing will finish."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from core.platform_tasks import SCHEDULE_SOURCES
from core.settings import get_settings
from core.sources import next_run_after
from db import jobs as job_queries
from db import sources as source_queries
from db.unit_of_work import unit_of_work
from tasks.source_run.spec import SPEC as SOURCE_RUN
from workers.celery_app import platform_task

log = logging.getLogger(__name__)

MAX_SOURCES_PER_TICK = 100


@platform_task(SCHEDULE_SOURCES)
def run_due_sources() -> dict[str, int]:
    """Each due, unpaused source gets one `source_run` job, and its next run moves to the cron's next
    time after now, in the same transaction (a beat that was down for hours runs a source once, not
    once per missed time; two beats never submit the same due run: the rows are locked, SKIP LOCKED).

    The same pass closes, as failed, running runs whose job ended or vanished (a worker killed
    past its last attempt, a job canceled by an admin), so the run log never shows a run
    `running` for ever; a run that finds one on its own source does the same before it starts."""
    settings = get_settings()
    with unit_of_work() as session:
        closed = source_queries.close_abandoned_runs(
            session, pause_after=settings.source_pause_after_failures
        )
    submitted = 0
    with unit_of_work() as session:
        now = datetime.now(UTC)
        for source in source_queries.claim_due_sources(session, limit=MAX_SOURCES_PER_TICK):
            try:
                source.next_run_at = next_run_after(source.schedule, now)
            except (ValueError, KeyError) as error:  # a schedule edited in SQL to something cron refuses
                log.warning("source %s has an unusable schedule %r: %s", source.id, source.schedule, error)
                source.paused = True
                source.paused_reason = f"invalid_schedule: {source.schedule!r} ({error})"
                continue
            job_queries.create_job(
                session,
                SOURCE_RUN,
                input={"source_id": str(source.id), "trigger": "schedule"},
                owner_id=source.owner_id,
            )
            submitted += 1
    return {"submitted": submitted, "abandoned_runs_closed": closed}
