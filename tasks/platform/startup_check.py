"""A worker refuses to start when its registered tasks and the specs disagree.

Every kind's stages and every platform task must have a task in the worker, or their messages
would wait in the broker for ever (and the reconciler re-publish them every 10 minutes). Celery
imports this module with the other task modules (the include list), before `worker_init` fires.
"""

from __future__ import annotations

from celery.signals import worker_init

from tasks.registry import registration_problems


@worker_init.connect
def refuse_to_start_with_unregistered_kinds(sender=None, **_: object) -> None:
    problems = registration_problems(set(sender.app.tasks))
    if problems:
        raise RuntimeError("the worker's tasks are out of step with the specs: " + "; ".join(problems))
