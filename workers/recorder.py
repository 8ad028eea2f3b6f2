"""Progress and streamed output of a running job, recorded off the thread that does the work.

A job body reports progress and emits tokens from its own thread; recording each of them is a
database transaction plus a Redis publish. Doing that inline stalls token generation, and for
a job that ends within milliseconds it is most of the job's cost. So the body only appends to
a buffer, and the job's watcher thread records the buffer: at once for the first piece and for
progress (nothing waits on a timer), then output coalesced at most every OUTPUT_FLUSH_INTERVAL_S.
The first piece of output goes at once only when someone follows the job live (an event stream, a
webhook that asked for output): otherwise it waits like the others, so a job that answers within
the interval records its output in its finishing transaction and pays for one transaction, not two.
Whatever is still buffered when the job ends goes into the same transaction as its finish (or
failure, or hand-off), so a fast job costs one transaction where it used to cost three, and
events keep their order: a flush in flight commits before the final transaction begins. Output
buffered last goes into the finishing statement itself (db.jobs.finish_job's `streamed`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from db import jobs as job_queries

log = logging.getLogger(__name__)

PROGRESS_MIN_INTERVAL_S = 0.5  # the same stage again is recorded at most this often
WEBHOOK_MIN_INTERVAL_S = 0.5  # intermediate webhooks (progress, output): at most one per job per interval
OUTPUT_FLUSH_INTERVAL_S = 0.1  # streamed tokens are coalesced into one recorded event per interval

# ("progress", {stage, fraction, message}), ("output", "text") or ("event", {type, data})
Entry = tuple[str, Any]


class EventRecorder:
    def __init__(
        self,
        job_id: uuid.UUID,
        *,
        wake: Callable[[], None],
        followed: Callable[[], bool] = lambda: True,
        claim: job_queries.Claim | None = None,
    ):
        self.job_id = job_id
        self.claim = claim  # the delivery recording: its events are refused once another holds the job
        self._wake = wake  # tells the watcher thread there is something to record
        self._followed = followed  # asked once, at the first output, on the watcher thread
        self._first_output_at_once: bool | None = None
        self._first_output_at: float | None = None
        self._pending: list[Entry] = []
        self._buffer_lock = (
            threading.Lock()
        )  # held for list operations only: the body never waits on a transaction
        self._in_final: list[Entry] = []  # what the last transaction took, until it commits
        self._record_lock = threading.Lock()  # held while recording: keeps recorded events in order
        self._last_stage: str | None = None
        self._last_progress = 0.0
        self._last_output_flush: float | None = None  # None: no output recorded yet, the first goes at once
        self._last_webhook = 0.0

    # --- the job body's side -------------------------------------------------------------

    def add_progress(self, stage: str, fraction: float | None, message: str | None) -> None:
        now = time.monotonic()
        if stage == self._last_stage and now - self._last_progress < PROGRESS_MIN_INTERVAL_S:
            return
        self._last_stage, self._last_progress = stage, now
        self._append(("progress", {"stage": stage, "fraction": fraction, "message": message}))

    def add_output(self, delta: str) -> None:
        if self._first_output_at is None:
            self._first_output_at = time.monotonic()
        self._append(("output", delta))

    def add_event(self, type_: str, data: dict[str, Any]) -> None:
        """Another event on the job's timeline (an LLM fallback), recorded at once and in order."""
        self._append(("event", {"type": type_, "data": data}))

    def _append(self, entry: Entry) -> None:
        with self._buffer_lock:
            was_empty = not self._pending
            last = self._pending[-1] if self._pending else None
            if entry[0] == "output" and last is not None and last[0] == "output":
                self._pending[-1] = ("output", last[1] + entry[1])
            elif (
                entry[0] == "progress"
                and last is not None
                and last[0] == "progress"
                and last[1]["stage"] == entry[1]["stage"]
            ):
                self._pending[-1] = entry  # a newer fraction of the same stage replaces one not yet recorded
            else:
                self._pending.append(entry)
        if was_empty:
            self._wake()

    # --- the watcher thread's side -------------------------------------------------------

    def seconds_until_due(self) -> float | None:
        """None with nothing to record; 0 when a flush is due now."""
        with self._buffer_lock:
            if not self._pending:
                return None
            if any(kind != "output" for kind, _ in self._pending):
                return 0.0
        last_flush = self._last_output_flush
        if last_flush is None:  # the first output: at once if followed, else one interval after it came
            if self._first_output_at_once is None:
                self._first_output_at_once = self._followed()  # outside the lock: it may ask Redis
            if self._first_output_at_once:
                return 0.0
            last_flush = self._first_output_at or time.monotonic()
        return max(0.0, last_flush + OUTPUT_FLUSH_INTERVAL_S - time.monotonic())

    def flush(self, transaction: Callable[[], contextlib.AbstractContextManager[Any]]) -> bool:
        """Record what is buffered in its own transaction. False when the job is no longer running."""
        with self._record_lock:
            entries = self._take()
            if not entries:
                return True
            try:
                with transaction() as session:
                    return self.record(session, entries)
            except Exception:  # noqa: BLE001 - a DB blip: keep the entries for the next flush
                log.warning(
                    "could not record progress/output of job %s; will retry", self.job_id, exc_info=True
                )
                with self._buffer_lock:
                    self._pending[:0] = entries
                return True

    # --- the end of the job --------------------------------------------------------------

    @contextlib.contextmanager
    def final(self) -> Iterator[Callable[..., str | None]]:
        """Hold recording for the job's last transaction; yields `record_rest(session)`, which records
        what is buffered; with `keep_output=True` it leaves buffered output that comes last
        unrecorded and returns it (the finishing statement records it), else None.

        Waits for a flush in flight, so its events commit before the final ones. When the last
        transaction fails, what it took goes back in the buffer, so a retry records it all."""
        with self._record_lock:
            self._in_final = []
            try:
                yield self._record_rest
            except BaseException:
                with self._buffer_lock:
                    self._pending[:0] = self._in_final
                raise
            finally:
                self._in_final = []

    def nothing_but_output(self) -> bool:
        """Whether what is buffered is at most one piece of output (inside `final`, nothing else
        can be added: the body has returned and the watcher waits for the record lock)."""
        with self._buffer_lock:
            return len(self._pending) <= 1 and all(kind == "output" for kind, _ in self._pending)

    def _record_rest(self, session: Any, keep_output: bool = False) -> str | None:
        entries = self._take()
        self._in_final = list(entries)
        kept = entries.pop()[1] if keep_output and entries and entries[-1][0] == "output" else None
        self.record(session, entries)
        if kept is not None:
            self._last_output_flush = time.monotonic()
        return kept

    def record(self, session: Any, entries: list[Entry]) -> bool:
        for kind, value in entries:
            notify = self._webhook_due()
            job, claim = self.job_id, self.claim
            if kind == "progress":
                running = job_queries.set_progress(
                    session, job_id=job, progress=value, notify=notify, claim=claim
                )
            elif kind == "event":
                running = job_queries.record_event(
                    session, job_id=job, type_=value["type"], data=value["data"], claim=claim
                )
            else:
                self._last_output_flush = time.monotonic()
                running = job_queries.record_output(
                    session, job_id=job, delta=value, notify=notify, claim=claim
                )
            if not running:
                return False
        return True

    def _take(self) -> list[Entry]:
        with self._buffer_lock:
            entries, self._pending = self._pending, []
        return entries

    def _webhook_due(self) -> bool:
        now = time.monotonic()
        if now - self._last_webhook < WEBHOOK_MIN_INTERVAL_S:
            return False
        self._last_webhook = now
        return True
