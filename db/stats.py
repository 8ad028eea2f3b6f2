"""The numbers behind /v1/admin/stats, each read without a full scan of a large table.

Jobs and webhook deliveries are read through their created_at indexes over the last day only, hour
and day counted in the same pass; failures and cache hits through partial indexes of their own; the
backlog through the partial index on active jobs; the library's size from documents (one row per
document, each keeping its chunk count)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.job_status import JobStatus
from db.ask import ANSWERED_FROM_CACHE, ASKED_JOB

WINDOWS = ("hour", "day")


def _status_counts() -> str:
    return ",\n".join(
        f"count(*) FILTER (WHERE status = '{status.value}'{' AND in_hour' if window == 'hour' else ''})"
        f" AS {window}_{status.value}"
        for window in WINDOWS
        for status in JobStatus
    )


# One row per kind from one pass over the day's jobs: its count per status and window, and queue and
# run time percentiles (each a single sort, p50 and p95 together). Queue time: creation to the
# (latest) start; run time: that start to completion. Both in ms.
_JOBS_BY_KIND = text(
    f"""
    WITH recent AS (
        SELECT kind, status, created_at >= :hour AS in_hour,
               extract(epoch FROM started_at - created_at) * 1000 AS queue_ms,
               extract(epoch FROM completed_at - started_at) * 1000 AS run_ms
        FROM jobs
        WHERE created_at >= :day
    )
    SELECT kind,
           {_status_counts()},
           percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY queue_ms) FILTER (WHERE in_hour)
               AS hour_queue_ms,
           percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY run_ms) FILTER (WHERE in_hour)
               AS hour_run_ms,
           percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY queue_ms) AS day_queue_ms,
           percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY run_ms) AS day_run_ms
    FROM recent
    GROUP BY kind
    """
)

# Failed jobs only, through their partial index: no other row is read.
_FAILURE_CODES = text(
    """
    SELECT coalesce(error->>'code', 'unknown') AS code,
           count(*) FILTER (WHERE created_at >= :hour) AS hour, count(*) AS day
    FROM jobs
    WHERE created_at >= :day AND status = 'failed'
    GROUP BY 1
    """
)

# Ask jobs the cache answered, counted in their partial index (an ask's output, which may be large,
# is never read); the misses are the kind's other succeeded jobs, known from the jobs-by-kind rows.
_CACHE_HITS = text(
    f"""
    SELECT count(*) FILTER (WHERE created_at >= :hour) AS hour, count(*) AS day
    FROM jobs
    WHERE created_at >= :day AND {ASKED_JOB} AND {ANSWERED_FROM_CACHE}
    """
)

_WEBHOOK_DELIVERIES = text(
    """
    SELECT status, count(*) FILTER (WHERE created_at >= :hour) AS hour, count(*) AS day
    FROM webhook_deliveries
    WHERE created_at >= :day
    GROUP BY status
    """
)

# Per lane and status; the oldest job's age too (the metrics' oldest queued job, api/metrics/).
_BACKLOG = text(
    """
    SELECT queue, status, count(*) AS jobs, extract(epoch FROM now() - min(created_at)) AS oldest_s
    FROM jobs
    WHERE status IN ('queued', 'running')
    GROUP BY queue, status
    """
)

_LIBRARY = text(
    """
    SELECT (SELECT count(*) FROM users) AS users,
           (SELECT count(*) FROM users WHERE is_active) AS active_users,
           count(*) FILTER (WHERE d.active_generation > 0) AS documents,
           count(*) FILTER (WHERE d.status IN ('pending', 'processing')) AS documents_ingesting,
           count(*) FILTER (WHERE d.status = 'failed') AS documents_failed,
           coalesce(sum(d.chunk_count) FILTER (WHERE d.active_generation > 0), 0) AS chunks,
           (SELECT count(*) FROM matches) AS matches,
           (SELECT count(*) FROM targets) AS targets
    FROM documents d
    """
)


async def _rows(session: AsyncSession, query, **params: Any) -> list[Any]:
    return list((await session.execute(query, params)).all())


# The console's charts: the window's jobs per time bucket (by the time they were created, as the
# tables count them) and status, and each lane's queue wait p95 (ms) over the jobs of a bucket
# that have started. Buckets are whole multiples of :bucket_s seconds since the epoch.
_JOBS_PER_BUCKET = text(
    """
    SELECT floor(extract(epoch FROM created_at) / :bucket_s)::bigint AS bucket, status, count(*) AS jobs
    FROM jobs
    WHERE created_at >= :since
    GROUP BY 1, 2
    """
)
_QUEUE_WAIT_PER_BUCKET = text(
    """
    SELECT floor(extract(epoch FROM created_at) / :bucket_s)::bigint AS bucket, queue,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at) * 1000)
               AS p95_ms
    FROM jobs
    WHERE created_at >= :since AND started_at IS NOT NULL
    GROUP BY 1, 2
    """
)


async def timeline(session: AsyncSession, *, since: datetime, bucket_s: int) -> dict[str, list[Any]]:
    """Rows of (bucket, status, jobs) and (bucket, queue, p95_ms) since `since`."""
    params = {"since": since, "bucket_s": bucket_s}
    return {
        "jobs": await _rows(session, _JOBS_PER_BUCKET, **params),
        "queue_wait": await _rows(session, _QUEUE_WAIT_PER_BUCKET, **params),
    }


async def backlog(session: AsyncSession) -> list[Any]:
    """Queued and running jobs per lane: (queue, status, jobs, oldest_s)."""
    return await _rows(session, _BACKLOG)


async def read(session: AsyncSession, *, hour: datetime, day: datetime) -> dict[str, Any]:
    """Every figure as plain rows; the API shapes them."""
    windows = {"hour": hour, "day": day}
    return {
        "library": (await session.execute(_LIBRARY)).one()._asdict(),
        "backlog": await _rows(session, _BACKLOG),
        "jobs": await _rows(session, _JOBS_BY_KIND, **windows),
        "failures": await _rows(session, _FAILURE_CODES, **windows),
        "cache_hits": (await session.execute(_CACHE_HITS, windows)).one(),
        "webhooks": await _rows(session, _WEBHOOK_DELIVERIES, **windows),
    }
