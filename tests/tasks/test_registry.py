"""The kind registry: every spec has its task, every task its spec or platform declaration, and Celery's
include list and routes come from them (a worker process is asked, not assumed)."""

from __future__ import annotations

from core.jobspec import JobSpec
from core.platform_tasks import PLATFORM_TASKS
from tasks.registry import all_kinds, enabled_kinds, registration_problems, task_modules
from tests.support.fresh_process import last_json_line
from tests.support.stack import REPO

WORKER_VIEW = """
import json
import celeryconfig
from workers.celery_app import app
app.loader.import_default_modules()
print(json.dumps({
    "registered": sorted(app.tasks),
    "include": list(app.conf.include),
    "routes": {name: route["queue"] for name, route in app.conf.task_routes.items()},
    "queues": sorted(queue.name for queue in app.conf.task_queues),
}))
"""


def worker_view() -> dict:
    return last_json_line(WORKER_VIEW)


def test_every_spec_has_a_registered_task_and_every_task_a_spec() -> None:
    view = worker_view()
    assert registration_problems(set(view["registered"])) == []
    kinds = all_kinds()
    assert {"chat", "embed", "ingest", "reembed", "debug.sleep"} <= set(kinds)
    for kind in kinds.values():
        for route in kind.routes():
            assert route.task_name in view["registered"]
            assert view["routes"][route.task_name] == route.queue
    for task in PLATFORM_TASKS:
        assert task.name in view["registered"]
        assert view["routes"][task.name] == task.queue
    assert view["include"] == task_modules()
    assert set(view["queues"]) == {"llm", "embed", "query", "cpu", "io", "maintenance", "transcribe"}


def test_a_spec_without_a_task_or_a_task_without_a_spec_is_reported() -> None:
    registered = {route.task_name for kind in all_kinds().values() for route in kind.routes()}
    registered |= {task.name for task in PLATFORM_TASKS} | {"celery.chord_unlock"}
    assert registration_problems(registered) == []
    assert registration_problems(registered - {"mentorq.tasks.ingest.embed"}) == [
        "ingest: no task registered as 'mentorq.tasks.ingest.embed'"
    ]
    assert registration_problems(registered | {"mentorq.tasks.forgotten"}) == [
        "task 'mentorq.tasks.forgotten' is registered but no spec or platform declaration names it"
    ]


def test_each_kind_folder_holds_a_spec_and_a_task_and_nothing_else_lists_kinds() -> None:
    for name, kind in all_kinds().items():
        assert isinstance(kind, JobSpec) and kind.name == name
    folders = [module.split(".")[1] for module in task_modules() if module.endswith(".task")]
    for folder in folders:
        assert (REPO / "tasks" / folder / "spec.py").is_file()
        assert (REPO / "tasks" / folder / "task.py").is_file()
    assert len(folders) == len(all_kinds())


def test_clients_see_public_kinds_only() -> None:
    public = enabled_kinds(include_debug=False)
    assert "chat" in public and "embed" in public
    assert not {"ingest", "reembed", "debug.sleep"} & set(public)
    assert "debug.sleep" in enabled_kinds(include_debug=True)
