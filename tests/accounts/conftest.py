"""Account mail goes out through the `io` lane: these tests run it with a worker of their own,
configured for their SMTP server (the shared stack's io worker is stopped meanwhile, then started
again as it was), and read each message a real SMTP server on loopback received."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.accounts.support import MAIL_WORKER
from tests.support.stack import Stack


@pytest.fixture(scope="module")
def io_lane(stack: Stack) -> Iterator[Stack]:
    """The shared io worker stopped for this module; started again after it."""
    stack.stop("worker-io")
    try:
        yield stack
    finally:
        stack.stop(MAIL_WORKER)
        stack.start_worker("worker-io", queues="io", concurrency=8, pool="threads")
