"""The test stack's own starts (tests/support/stack.py): a process that dies while starting fails its
start at once, with the end of its log, instead of being waited for on a clock."""

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
