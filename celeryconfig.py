"""Celery settings: broker, queues, task modules and routes, reliability and the beat schedule.

Results live in PostgreSQL (the job row), so there is no result backend. A message is acked
only after its task ran (acks_late) and is put back if the worker process died
(reject_on_worker_lost); the job runtime's conditional claim makes the redelivery harmless.
Task modules and routes are derived from the kinds' specs (tasks/registry.py) and the platform
task declarations (core/platform_tasks.py): nothing here names a kind.
"""

from celery.schedules import crontab
from kombu import Queue

from core.platform_tasks import (
    PLATFORM_TASKS,
    RECONCILE,
    RETENTION,
    SCHEDULE_REEMBEDDING,
    SCHEDULE_ROSTERS,
    SCHEDULE_SOURCES,
)
from core.settings import get_settings
from tasks.registry import all_kinds, task_modules

_settings = get_settings()

broker_url = _settings.celery_broker_url
broker_connection_retry_on_startup = True
broker_connection_timeout = _settings.broker_publish_timeout_seconds
broker_transport_options = {
    # Longer than the longest job: an unacked message comes back only after this, and the
    # reconciler (heartbeats) recovers crashed jobs much sooner.
    "visibility_timeout": _settings.broker_visibility_timeout_seconds,
    # kombu looks for messages past that timeout every interval x throttle seconds (100 by
    # default): every 10 s, one sorted-set range read, so a short timeout is honoured promptly.
    "unacked_restore_interval": min(10.0, _settings.broker_visibility_timeout_seconds / 2),
    "unacked_restore_throttle": 1,
    "socket_connect_timeout": _settings.broker_publish_timeout_seconds,
    "socket_timeout": 30,
}
result_backend = None
task_ignore_result = True

task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
timezone = "UTC"
enable_utc = True

task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
# A task running when the broker connection drops keeps running. Its message cannot be acked
# any more and comes back later, but the claim refuses a finished job, so finishing the work
# beats killing it and running it again once the job's heartbeat goes stale.
worker_cancel_long_running_tasks_on_connection_loss = False
# Task events cost a Redis publish each; Flower switches them on in the workers it watches
# (enable_events) while it runs, so they are off otherwise.
worker_send_task_events = False
task_send_sent_event = False

# Every kind's task.py and every platform task module: a worker imports them all.
include = task_modules()
_routes = [route for kind in all_kinds().values() for route in kind.routes()] + [
    t.route for t in PLATFORM_TASKS
]
task_routes = {route.task_name: {"queue": route.queue} for route in _routes}
# The queues are the lanes of core/lanes.py (llm, embed, query, cpu, io, maintenance); how each
# lane's worker runs (threads for llm, one process for embed and query) is `mentorq worker --lane`.
task_queues = [Queue(name) for name in sorted({route.queue for route in _routes})]
task_default_queue = "cpu"

beat_schedule = {
    "reembed-when-the-model-changes": {
        "task": SCHEDULE_REEMBEDDING.name,
        "schedule": _settings.reembed_every_seconds,
        "options": {"expires": max(1.0, _settings.reembed_every_seconds)},
    },
    # The same pass, nightly, is also what embeds any chunk the active model lacks.
    "embed-missing-nightly": {"task": SCHEDULE_REEMBEDDING.name, "schedule": crontab(hour=3, minute=17)},
    "reconcile-jobs": {
        "task": RECONCILE.name,
        "schedule": _settings.reconcile_every_seconds,
        # A reconcile run older than its period is pointless: the next one is already coming.
        "options": {"expires": max(1.0, _settings.reconcile_every_seconds)},
    },
    # Scheduled sources: submits the runs of the due ones (their cron is in the database).
    "run-due-sources": {
        "task": SCHEDULE_SOURCES.name,
        "schedule": _settings.sources_tick_seconds,
        "options": {"expires": max(1.0, _settings.sources_tick_seconds)},
    },
    # Deletes finished jobs past MENTORQ_JOB_RETENTION_DAYS (a no-op when that is 0).
    "delete-expired-jobs": {
        "task": RETENTION.name,
        "schedule": _settings.retention_every_seconds,
        # Runs that piled up while no maintenance worker was there would only find nothing to do.
        "options": {"expires": max(1.0, _settings.retention_every_seconds)},
    },
}
if _settings.lti_roster_sync_seconds > 0:
    # Each LTI course's roster, once per period; the pass runs at least hourly to find due courses.
    _roster_tick = min(3600.0, _settings.lti_roster_sync_seconds)
    beat_schedule["sync-lti-rosters"] = {
        "task": SCHEDULE_ROSTERS.name,
        "schedule": _roster_tick,
        "options": {"expires": max(1.0, _roster_tick)},
    }
