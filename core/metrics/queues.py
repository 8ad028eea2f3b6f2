"""The lanes' backlog as metrics, from rows read at scrape time (db.stats.backlog): what is waiting
is the database's to say, so every API replica reports the same figures (query them with max())."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from core import lanes
from core.job_status import JobStatus

_COUNTED = (JobStatus.queued.value, JobStatus.running.value)


class _Backlog(Collector):
    def __init__(self, rows: Iterable[Any]) -> None:
        self._rows = list(rows)

    def collect(self) -> Iterable[GaugeMetricFamily]:
        jobs = GaugeMetricFamily(
            "mentorq_lane_jobs", "Jobs queued and running now, by lane and status.", labels=["lane", "status"]
        )
        oldest = GaugeMetricFamily(
            "mentorq_lane_oldest_queued_job_age_seconds",
            "Age of the oldest queued job, by lane (0 when none waits).",
            labels=["lane"],
        )
        found = {(row.queue, row.status): row for row in self._rows}
        for lane in sorted(set(lanes.ALL) | {queue for queue, _ in found}):
            for status in _COUNTED:
                row = found.get((lane, status))
                jobs.add_metric([lane, status], row.jobs if row else 0)
            queued = found.get((lane, JobStatus.queued.value))
            oldest.add_metric([lane], float(queued.oldest_s) if queued else 0.0)
        return [jobs, oldest]


def backlog_registry(rows: Iterable[Any]) -> CollectorRegistry:
    """A registry holding the backlog `rows` (queue, status, jobs, oldest_s) as gauges."""
    registry = CollectorRegistry()
    registry.register(_Backlog(rows))
    return registry
