"""The worker's pulse (workers/pulse.py): it beats a registered job while the process that runs it
lives, and only then; it forgets a job whose process died (a pid reused since counts as dead) or
whose delivery no longer holds it; and it leaves with its worker. On the real PostgreSQL; the
through-the-stack cases (a body holding the GIL, every core busy, a worker killed) are in
tests/test_faults.py and tests/recordings/test_recording_faults.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from db import jobs as job_queries
from db.unit_of_work import unit_of_work
from tests.support.held_jobs import held_job
from tests.support.stack import Stack, wait_until
from workers import pulse
from workers.runtime import JobWatcher

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def no_reconciler(stack: Stack) -> Iterator[None]:
    """These jobs are claimed by the test and left with a heartbeat an hour old: the stack's
    reconciler (every second, stale after 3 s) would take them back and send them to its worker
    between the test's claim and its assertions. No beat while this module runs."""
    stack.stop("beat")
    try:
        yield
    finally:
        stack.start_beat()


def claimed(stack: Stack) -> uuid.UUID:
    job_id = held_job(stack, max_attempts=3)
    with unit_of_work() as session:
        assert job_queries.claim_job(session, job_id=job_id, worker="a@host", time_limit_s=600) is not None
    stack.sql("UPDATE jobs SET heartbeat_at = now() - interval '1 hour' WHERE id = %s", job_id)
    return job_id


def heartbeat_age_s(stack: Stack, job_id: uuid.UUID) -> float:
    [(age,)] = stack.sql("SELECT extract(epoch FROM now() - heartbeat_at) FROM jobs WHERE id = %s", job_id)
    return float(age)


def register(directory: Path, job_id: uuid.UUID, *, pid: int, started: int | None = None) -> Path:
    registration = pulse.Registration(job_id, 1, None, pid, started or pulse.process_start(pid) or 0)
    path = directory / f"{job_id}.test"
    path.write_text(registration.to_json())
    return path


@pytest.fixture
def connection(on_the_stack: Stack) -> Iterator[psycopg.Connection]:
    """The pulse's own kind of connection: plain psycopg, autocommit."""
    with psycopg.connect(pulse.plain_dsn(on_the_stack.database_url), autocommit=True) as connection:
        yield connection


@pytest.fixture
def child() -> subprocess.Popen:
    """A live process to register jobs under; stopped by its pid."""
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"], stdin=subprocess.DEVNULL
    )
    yield process
    process.kill()
    process.wait()


def test_a_job_is_beaten_while_its_process_lives(
    on_the_stack: Stack, connection: psycopg.Connection, tmp_path: Path, child: subprocess.Popen
) -> None:
    job_id = claimed(on_the_stack)
    path = register(tmp_path, job_id, pid=child.pid)
    assert pulse.beat_round(tmp_path, connection) == {"beaten": 1, "forgotten": 0}
    assert heartbeat_age_s(on_the_stack, job_id) < 60
    assert path.exists()


def test_a_job_whose_process_died_is_forgotten_and_not_beaten(
    on_the_stack: Stack, connection: psycopg.Connection, tmp_path: Path, child: subprocess.Popen
) -> None:
    job_id = claimed(on_the_stack)
    path = register(tmp_path, job_id, pid=child.pid)
    child.kill()
    child.wait()
    assert pulse.beat_round(tmp_path, connection) == {"beaten": 0, "forgotten": 1}
    assert heartbeat_age_s(on_the_stack, job_id) > 3000
    assert not path.exists()


def test_a_reused_pid_is_not_the_process_that_registered(
    on_the_stack: Stack, connection: psycopg.Connection, tmp_path: Path, child: subprocess.Popen
) -> None:
    job_id = claimed(on_the_stack)
    register(tmp_path, job_id, pid=child.pid, started=(pulse.process_start(child.pid) or 0) - 1)
    assert pulse.beat_round(tmp_path, connection) == {"beaten": 0, "forgotten": 1}
    assert heartbeat_age_s(on_the_stack, job_id) > 3000


def test_a_job_no_longer_this_deliverys_is_forgotten(
    on_the_stack: Stack, connection: psycopg.Connection, tmp_path: Path, child: subprocess.Popen
) -> None:
    job_id = claimed(on_the_stack)
    on_the_stack.sql("UPDATE jobs SET attempts = 2 WHERE id = %s", job_id)  # another delivery holds it
    register(tmp_path, job_id, pid=child.pid)
    assert pulse.beat_round(tmp_path, connection) == {"beaten": 0, "forgotten": 1}
    assert heartbeat_age_s(on_the_stack, job_id) > 3000


def test_a_delivery_of_another_stage_is_not_this_one(
    on_the_stack: Stack, connection: psycopg.Connection, tmp_path: Path, child: subprocess.Popen
) -> None:
    """The pulse's one statement means what db.jobs.beat_heart means: the claim is attempt and stage."""
    job_id = claimed(on_the_stack)
    registration = pulse.Registration(job_id, 1, "embed", child.pid, pulse.process_start(child.pid) or 0)
    (tmp_path / f"{job_id}.stage").write_text(registration.to_json())
    with unit_of_work() as session:
        assert not job_queries.beat_heart(session, job_id=job_id, claim=job_queries.Claim(1, "embed"))
    assert pulse.beat_round(tmp_path, connection) == {"beaten": 0, "forgotten": 1}


