"""The registry of job kinds: what the API validates against and where each kind's task runs.

It lives with the job model, not with the tasks, so the API can validate input and enqueue
by task name without importing task code or any model library. Each kind is one module
here (its schemas and routing) and one module in ``tasks/`` (its logic).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from db.kinds import chat, debug, embed


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

    @property
    def task_name(self) -> str:
        return f"mentorq.tasks.{self.name}"


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
    """The kinds this deployment accepts."""
    return {name: kind for name, kind in KINDS.items() if include_debug or not kind.debug_only}
