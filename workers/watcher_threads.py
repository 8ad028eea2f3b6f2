"""The threads job watchers run on, kept between jobs.

Every running job has a watcher thread of its own (workers/runtime.py: its recorded events, its
heartbeat when the pulse is silent, its cancel checks). Starting a thread per job cost the job's
own thread 0.13 ms on an idle worker and 20 ms beside a thread busy in Python (`Thread.start()`
waits until the new thread has run: a wait for the GIL; `benchmarks.watcher_start`), and 6.5 % of
an instant job's time on its thread (issue 63's profile). So a thread whose watcher has stopped
waits for the next job's watcher instead of ending.

Never fewer threads than running watchers: a watcher queued behind another job's would leave its
job unwatched (no cancel, no flush) for as long as that job runs. So `run` starts a new thread
whenever none is idle, as `concurrent.futures.ThreadPoolExecutor` does below its cap, which this
pool does not have; it holds as many threads as the process ever ran jobs at once (a threads
worker's concurrency). Its threads are daemons, unlike the executor's: a worker shut down cold
must not wait at exit for a watcher whose job's thread is gone.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class WatcherThreads:
    """Daemon threads that each run one watcher at a time, started only when none is idle."""

    def __init__(self) -> None:
        self._watchers: queue.SimpleQueue[tuple[str, Callable[[], None]]] = queue.SimpleQueue()
        # One permit per thread that has finished its watcher and waits for the next: a `run` that
        # takes one hands its watcher to that thread.
        self._idle = threading.Semaphore(0)

    def run(self, name: str, watcher: Callable[[], None]) -> None:
        """Run `watcher` on a thread of its own, named `name` while it runs; returns at once."""
        self._watchers.put((name, watcher))
        if not self._idle.acquire(blocking=False):
            threading.Thread(target=self._serve, name=name, daemon=True).start()

    @property
    def idle(self) -> int:
        """How many threads wait for a watcher (a figure for tests and thread dumps)."""
        return self._idle._value  # noqa: SLF001 - Semaphore exposes its count to no one else

    def _serve(self) -> None:
        thread = threading.current_thread()
        while True:
            name, watcher = self._watchers.get()
            thread.name = name  # what py-spy and a thread dump show: the job it watches
            try:
                watcher()
            except Exception:  # a watcher's bug ends its own watch, never the thread's service
                log.exception("job watcher %s failed", name)
            del watcher  # an idle thread keeps no finished job's watcher (its recorder) alive
            thread.name = "job-watcher-idle"
            self._idle.release()


_threads = WatcherThreads()


def _after_fork_in_child() -> None:
    # A forked child has none of its parent's threads: its permits would name threads it lacks.
    global _threads
    _threads = WatcherThreads()


os.register_at_fork(after_in_child=_after_fork_in_child)


def run_watcher(name: str, watcher: Callable[[], None]) -> None:
    """Run a job's watcher on a kept thread (module-level so that a forked child gets its own)."""
    _threads.run(name, watcher)
