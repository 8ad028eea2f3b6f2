"""Metrics across a service's processes: uvicorn's workers, Celery's prefork children.

prometheus_client keeps a process's counts in its memory unless PROMETHEUS_MULTIPROC_DIR names a
folder when it is first imported; then each process writes its counts to files there, and a scrape
adds up every file (its MultiProcessCollector). So the folder must be in the environment before
anything imports prometheus_client, and shared by the process that serves the scrape and every
child it forks or spawns: `share_across_processes()` puts it in the service's environment in its entry
point (`mentorq api` with several workers, before uvicorn starts them; `mentorq worker`, before Celery
forks its pool). A worker started as plain `celery worker` without the variable counts each child in
its own memory, and its endpoint says so at start (workers/metrics_endpoint.py).

A fresh folder for each start (in the state folder, or the temporary folder): files of an earlier
run would be added to this one's counts. The command then becomes the service (exec), so nothing
is left to remove the folder: it holds a few kB per process, and a container's temporary folder
goes with it. An operator may name the folder instead (then emptying it at start is theirs, as
prometheus_client says).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

# prometheus_client is imported inside the functions: importing it decides how this process counts.
VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def share_across_processes(env: dict[str, str]) -> None:
    """Give the service `env` is for a fresh folder to count in, unless it names one already: in
    its state folder when it has one (MENTORQ_STATE_DIR), else in the temporary folder."""
    if env.get(VARIABLE):
        return
    state = env.get("MENTORQ_STATE_DIR")
    parent = Path(state) / "metrics" if state else None
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    env[VARIABLE] = tempfile.mkdtemp(prefix="mentorq-metrics-", dir=parent)


def scrape_registry() -> CollectorRegistry | None:
    """A registry that adds up every process's files, or None when this process counts in memory
    (then the default registry has it all)."""
    if not os.environ.get(VARIABLE):
        return None
    from prometheus_client import CollectorRegistry, multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def forget_process(pid: int) -> None:
    """A child ended: its live gauges (calls in flight) stop counting; its counters stay."""
    if os.environ.get(VARIABLE):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
