"""GET /v1/admin/stats: the database's figures (db.stats) and the live workers, shaped."""

from __future__ import annotations

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
        ),
        hour=_window(figures, "hour"),
        day=_window(figures, "day"),
    )
