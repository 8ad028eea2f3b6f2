"""The test stack's own starts (tests/support/stack.py): a process that dies while starting fails its
start at once, with the end of its log, instead of being waited for on a clock; a name already
running is refused, not orphaned."""

from __future__ import annotations

import pytest

from tests.support.stack import Stack


def test_a_worker_that_dies_while_starting_fails_at_once_with_its_log(stack: Stack) -> None:
    try:
        with pytest.raises(RuntimeError, match=r"doomed exited \(\d+\) before it was ready") as failed:
            stack.start_worker("doomed", queues="nothing-here", app="tests.no_such_celery_app")
        assert "tests.no_such_celery_app" in str(failed.value)  # Celery's own words, from its log
    finally:
        stack.stop("doomed")


def test_a_name_already_running_is_not_started_again_beside_it(stack: Stack) -> None:
    """Started again over a live process of the same name, the first went on unseen, consuming:
    a second `worker@test` took another test's job (2026-11-29). Now the start refuses."""
    running = stack.processes["worker"]
    with pytest.raises(RuntimeError, match=rf"worker is already running \(pid {running.pid}\)"):
        stack.start_worker("worker")
    assert stack.processes["worker"] is running and running.poll() is None
