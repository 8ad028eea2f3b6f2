"""The platform's own tasks, each declared once: the name messages carry, the queue, the limits.

Their bodies live in `tasks/platform/`; beat's schedule, Celery's routes and every sender use
these declarations, so a name is never spelled twice.
"""

from __future__ import annotations

from core import lanes
from core.jobspec import PlatformTask

RECONCILE = PlatformTask(
    "mentorq.maintenance.reconcile",
    lanes.MAINTENANCE,
    soft_time_limit=60,
    time_limit=90,
    description="Publish unpublished and lost jobs, requeue or fail jobs of dead workers, send due webhooks.",
)
# A retention run stops between batches after its budget; the next run carries on.
RETENTION_BUDGET_S = 120
RETENTION = PlatformTask(
    "mentorq.maintenance.retention",
    lanes.MAINTENANCE,
    soft_time_limit=RETENTION_BUDGET_S + 60,
    time_limit=RETENTION_BUDGET_S + 90,
    description="Delete jobs finished longer ago than MENTORQ_JOB_RETENTION_DAYS.",
)
SCHEDULE_REEMBEDDING = PlatformTask(
    "mentorq.maintenance.reembed",
    lanes.MAINTENANCE,
    soft_time_limit=60,
    time_limit=90,
    description="Queue `reembed` jobs for chunks a model lacks; switch the active model once it covers all.",
)
SCHEDULE_SOURCES = PlatformTask(
    "mentorq.maintenance.sources",
    lanes.MAINTENANCE,
    soft_time_limit=60,
    time_limit=90,
    description="Submit a `source_run` job per due, unpaused source; advance its next run by its cron.",
)
DELIVER_WEBHOOK = PlatformTask(
    "mentorq.webhooks.deliver",
    lanes.IO,
    soft_time_limit=60,
    time_limit=90,
    description="One attempt at one webhook message.",
)
SEND_ACCOUNT_MAIL = PlatformTask(
    "mentorq.accounts.send_mail",
    lanes.IO,
    soft_time_limit=60,
    time_limit=90,
    description="One attempt at one account mail (e-mail verification, password reset) over SMTP.",
)
EMBED_QUERY = PlatformTask(
    "mentorq.knowledge.embed_query",
    lanes.QUERY,
    soft_time_limit=30,
    time_limit=40,
    description="Embed a search query and hand the vector back to the waiting API request.",
)

SCHEDULE_ROSTERS = PlatformTask(
    "mentorq.lti.rosters",
    lanes.MAINTENANCE,
    soft_time_limit=60,
    time_limit=90,
    description="Submit an `lti.roster` job per course not synced for MENTORQ_LTI_ROSTER_SYNC_SECONDS.",
)
PLATFORM_TASKS: tuple[PlatformTask, ...] = (
    RECONCILE,
    RETENTION,
    SCHEDULE_REEMBEDDING,
    SCHEDULE_SOURCES,
    SCHEDULE_ROSTERS,
    DELIVER_WEBHOOK,
    SEND_ACCOUNT_MAIL,
    EMBED_QUERY,
)