def test_a_zombie_is_not_alive(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"], stdin=subprocess.DEVNULL)
    try:
        # Exited and not reaped (no wait() yet): /proc still lists it, as state Z.
        wait_until(
            lambda: Path(f"/proc/{process.pid}/stat").read_text().split(") ")[1][0] == "Z",
            timeout=30,
            message="the child exited",
        )
        assert pulse.process_start(process.pid) is None
    finally:
        process.wait()
    assert pulse.process_start(process.pid) is None
    assert pulse.process_start(os.getpid()) is not None


def test_a_delivery_registers_while_it_runs_and_watchers_see_a_quiet_pulse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(pulse.DIR_ENV, str(tmp_path))
    job_id = uuid.uuid4()
    with pulse.running(job_id, attempt=2, stage="embed") as registered:
        assert registered
        [path] = list(tmp_path.iterdir())  # the whole file only, under its own name
        registration = pulse.Registration.from_json(path.read_text())
        assert (registration.job_id, registration.attempt, registration.stage) == (job_id, 2, "embed")
        assert registration.pid == os.getpid()
    assert list(tmp_path.iterdir()) == []
    assert not pulse.beating(0.5)  # never touched: the watcher beats
    (tmp_path / pulse.ALIVE).touch()
    assert pulse.beating(0.5)
    stale = time.time() - pulse.SILENT_ROUNDS * 0.5 - 1
    os.utime(tmp_path / pulse.ALIVE, (stale, stale))
    assert not pulse.beating(0.5)
    monkeypatch.delenv(pulse.DIR_ENV)
    assert not pulse.beating(0.5)


def test_a_delivery_the_pulse_does_not_have_is_beaten_by_its_watcher(
    on_the_stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A registration that cannot be written (a full /dev/shm) leaves no file, not even half of one,
    and the job's watcher beats the job although the pulse itself is alive; a registered one it
    leaves to the pulse."""
    monkeypatch.setenv(pulse.DIR_ENV, str(tmp_path))
    (tmp_path / pulse.ALIVE).touch()
    assert pulse.beating(60)
    job_id = claimed(on_the_stack)
    claim = job_queries.Claim(1, None)
    real_write = os.write

    def full(descriptor: int, content: bytes) -> int:
        return real_write(descriptor, content[:10])  # what a full file system lets through

    with monkeypatch.context() as faults:
        faults.setattr(pulse.os, "write", full)
        with pulse.running(job_id, attempt=1, stage=None) as registered:
            assert not registered
            assert [p.name for p in tmp_path.iterdir()] == [pulse.ALIVE]
            watcher = JobWatcher(job_id, 60, claim=claim, pulse_has_it=registered)
            assert watcher._still_running(beat=True)
    assert heartbeat_age_s(on_the_stack, job_id) < 60

    on_the_stack.sql("UPDATE jobs SET heartbeat_at = now() - interval '1 hour' WHERE id = %s", job_id)
    with pulse.running(job_id, attempt=1, stage=None) as registered:
        assert registered
        watcher = JobWatcher(job_id, 60, claim=claim, pulse_has_it=registered)
        assert watcher._still_running(beat=True)
    assert heartbeat_age_s(on_the_stack, job_id) > 3000  # the pulse's to beat, not the watcher's


def test_without_a_pulse_nothing_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(pulse.DIR_ENV, raising=False)
    with pulse.running(uuid.uuid4(), attempt=1, stage=None) as registered:
        assert not registered


STARTS_A_PULSE = """
import os, sys, time
from workers import pulse
from workers.runtime import JobWatcher
pulse.start()
print(pulse._process.pid, os.environ[pulse.DIR_ENV], flush=True)
time.sleep(600)
"""


def test_the_pulse_leaves_with_its_worker_killed(on_the_stack: Stack) -> None:
    worker = subprocess.Popen(
        [sys.executable, "-c", STARTS_A_PULSE],
        cwd=REPO,
        env={**os.environ, "MENTORQ_HEARTBEAT_SECONDS": "0.5"},  # DATABASE_URL: on_the_stack's
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        pid_text, directory = worker.stdout.readline().split()
        pulse_pid = int(pid_text)
        wait_until(lambda: (Path(directory) / pulse.ALIVE).exists(), timeout=60, message="the pulse's round")
    finally:
        worker.kill()  # SIGKILL to the worker alone, not its group: the kernel tells the pulse
        worker.wait()
    wait_until(lambda: pulse.process_start(pulse_pid) is None, timeout=30, message="the pulse left")


def test_a_pulse_folder_nothing_touched_for_ten_minutes_is_swept(tmp_path: Path) -> None:
    """A pulse killed outright (its host's namespace, say) leaves its folder; the next worker to
    start on the host removes those nothing has touched for STALE_AFTER_S, and no live one."""
    stale, live, fresh = (tmp_path / f"{pulse.PREFIX}{name}" for name in ("stale", "live", "fresh"))
    for folder in (stale, live, fresh):
        folder.mkdir()
    (stale / pulse.ALIVE).touch()
    (live / pulse.ALIVE).touch()
    long_ago = time.time() - pulse.STALE_AFTER_S - 60
    for path in (stale / pulse.ALIVE, stale, live):  # the live one's file is fresh; fresh has none yet
        os.utime(path, (long_ago, long_ago))
    assert pulse.sweep_stale(tmp_path) == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == [f"{pulse.PREFIX}fresh", f"{pulse.PREFIX}live"]
