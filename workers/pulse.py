"""A worker's pulse: its running jobs' heartbeats, beaten from a small process of their own.

A job's watcher (workers/runtime.py) is a thread of the process that runs the job. A body that holds
the GIL in one long native call (a recognizer's decode, a regex) silences that thread, and so does a
machine whose cores are all busy, where a background worker at a low priority gets little CPU and
its busy body keeps the GIL: the heartbeat then stopped past MENTORQ_STALE_AFTER_SECONDS, and the
reconciler took live jobs over (one failed `worker_lost`, "died on each of 3 attempts", while no
worker had died).

So the heartbeat is beaten from outside the job's interpreter. At its start a worker (its main
process, before the pool forks) starts one pulse process beside it, in a scheduling group of its own
and at the worker's start priority, before a background lane lowers its own (workers/signals.py).
Each delivery registers its job with the pulse in a small file (`running`) and removes it when it
ends; the pulse beats every registered job (`beat_heart`, under the delivery's claim) for as long
as the process that registered it lives. A body stuck in C still beats; a process killed, a host
gone, or a link cut stops the beat as before, and the job is taken over within the window; a job
that really hangs still meets its deadline (`deadline_at`).

The pulse leaves with the worker: the kernel sends it SIGTERM when the worker's main thread dies
(PR_SET_PDEATHSIG), and it checks its parent on every round besides. It touches its own file at
every round; a watcher whose pulse has not touched it lately (not started, crashed, starved), or
does not have its job (the registration could not be written), beats its job itself, as every
watcher did before.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DIR_ENV = "MENTORQ_PULSE_DIR"  # set in the worker's environment, so its pool's children find it
ALIVE = ".alive"  # the pulse's own file, touched every round
# A watcher beats itself when the pulse has been silent this many of its rounds.
SILENT_ROUNDS = 3
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Registration:
    """A running delivery as the pulse reads it: the job, the claim it holds, and its process."""

    job_id: uuid.UUID
    attempt: int
    stage: str | None
    pid: int
    started: int  # the process's start time (/proc/PID/stat), so a reused pid is not taken for it

    def to_json(self) -> str:
        return json.dumps(
            {
                "job_id": str(self.job_id),
                "attempt": self.attempt,
                "stage": self.stage,
                "pid": self.pid,
                "started": self.started,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Registration:
        data = json.loads(text)
        return cls(uuid.UUID(data["job_id"]), data["attempt"], data["stage"], data["pid"], data["started"])


def process_start(pid: int) -> int | None:
    """When the process started (clock ticks since boot), or None when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: count after its end.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):  # dead, not yet reaped: not running the job any more
        return None
    return int(fields[19])  # field 22 of the whole line


@functools.cache
def _own_start(pid: int) -> int:
    """This process's start time, read once per process (keyed by pid: a forked child reads its
    own); the pulse reads every other process's afresh, since a pid may be reused."""
    return process_start(pid) or 0


def _directory() -> Path | None:
    value = os.environ.get(DIR_ENV)
    return Path(value) if value else None


@contextlib.contextmanager
def running(job_id: uuid.UUID, *, attempt: int, stage: str | None) -> Iterator[bool]:
    """Register this delivery with the worker's pulse while it runs. Yields whether the pulse has
    it: without a pulse, or when the registration could not be written (a full /dev/shm), the
    job's watcher must beat it itself whatever the pulse's own file says."""
    directory = os.environ.get(DIR_ENV)
    if not directory:
        yield False
        return
    pid = os.getpid()
    registration = Registration(job_id, attempt, stage, pid, _own_start(pid))
    path = os.path.join(directory, f"{job_id}.{uuid.uuid4().hex}")
    try:
        _register(path, registration.to_json().encode())
    except OSError:
        log.warning("cannot register job %s with the pulse; its watcher beats it", job_id, exc_info=True)
        registered = False
    else:
        registered = True
    try:
        yield registered
    finally:
        if registered:
            with contextlib.suppress(OSError):
                os.unlink(path)


