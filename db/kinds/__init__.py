"""The registry of job kinds: what the API validates against and where each kind's task runs.

It lives with the job model, not with the tasks, so the API can validate input and enqueue
by task name without importing task code or any model library. Each kind is one module
here (its schemas and routing) and one module in ``tasks/`` (its logic).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from db.kinds import chat, debug, embed, knowledge


@dataclass(frozen=True)
class JobStage:
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
class JobKind:
    name: str
    description: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    queue: str
    soft_time_limit: int
    time_limit: int
    max_attempts: int = 3
    debug_only: bool = False
    # Created by the platform itself (document endpoints, beat), never through POST /v1/jobs.
    internal: bool = False
    later_stages: tuple[JobStage, ...] = ()

    @property
    def task_name(self) -> str:
        return f"mentorq.tasks.{self.name}"

    def route(self, stage: str | None = None) -> Route:
        """The first stage's route (stage None), or a later stage's."""
        if stage is None:
            return Route(self.task_name, self.queue, self.soft_time_limit, self.time_limit)
        for later in self.later_stages:
            if later.name == stage:
                return Route(f"{self.task_name}.{later.name}", later.queue, later.soft_time_limit, later.time_limit)
        raise KeyError(f"kind {self.name!r} has no stage {stage!r}")

    def routes(self) -> list[Route]:
        return [self.route(None), *(self.route(stage.name) for stage in self.later_stages)]


KINDS: dict[str, JobKind] = {
    kind.name: kind
    for kind in (
        JobKind(
            name="chat",
            description="One LLM chat completion, optionally constrained to a JSON schema; streams tokens.",
            input_model=chat.ChatInput,
            output_model=chat.ChatOutput,
            queue="gpu",
            soft_time_limit=300,
            time_limit=330,
        ),
        JobKind(
            name="embed",
            description="Normalized embeddings of 1 to 256 texts.",
            input_model=embed.EmbedInput,
            output_model=embed.EmbedOutput,
            queue="gpu",
            soft_time_limit=120,
            time_limit=150,
        ),
        JobKind(
            name="ingest",
            description="Parse, chunk and embed one document (created by the /v1/documents endpoints).",
            input_model=knowledge.IngestInput,
            output_model=knowledge.IngestOutput,
            queue="cpu",
            soft_time_limit=300,
            time_limit=330,
            internal=True,
            later_stages=(JobStage(name="embed", queue="gpu", soft_time_limit=1800, time_limit=1860),),
        ),
        JobKind(
            name="reembed",
            description="Embed a batch of chunks under a model (scheduled by beat when the embedding model changes).",
            input_model=knowledge.ReembedInput,
            output_model=knowledge.ReembedOutput,
            queue="gpu",
            soft_time_limit=600,
            time_limit=630,
            internal=True,
        ),
        JobKind(
            name="debug.sleep",
            description="Sleeps in steps, reporting progress; can crash its worker. Tests and smoke checks only.",
            input_model=debug.SleepInput,
            output_model=debug.SleepOutput,
            queue="cpu",
            soft_time_limit=4,
            time_limit=6,
            max_attempts=2,
            debug_only=True,
        ),
    )
}


def enabled_kinds(*, include_debug: bool) -> dict[str, JobKind]:
    """The kinds clients may submit through POST /v1/jobs."""
    return {
        name: kind
        for name, kind in KINDS.items()
        if not kind.internal and (include_debug or not kind.debug_only)
    }
