"""What a job kind declares about itself, and what a platform task declares: names, queues, limits.

A kind's `tasks/<kind>/spec.py` holds one `JobSpec`; everything else about routing is derived
from it: the Celery task names, the queues, the time limits, Celery's include list and routes.
Platform tasks (the reconciler, retention, webhook delivery, query embedding) are not jobs;
each is declared once in `core/platform_tasks.py` as a `PlatformTask`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

TASK_PREFIX = "mentorq.tasks."


def task_name_of(kind: str, stage: str | None = None) -> str:
    """The Celery task name of a kind's stage (None: the first)."""
    return TASK_PREFIX + kind + (f".{stage}" if stage else "")


@dataclass(frozen=True)
class Stage:
    """A later stage of a kind that runs elsewhere (ingest: parse on cpu, then embed on gpu)."""

    name: str
    queue: str
    soft_time_limit: int
    time_limit: int


@dataclass(frozen=True)
class Route:
    """Where one stage of a job runs: task name, queue and time limits."""

    task_name: str
    queue: str
    soft_time_limit: int
    time_limit: int


@dataclass(frozen=True)
class JobSpec:
    """One job kind: its schemas, where its first stage runs, and any later stages."""

    name: str
    description: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    queue: str
    soft_time_limit: int
    time_limit: int
    max_attempts: int = 3
    # Only with MENTORQ_DEBUG_KINDS (tests and smoke checks).
    debug_only: bool = False
    # Created by the platform itself (document endpoints, beat), never through POST /v1/jobs.
    internal: bool = False
    # Its system prompt is a versioned instruction admins edit (db/instructions.py, /v1/admin/instructions).
    instructed: bool = False
    later_stages: tuple[Stage, ...] = ()

    @property
    def task_name(self) -> str:
        return task_name_of(self.name)

    def route(self, stage: str | None = None) -> Route:
        """The first stage's route (stage None), or a later stage's."""
        if stage is None:
            return Route(self.task_name, self.queue, self.soft_time_limit, self.time_limit)
        for later in self.later_stages:
            if later.name == stage:
                return Route(
                    task_name_of(self.name, later.name), later.queue, later.soft_time_limit, later.time_limit
                )
        raise KeyError(f"kind {self.name!r} has no stage {stage!r}")

    def routes(self) -> list[Route]:
        """Every stage's route, the first one first."""
        return [self.route(None), *(self.route(stage.name) for stage in self.later_stages)]


@dataclass(frozen=True)
class PlatformTask:
    """A task of the platform itself (not a job): its explicit name, queue and time limits."""

    name: str
    queue: str
    soft_time_limit: int
    time_limit: int
    description: str

    @property
    def route(self) -> Route:
        return Route(self.name, self.queue, self.soft_time_limit, self.time_limit)
