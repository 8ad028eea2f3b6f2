"""GET /v1/admin/stats: the database's figures (db.stats) and the live workers, shaped; and the
console overview's charts of the same windows."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.shared import require_admin
from api.stats.schemas import (
    CacheStats,
    KindStats,
    LibraryStats,
    Percentiles,
    StatsRead,
    WebhookStats,
    WindowStats,
    WorkerStats,
)
from api.worker_registry import live_workers, workers_per_queue
from core.job_status import JobStatus
from core.stats.charts import Chart, Series, colours, line_chart
from db import stats as stats_queries
from db.models import User
from tasks.ask.spec import SPEC as ASK

# What the admin check says only admins may do here (403 admin_only).
ADMINS_ONLY = "see the platform's stats"

# A delivery in these has reached its end; `pending`/`sending` ones have not yet.
WEBHOOK_ENDED = ("succeeded", "failed", "disabled")


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _percentiles(values: list[float | None] | None) -> Percentiles:
    p50, p95 = values or (None, None)
    return Percentiles(p50=_ms(p50), p95=_ms(p95))


def _window(figures: dict[str, Any], window: str) -> WindowStats:
    by_kind: dict[str, KindStats] = {}
    for row in sorted(figures["jobs"], key=lambda r: r.kind):
        by_status = {
            status.value: count for status in JobStatus if (count := getattr(row, f"{window}_{status.value}"))
        }
        if by_status:  # a kind seen in the day but not in the hour is left out of the hour
            by_kind[row.kind] = KindStats(
                jobs=sum(by_status.values()),
                by_status=by_status,
                queue_ms=_percentiles(getattr(row, f"{window}_queue_ms")),
                run_ms=_percentiles(getattr(row, f"{window}_run_ms")),
            )

    hits = getattr(figures["cache_hits"], window)
    asked = by_kind[ASK.name].by_status.get("succeeded", 0) if ASK.name in by_kind else 0
    misses = max(asked - hits, 0)  # a hit made between the two reads must not go negative
    deliveries = {row.status: getattr(row, window) for row in figures["webhooks"] if getattr(row, window)}
    ended = sum(deliveries.get(status, 0) for status in WEBHOOK_ENDED)
    return WindowStats(
        jobs=sum(stats.jobs for stats in by_kind.values()),
        by_kind=by_kind,
        failure_codes={
            row.code: getattr(row, window)
            for row in sorted(figures["failures"], key=lambda r: -getattr(r, window))
            if getattr(row, window)
        },
        cache=CacheStats(hits=hits, misses=misses, hit_ratio=_ratio(hits, hits + misses)),
        webhooks=WebhookStats(
            by_status=deliveries, success_rate=_ratio(deliveries.get("succeeded", 0), ended)
        ),
    )


async def stats(session: AsyncSession, *, user: User) -> StatsRead:
    require_admin(user, to=ADMINS_ONLY)
    now = datetime.now(UTC)
    figures = await stats_queries.read(session, hour=now - timedelta(hours=1), day=now - timedelta(days=1))
    backlog: dict[str, dict[str, int]] = {}
    for row in figures["backlog"]:
        backlog.setdefault(row.queue, {"queued": 0, "running": 0})[row.status] = row.jobs
    workers = await live_workers()
    return StatsRead(
        generated_at=now,
        library=LibraryStats(**figures["library"]),
        backlog=dict(sorted(backlog.items())),
        workers=WorkerStats(
            count=len(workers),
            per_queue=workers_per_queue(workers),
            speech={w["hostname"]: w["speech"] for w in workers if w.get("speech")},
            devices={w["hostname"]: w["device"] for w in workers if w.get("device")},
        ),
        hour=_window(figures, "hour"),
        day=_window(figures, "day"),
    )


# --- the overview's charts ------------------------------------------------------------------------

# Each window drawn in buckets: a minute over the hour, half an hour over the day.
CHART_WINDOWS = (
    ("hour", "Last hour", timedelta(hours=1), 60),
    ("day", "Last 24 hours", timedelta(days=1), 1800),
)
STATUS_COLOURS = {
    JobStatus.succeeded.value: "#009e73",
    JobStatus.failed.value: "#d55e00",
    JobStatus.canceled.value: "#999999",
    JobStatus.queued.value: "#0072b2",
    JobStatus.running.value: "#e69f00",
}


@dataclass(frozen=True)
class WindowCharts:
    slug: str
    label: str
    jobs: Chart
    queue_wait: Chart


async def charts(session: AsyncSession, *, user: User, now: datetime | None = None) -> list[WindowCharts]:
    """Jobs per minute by status, and each lane's queue wait p95, over the last hour and day."""
    require_admin(user, to=ADMINS_ONLY)
    now = now or datetime.now(UTC)
    drawn = []
    for slug, label, span, bucket_s in CHART_WINDOWS:
        last = math.floor(now.timestamp() / bucket_s)
        buckets = list(range(last - round(span.total_seconds() / bucket_s) + 1, last + 1))
        since = datetime.fromtimestamp(buckets[0] * bucket_s, UTC)
        rows = await stats_queries.timeline(session, since=since, bucket_s=bucket_s)
        times = [datetime.fromtimestamp(bucket * bucket_s, UTC) for bucket in buckets]
        place = {bucket: index for index, bucket in enumerate(buckets)}
        per_minute = bucket_s / 60
        jobs: dict[str, list[float | None]] = {}
        for row in rows["jobs"]:
            if row.bucket in place:
                jobs.setdefault(row.status, [0.0] * len(buckets))[place[row.bucket]] = row.jobs / per_minute
        waits: dict[str, list[float | None]] = {}
        for row in rows["queue_wait"]:
            if row.bucket in place:
                waits.setdefault(row.queue, [None] * len(buckets))[place[row.bucket]] = row.p95_ms / 1000
        statuses = [status.value for status in JobStatus if status.value in jobs]
        status_colours = colours(statuses, STATUS_COLOURS)
        lanes = sorted(waits)
        lane_colours = colours(lanes)
        drawn.append(
            WindowCharts(
                slug=slug,
                label=label,
                jobs=line_chart(
                    chart_id=f"{slug}-jobs",
                    title=f"Jobs per minute by status, {label.lower()} (by creation time)",
                    times=times,
                    series=[Series(status, jobs[status], status_colours[status]) for status in statuses],
                    unit="jobs/min",
                ),
                queue_wait=line_chart(
                    chart_id=f"{slug}-queue-wait",
                    title=f"Queue wait p95 per lane, {label.lower()} (seconds)",
                    times=times,
                    series=[Series(lane, waits[lane], lane_colours[lane]) for lane in lanes],
                    unit="s",
                ),
            )
        )
    return drawn
