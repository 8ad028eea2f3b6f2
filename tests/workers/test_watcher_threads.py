"""Job watchers run on kept threads: one thread per running watcher, reused once a watcher stops."""

from __future__ import annotations

import gc
import os
import threading
import weakref

import pytest

from tests.support.stack import wait_until
from workers import watcher_threads
from workers.watcher_threads import WatcherThreads

WAIT_S = 30.0  # an event that never comes fails the test; one that comes returns at once


def _until(check, what: str) -> None:
    wait_until(check, timeout=WAIT_S, interval=0.001, message=what)


def test_watchers_running_at_once_each_have_a_thread() -> None:
    pool = WatcherThreads()
    together = threading.Barrier(4, timeout=WAIT_S)  # three watchers and this test
    names: list[str] = []

    def watcher() -> None:
        names.append(threading.current_thread().name)
        together.wait()  # a watcher queued behind another would never get here: BrokenBarrierError

    for number in range(3):
        pool.run(f"job-watcher-{number}", watcher)
    together.wait()
    assert sorted(names) == ["job-watcher-0", "job-watcher-1", "job-watcher-2"]
    _until(lambda: pool.idle == 3, "three idle threads")


def test_a_stopped_watchers_thread_runs_the_next_and_no_thread_is_added() -> None:
    pool = WatcherThreads()
    threads: list[threading.Thread] = []
    before = threading.active_count()
    done = threading.Event()

    def watcher() -> None:
        threads.append(threading.current_thread())
        done.set()

    for number in range(20):
        done.clear()
        pool.run(f"job-watcher-{number}", watcher)
        assert done.wait(WAIT_S)
        _until(lambda: pool.idle == 1, "the thread back to waiting")  # before the next comes
    assert len({id(thread) for thread in threads}) == 1
    assert threads[0].daemon and threads[0].name == "job-watcher-idle"
    assert threading.active_count() == before + 1


def test_a_watcher_that_raises_leaves_its_thread_serving(caplog: pytest.LogCaptureFixture) -> None:
    pool = WatcherThreads()

    def broken() -> None:
        raise RuntimeError("a bug in a watcher")

    pool.run("job-watcher-broken", broken)
    _until(lambda: pool.idle == 1, "the thread back to waiting")
    assert "job watcher job-watcher-broken failed" in caplog.text
    done = threading.Event()
    pool.run("job-watcher-next", done.set)
    assert done.wait(WAIT_S)
    _until(lambda: pool.idle == 1, "one idle thread")  # the same thread: a new one would make two


def test_a_forked_child_starts_its_own_threads() -> None:
    # The parent's idle thread does not exist in a forked child (a prefork worker's pool process):
    # a child that counted its parent's permit would queue its watcher for a thread that never comes.
    done = threading.Event()
    watcher_threads.run_watcher("job-watcher-parent", done.set)
    assert done.wait(WAIT_S)
    _until(lambda: watcher_threads._threads.idle >= 1, "an idle thread")  # noqa: SLF001
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports by its exit status
        ran = threading.Event()
        watcher_threads.run_watcher("job-watcher-child", ran.set)
        os._exit(0 if ran.wait(WAIT_S) else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_an_idle_thread_keeps_no_finished_watcher_alive() -> None:
    # A watcher holds its job's recorder and snapshot: an idle thread must not keep the last one.
    class Watcher:
        def run(self) -> None:
            pass

    pool = WatcherThreads()
    watcher = Watcher()
    gone = weakref.ref(watcher)
    pool.run("job-watcher-finished", watcher.run)
    del watcher
    _until(lambda: pool.idle == 1, "the thread back to waiting")
    gc.collect()
    assert gone() is None