def _register(path: str, content: bytes) -> None:
    """Write a registration whole: the pulse reads only whole files and skips dot files, so it is
    written under a dot name, then renamed. Plain os calls, as every job pays this: pathlib's
    write_text and rename took twice the CPU (about 170 against 85 microseconds here)."""
    folder, name = os.path.split(path)
    partial = os.path.join(folder, f".{name}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            written = os.write(descriptor, content)
        finally:
            os.close(descriptor)
        if written != len(content):  # not for ~150 bytes on tmpfs; but a half file must not stay
            raise OSError(errno.ENOSPC, "the registration was cut short")
        os.rename(partial, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise


def beating(heartbeat_s: float) -> bool:
    """Whether this worker's pulse beats its jobs: it touched its file within SILENT_ROUNDS rounds."""
    directory = _directory()
    if directory is None:
        return False
    try:
        touched = (directory / ALIVE).stat().st_mtime
    except OSError:
        return False
    return time.time() - touched < SILENT_ROUNDS * heartbeat_s


# --- the worker's side: start and stop --------------------------------------------------------------

_process: subprocess.Popen | None = None
DSN_ENV = "MENTORQ_PULSE_DSN"  # the database, in the pulse's environment only (never its command line)


def start() -> None:
    """Start this worker's pulse, and name its directory in the environment the pool inherits."""
    global _process
    if _process is not None:
        return
    from core.settings import get_settings

    settings = get_settings()
    sweep_stale(Path(_shared_memory() or tempfile.gettempdir()))
    directory = Path(tempfile.mkdtemp(prefix=PREFIX, dir=_shared_memory()))
    _process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workers.pulse",
            str(directory),
            str(os.getpid()),
            str(settings.heartbeat_seconds),
        ],
        env={**os.environ, DSN_ENV: plain_dsn(settings.require_database_url())},
        # A session, and so a scheduling group (autogroup), of its own: a background lane's lower
        # group priority (workers/signals.py) is not the pulse's.
        start_new_session=True,
        stdin=subprocess.DEVNULL,
    )
    os.environ[DIR_ENV] = str(directory)
    log.info("pulse started (pid %d) for this worker's jobs, in %s", _process.pid, directory)


def stop() -> None:
    global _process
    process, _process = _process, None
    directory = _directory()
    if process is not None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if directory is not None:
        os.environ.pop(DIR_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)


PREFIX = "mentorq-pulse-"
STALE_AFTER_S = 600  # a live pulse touches its file every heartbeat (5 s in production)


def sweep_stale(parent: Path) -> int:
    """Remove the folders of pulses gone without tidying up (killed outright, with their worker or
    their host's namespace): nothing has touched them for STALE_AFTER_S. How many went."""
    swept = 0
    for folder in parent.glob(f"{PREFIX}*"):
        try:
            touched = folder.stat().st_mtime
            with contextlib.suppress(FileNotFoundError):  # a pulse that never finished a round
                touched = max(touched, (folder / ALIVE).stat().st_mtime)
        except OSError:  # gone meanwhile
            continue
        if time.time() - touched > STALE_AFTER_S:
            shutil.rmtree(folder, ignore_errors=True)
            swept += 1
    return swept


def plain_dsn(url: str) -> str:
    """The database URL as libpq takes it (SQLAlchemy's driver suffix dropped)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _shared_memory() -> str | None:
    """/dev/shm where there is one: the registrations never touch a disk."""
    return "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


# --- the pulse process ------------------------------------------------------------------------------
#
# It imports the standard library and psycopg only (34 MB resident, where the platform's database
# layer made it 105 MB, once per worker): one statement, which must mean what db/jobs.py's
# `beat_heart` means: the job running, under this delivery's claim (`_held_by`).

BEAT = (
    "UPDATE jobs SET heartbeat_at = now() WHERE id = %(job)s AND status = 'running' "
    "AND attempts = %(attempt)s AND stage IS NOT DISTINCT FROM %(stage)s RETURNING id"
)


def beat_round(directory: Path, connection: Any) -> dict[str, int]:
    """Beat every registered job whose process lives; forget those whose process is gone or whose
    job is no longer this delivery's (ended, canceled, taken over). One round, on an autocommit
    psycopg connection; counts what it did."""
    counts = {"beaten": 0, "forgotten": 0}
    for path in directory.iterdir():
        if path.name.startswith("."):
            continue
        try:
            registration = Registration.from_json(path.read_text())
        except (OSError, ValueError, KeyError):
            continue  # removed meanwhile
        held = False
        if process_start(registration.pid) == registration.started:
            row = connection.execute(
                BEAT,
                {"job": registration.job_id, "attempt": registration.attempt, "stage": registration.stage},
            ).fetchone()
            held = row is not None
        if held:
            counts["beaten"] += 1
        else:
            with contextlib.suppress(OSError):
                path.unlink()
            counts["forgotten"] += 1
    return counts


def _die_with(parent: int) -> None:
    """SIGTERM when the worker's main thread ends, however it ends (a SIGKILL included)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it ended before the line above
        raise SystemExit(0)


def main(directory: Path, parent: int, every_s: float) -> None:
    import psycopg

    _die_with(parent)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker's Ctrl-C is the worker's to handle
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s mentorq pulse: %(message)s")
    dsn = os.environ.pop(DSN_ENV)
    alive = directory / ALIVE
    connection = None
    try:
        while os.getppid() == parent and directory.is_dir():
            began = time.monotonic()
            try:
                if connection is None or connection.closed:
                    connection = psycopg.connect(dsn, autocommit=True, connect_timeout=5)
                beat_round(directory, connection)
                alive.touch()
            except psycopg.Error:  # the database away: the next round connects again
                log.warning("a round failed", exc_info=True)
                if connection is not None:
                    connection.close()
                connection = None
            time.sleep(max(0.0, every_s - (time.monotonic() - began)))
    finally:
        if os.getppid() != parent:  # the worker died without stopping us: nobody else tidies up
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))
