"""EventRecorder: what a job body reports is buffered, coalesced and recorded in order.

The database side (db.jobs.set_progress / record_output) is replaced by a list here, because
what is under test is the buffering between two threads; the real recording is covered by
the job, SSE and webhook tests against the running stack.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid

import pytest

from workers import recorder as recorder_module
from workers.recorder import OUTPUT_FLUSH_INTERVAL_S, EventRecorder


@pytest.fixture
def recorded(monkeypatch) -> list[tuple[str, object]]:
    calls: list[tuple[str, object]] = []
    monkeypatch.setattr(
        recorder_module.job_queries,
        "set_progress",
        lambda session, *, job_id, progress, notify, claim: calls.append(("progress", progress)) or True,
    )
    monkeypatch.setattr(
        recorder_module.job_queries,
        "record_output",
        lambda session, *, job_id, delta, notify, claim: calls.append(("output", delta)) or True,
    )
    return calls


def transaction():
    return contextlib.nullcontext(object())


def new_recorder(followed=lambda: True) -> tuple[EventRecorder, threading.Event]:
    woken = threading.Event()
    return EventRecorder(uuid.uuid4(), wake=woken.set, followed=followed), woken


def test_tokens_are_merged_and_the_first_is_due_at_once(recorded) -> None:
    recorder, woken = new_recorder()
    assert recorder.seconds_until_due() is None
    recorder.add_output("Hel")
    assert woken.is_set()
    recorder.add_output("lo")
    assert recorder.seconds_until_due() == 0.0
    assert recorder.flush(transaction)
    assert recorded == [("output", "Hello")]


def test_the_first_output_of_a_job_nobody_follows_waits_an_interval(recorded) -> None:
    """Nobody streams it: the first token waits like the others, so a job that ends within the
    interval records it in its finishing transaction. Whether anyone follows is asked once."""
    asked: list[bool] = []
    recorder, woken = new_recorder(followed=lambda: asked.append(False) or False)
    recorder.add_output("Hel")
    assert woken.is_set()
    due = recorder.seconds_until_due()
    assert 0 < due <= OUTPUT_FLUSH_INTERVAL_S
    recorder.add_output("lo")
    assert 0 < recorder.seconds_until_due() <= due
    with recorder.final() as record_rest:
        record_rest(object())
    assert recorded == [("output", "Hello")]
    assert asked == [False]


def test_the_first_output_of_a_followed_job_is_due_at_once_and_progress_never_waits(recorded) -> None:
    recorder, _ = new_recorder(followed=lambda: True)
    recorder.add_output("a")
    assert recorder.seconds_until_due() == 0.0
    quiet, _ = new_recorder(followed=lambda: False)
    quiet.add_progress("parsing", None, None)
    quiet.add_output("a")
    assert quiet.seconds_until_due() == 0.0  # progress is recorded at once, and output goes with it


def test_later_output_waits_for_the_flush_interval(recorded) -> None:
    recorder, _ = new_recorder()
    recorder.add_output("a")
    recorder.flush(transaction)
    recorder.add_output("b")
    due = recorder.seconds_until_due()
    assert 0 < due <= OUTPUT_FLUSH_INTERVAL_S
    time.sleep(due)
    assert recorder.seconds_until_due() == 0.0


def test_progress_and_output_keep_their_order_and_a_new_stage_is_never_dropped(recorded) -> None:
    recorder, _ = new_recorder()
    recorder.add_progress("parsing", None, None)
    recorder.add_output("x")
    recorder.add_progress("embedding", 0.1, None)
    recorder.add_progress("embedding", 0.2, None)  # throttled: same stage within the interval
    recorder.add_progress("storing", None, None)
    recorder.flush(transaction)
    assert [kind for kind, _ in recorded] == ["progress", "output", "progress", "progress"]
    assert [value["stage"] for kind, value in recorded if kind == "progress"] == [
        "parsing",
        "embedding",
        "storing",
    ]


def test_the_final_transaction_takes_what_is_left_after_a_flush_in_flight(recorded, monkeypatch) -> None:
    recorder, _ = new_recorder()
    recorder.add_output("first")
    in_flush, release = threading.Event(), threading.Event()

    @contextlib.contextmanager
    def slow_transaction():
        in_flush.set()
        release.wait(5)
        yield object()

    flusher = threading.Thread(target=recorder.flush, args=(slow_transaction,))
    flusher.start()
    assert in_flush.wait(5)
    recorder.add_output("last")  # the body is not held up by the flush in flight
    finished = threading.Event()

    def finish() -> None:
        with recorder.final() as record_rest:
            record_rest(object())
            recorded.append(("succeeded", None))
        finished.set()

    closer = threading.Thread(target=finish)
    closer.start()
    assert not finished.wait(0.2)  # the final transaction waits for the flush in flight
    release.set()
    flusher.join(5)
    closer.join(5)
    assert recorded == [("output", "first"), ("output", "last"), ("succeeded", None)]


def test_a_failed_flush_keeps_its_entries_for_the_next_one(recorded) -> None:
    recorder, _ = new_recorder()
    recorder.add_output("kept")

    @contextlib.contextmanager
    def broken_transaction():
        raise OSError("database went away")
        yield

    assert recorder.flush(broken_transaction)  # still running as far as anyone knows
    recorder.add_output(" too")
    recorder.flush(transaction)
    assert recorded == [("output", "kept too")]


def test_a_job_that_stopped_running_reports_false(monkeypatch) -> None:
    monkeypatch.setattr(recorder_module.job_queries, "record_output", lambda session, **kwargs: False)
    recorder, _ = new_recorder()
    recorder.add_output("x")
    assert recorder.flush(transaction) is False


def test_the_finish_may_keep_the_last_output_for_its_own_statement(recorded) -> None:
    """Output buffered last is handed back for the finishing statement; anything before it, and
    output followed by progress, is recorded here in order as before."""
    recorder, _ = new_recorder(followed=lambda: False)
    recorder.add_progress("thinking", None, None)
    recorder.add_output("Hel")
    recorder.add_output("lo")
    with recorder.final() as record_rest:
        assert record_rest(object(), True) == "Hello"
    assert recorded == [("progress", {"stage": "thinking", "fraction": None, "message": None})]

    recorded.clear()
    recorder, _ = new_recorder(followed=lambda: False)
    recorder.add_output("Hi")
    recorder.add_progress("checking", 0.5, None)
    with recorder.final() as record_rest:
        assert record_rest(object(), True) is None
    assert [kind for kind, _ in recorded] == ["output", "progress"]

    recorded.clear()
    recorder, _ = new_recorder(followed=lambda: False)
    recorder.add_output("Hi")
    with recorder.final() as record_rest:  # a failure or a hand-off records it itself
        assert record_rest(object()) is None
    assert recorded == [("output", "Hi")]


def test_a_last_transaction_that_fails_gives_back_what_it_took(recorded) -> None:
    """The database went away at the job's end: the worker ends it again once it is back
    (workers.runtime._once_the_database_answers), and that retry records every event the failed
    one took, the output it kept for the finishing statement included."""
    recorder, _ = new_recorder(followed=lambda: False)
    recorder.add_progress("generating", 0.5, None)
    recorder.add_output("Hello")
    with pytest.raises(ConnectionError), recorder.final() as record_rest:
        assert record_rest(object(), keep_output=True) == "Hello"
        raise ConnectionError("the finishing statement failed")
    recorded.clear()
    with recorder.final() as record_rest:
        assert record_rest(object(), keep_output=True) == "Hello"
    assert [kind for kind, _ in recorded] == ["progress"]


def test_intermediate_webhooks_are_one_per_interval_by_the_workers_clock(monkeypatch) -> None:
    """Progress recorded every 0.1 s for 1.5 s (the webhook test's debug.sleep job) asks for a
    webhook with the first and then once per WEBHOOK_MIN_INTERVAL_S, by the clock of the moment
    each is recorded. (The payloads' timestamps are their transactions' starts, which a loaded
    machine may hold back by a fraction of a second: the stack's test counts them, this spaces them.)"""
    notified: list[float] = []
    clock = [1000.0]
    monkeypatch.setattr(recorder_module.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(
        recorder_module.job_queries,
        "set_progress",
        lambda session, *, job_id, progress, notify, claim: (notify and notified.append(clock[0])) or True,
    )
    recorder, _ = new_recorder()
    for step in range(15):
        clock[0] = 1000.0 + step * 0.1
        recorder.add_progress(f"step {step}", step / 15, None)  # a new stage: always recorded
        assert recorder.flush(transaction)
    assert notified == pytest.approx([1000.0, 1000.5, 1001.0])
