"""A job's statuses, defined once: the API, the workers, the database and the command line all read these."""

from __future__ import annotations

import enum


class JobStatus(enum.StrEnum):
    """`queued -> running -> succeeded | failed | canceled` (and `queued -> canceled`)."""

    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"


# Which statuses are still moving and which are final, as plain strings.
ACTIVE = frozenset({JobStatus.queued.value, JobStatus.running.value})
TERMINAL = frozenset({JobStatus.succeeded.value, JobStatus.failed.value, JobStatus.canceled.value})
