"""The registry of job kinds, found from the folders: every `tasks/<folder>/spec.py` declares one.

A kind is one folder with two files: `spec.py` (a `SPEC = JobSpec(...)` and its input and
output models; light, so the API may import it) and `task.py` (its body under the house
decorator). Nothing else lists kinds: the API's validation, Celery's include list and routes,
beat and the reconciler all read this registry, and a test fails if a folder has a spec but no
registered task, or a registered task has no spec.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from pathlib import Path

from core.jobspec import JobSpec

TASKS_DIR = Path(__file__).resolve().parent
PLATFORM_PACKAGE = "tasks.platform"


def _kind_folders() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.iter_modules([str(TASKS_DIR)])
        if info.ispkg and (TASKS_DIR / info.name / "spec.py").is_file()
    )


@cache
def _load() -> dict[str, tuple[str, JobSpec]]:
    kinds: dict[str, tuple[str, JobSpec]] = {}
    for folder in _kind_folders():
        spec = getattr(importlib.import_module(f"tasks.{folder}.spec"), "SPEC", None)
        if not isinstance(spec, JobSpec):
            raise TypeError(f"tasks/{folder}/spec.py must define SPEC = JobSpec(...)")
        if spec.name in kinds:
            raise ValueError(
                f"kind {spec.name!r} is declared in tasks/{kinds[spec.name][0]} and tasks/{folder}"
            )
        kinds[spec.name] = (folder, spec)
    return kinds


def all_kinds() -> dict[str, JobSpec]:
    """Every kind, by name."""
    return {name: spec for name, (_, spec) in _load().items()}


def instructed_kinds() -> tuple[str, ...]:
    """The kinds whose system prompt is a versioned instruction (JobSpec.instructed)."""
    return tuple(name for name, spec in all_kinds().items() if spec.instructed)


def get_kind(name: str) -> JobSpec:
    """The kind of that name; KeyError for an unknown one."""
    return _load()[name][1]


def enabled_kinds(*, include_debug: bool) -> dict[str, JobSpec]:
    """The kinds clients may submit through POST /v1/jobs."""
    return {
        name: spec
        for name, spec in all_kinds().items()
        if not spec.internal and (include_debug or not spec.debug_only)
    }


def task_modules() -> list[str]:
    """What a worker imports so every task registers itself: each kind's task.py and the platform tasks."""
    platform = [
        f"{PLATFORM_PACKAGE}.{info.name}" for info in pkgutil.iter_modules([str(TASKS_DIR / "platform")])
    ]
    return [f"tasks.{folder}.task" for folder, _ in _load().values()] + sorted(platform)


def registration_problems(registered: set[str]) -> list[str]:
    """What is wrong between the specs, the platform declarations and the tasks a worker registered:
    a route with no task (its jobs would wait for ever) or a task that nothing declares."""
    from core.platform_tasks import PLATFORM_TASKS

    declared = {route.task_name: kind.name for kind in all_kinds().values() for route in kind.routes()}
    declared |= {task.name: "platform" for task in PLATFORM_TASKS}
    ours = {name for name in registered if not name.startswith("celery.")}
    problems = [f"{declared[name]}: no task registered as {name!r}" for name in sorted(set(declared) - ours)]
    problems += [
        f"task {name!r} is registered but no spec or platform declaration names it"
        for name in sorted(ours - set(declared))
    ]
    return problems
