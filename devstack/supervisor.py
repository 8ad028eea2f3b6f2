"""The supervisor behind `mentorq dev` and `mentorq demo`: embedded servers plus the platform's processes.

`start_stack()` brings everything up and returns a `Stack` (the demo and the tests use it);
`run_dev()` runs one in the foreground until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from core import lanes
from devstack.state_secrets import state_secret

LOCK_FILE = "dev.lock"
URLS_FILE = "urls.json"
SECRET_FILE = "secret_key"
# One worker per lane that waits on something different (core/lanes.py): LLM calls in threads as
# wide as the server's slots, search query embeddings in a process no long job can hold, embedding
# batches with parsing and maintenance, webhook deliveries in threads of their own, recordings'
# transcription in a process of its own.
WORKER_LANES = {
    "worker-llm": [lanes.LLM],
    "worker-query": [lanes.QUERY],
    "worker": [lanes.EMBED, lanes.CPU, lanes.MAINTENANCE],
    "worker-io": [lanes.IO],
    "worker-transcribe": [lanes.TRANSCRIBE],
}
IO_THREADS = 16
STOP_TIMEOUT_S = 15.0
# The project root: children import api/, workers/, celeryconfig from it even without an install.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

Say = Callable[[str], None]


class StackError(RuntimeError):
    """The stack could not start or a part of it died; the message says which and where its log is."""


class AlreadyRunning(StackError):
    """Another `mentorq dev` holds the state dir's lock."""

    def __init__(self, pid: int | None) -> None:
        super().__init__(f"mentorq dev is already running (pid {pid if pid is not None else 'unknown'})")
        self.pid = pid


# --- the state dir's lock -------------------------------------------------------------------------


@dataclass
class StateLock:
    """An exclusive flock on <state_dir>/dev.lock, held for the life of the stack."""

    path: Path
    fd: int | None = None

    def release(self) -> None:
        """Unlock and close; the file stays (unlinking a lock file races with the next locker)."""
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def acquire_lock(state_dir: Path) -> StateLock:
    """Take the state dir's lock or raise AlreadyRunning with the holder's pid."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / LOCK_FILE
    # os.open fds are not inherited by children (PEP 446), so only this process holds the lock.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise AlreadyRunning(_read_pid(path)) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return StateLock(path, fd)


def running_dev_pid(state_dir: Path) -> int | None:
    """The pid of the `mentorq dev` holding this state dir, or None when none runs there."""
    path = state_dir / LOCK_FILE
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_pid(path) or -1
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def read_urls(state_dir: Path) -> dict[str, str] | None:
    """The URLs a running `mentorq dev` wrote for other commands, or None when it is not running."""
    if running_dev_pid(state_dir) is None:
        return None
    try:
        return json.loads((state_dir / URLS_FILE).read_text())
    except (OSError, ValueError):
        return None


def dev_secret_key(state_dir: Path) -> str:
    """A random SECRET_KEY for local development, generated once and kept in the state dir (0600)."""
    return state_secret(state_dir, SECRET_FILE)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now (for throwaway stacks and tests)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((host, port)) == 0


# --- child processes ------------------------------------------------------------------------------


@dataclass
class Child:
    """One process of the stack, in its own process group, logging to its own file."""

    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen | None = None

    def start(self, env: dict[str, str]) -> None:
        """Start it; its own session keeps a terminal's Ctrl-C away so we stop it in order."""
        with open(self.log_path, "ab") as log:
            log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(self.argv)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def exited(self) -> int | None:
        """Its exit code if it has exited, else None."""
        return self.process.poll() if self.process is not None else None

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        stop_process(self.process, timeout)

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of its log, for error messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@contextlib.contextmanager
def _shielded_from_terminal_sigint() -> Iterator[None]:
    """Block SIGINT while spawning a server we cannot put in its own session (EmbeddedRedis).

    A blocked signal mask survives fork and exec, so a terminal's Ctrl-C does not shut Redis
    down before the workers that use it; we stop it ourselves, last but one.
    """
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


# --- the stack ------------------------------------------------------------------------------------


@dataclass
class Stack:
    """A running stack; stop() stops every process it started and releases the lock."""

    state_dir: Path
    api_url: str
    flower_url: str | None
    flower_auth: str | None
    database_url: str
    redis_url: str
    env: dict[str, str]
    children: list[Child] = field(default_factory=list)
    postgres: object | None = None
    redis: object | None = None
    lock: StateLock | None = None
    _stopped: bool = False

    def dead_child(self) -> Child | None:
        """The first child that has exited, if any."""
        return next((c for c in self.children if c.exited() is not None), None)

    def stop(self, say: Say | None = None) -> None:
        """Children (reverse start order), then Redis, then PostgreSQL, each by its own pid; then the lock."""
        if self._stopped:
            return
        self._stopped = True
        for child in reversed(self.children):
            if say and child.exited() is None:
                say(f"stopping {child.name} (pid {child.process.pid})")
            child.stop()
        for name, server in (("redis", self.redis), ("postgres", self.postgres)):
            if server is not None:
                with contextlib.suppress(Exception):
                    if say:
                        say(f"stopping {name} (pid {server.pid})")
                    server.stop()
        with contextlib.suppress(OSError):
            (self.state_dir / URLS_FILE).unlink()
        if self.lock is not None:
            self.lock.release()


def start_stack(
    state_dir: Path,
    api_port: int = 8000,
    flower_port: int | None = 5555,
    *,
    host: str = "127.0.0.1",
    with_beat: bool = True,
    worker_concurrency: int = 2,
    extra_env: dict[str, str] | None = None,
    ready_timeout_s: float = 180.0,
    say: Say = print,
) -> Stack:
    """Lock the state dir, start the servers, migrate, start the processes, wait until /readyz says ready.

    `flower_port=None` leaves Flower out. Raises AlreadyRunning or StackError; on any failure
    everything started so far is stopped again.
    """
    state_dir = Path(state_dir).resolve()
    lock = acquire_lock(state_dir)
    stack: Stack | None = None
    try:
        for port in (api_port, flower_port):
            if port is not None and _port_in_use(host, port):
                raise StackError(f"port {port} on {host} is already in use")
        logs = state_dir / "logs"
        logs.mkdir(exist_ok=True)

        postgres = redis = None
        database_url = os.environ.get("DATABASE_URL")
        redis_url = os.environ.get("REDIS_URL")
        # Kept on a partial Stack from here on, so a failure below still stops what has started.
        stack = Stack(state_dir, f"http://{host}:{api_port}", None, None, "", "", {}, lock=lock)
        if not database_url:
            from devstack.embedded import EmbeddedPostgres

            postgres = stack.postgres = EmbeddedPostgres(state_dir / "pg").start()
            database_url = postgres.url
            say(f"postgres: embedded, pid {postgres.pid} (data: {state_dir / 'pg'})")
        else:
            say("postgres: DATABASE_URL")
        if not redis_url:
            from devstack.embedded import EmbeddedRedis

            with _shielded_from_terminal_sigint():
                redis = stack.redis = EmbeddedRedis(state_dir / "redis").start()
            redis_url = redis.url
            say(f"redis: embedded, pid {redis.pid} (socket: {redis.socket_path})")
        else:
            say("redis: REDIS_URL")
        stack.database_url, stack.redis_url = database_url, redis_url

        env = _child_env(state_dir, database_url, redis_url, extra_env)
        stack.env = env
        _migrate(env, logs / "migrate.log")

        flower_auth = None
        if flower_port is not None:
            flower_auth = os.environ.get("FLOWER_BASIC_AUTH") or f"mentorq:{secrets.token_urlsafe(12)}"
            env["FLOWER_BASIC_AUTH"] = flower_auth  # Flower reads FLOWER_* itself; keeps it out of `ps`.
            stack.flower_url = f"http://{host}:{flower_port}"
            stack.flower_auth = flower_auth

        _write_urls(state_dir, stack)
        stack.children = _children(state_dir, host, api_port, flower_port, with_beat, worker_concurrency, env)
        for child in stack.children:
            child.start(env)
            say(
                f"{child.name}: {_describe(child.name, stack)} "
                f"(pid {child.process.pid}, log: {child.log_path})"
            )
        if flower_auth and "FLOWER_BASIC_AUTH" not in os.environ:
            say(f"flower: basic auth {flower_auth} (generated; set FLOWER_BASIC_AUTH to choose)")

        _wait_ready(stack, ready_timeout_s, say)
        return stack
    except BaseException:
        if stack is not None:
            stack.stop()
        else:
            lock.release()
        raise


def _child_env(
    state_dir: Path, database_url: str, redis_url: str, extra: dict[str, str] | None
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        MENTORQ_ENV="dev",
        SECRET_KEY=os.environ.get("SECRET_KEY") or dev_secret_key(state_dir),
        MENTORQ_STATE_DIR=str(state_dir),
        PYTHONUNBUFFERED="1",
        # Local development posts webhooks to local receivers.
        MENTORQ_WEBHOOK_ALLOW_PRIVATE=os.environ.get("MENTORQ_WEBHOOK_ALLOW_PRIVATE", "true"),
        MENTORQ_WEBHOOK_ALLOW_HTTP=os.environ.get("MENTORQ_WEBHOOK_ALLOW_HTTP", "true"),
        MENTORQ_FETCH_ALLOW_PRIVATE=os.environ.get("MENTORQ_FETCH_ALLOW_PRIVATE", "true"),
        PYTHONPATH=os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH")) if p),
    )
    env.update(extra or {})
    return env


def _children(
    state_dir: Path,
    host: str,
    api_port: int,
    flower_port: int | None,
    with_beat: bool,
    concurrency: int,
    env: dict[str, str],
) -> list[Child]:
    parallel = lanes.llm_parallel_in(env)
    py = sys.executable
    celery = [py, "-m", "celery", "-A", "workers.celery_app"]
    shapes = {
        "worker-llm": lanes.worker_arguments(
            lanes.LLM, llm_parallel=parallel, llm_threads=lanes.llm_threads_in(env)
        ),
        "worker-query": lanes.worker_arguments(lanes.QUERY, llm_parallel=parallel),
        "worker": ["-Q", ",".join(WORKER_LANES["worker"]), "--concurrency", str(concurrency)],
        "worker-io": ["-Q", lanes.IO, "--pool", "threads", "--concurrency", str(IO_THREADS)],
        "worker-transcribe": lanes.worker_arguments(lanes.TRANSCRIBE, llm_parallel=parallel),
    }
    specs = [("api", [py, "-m", "uvicorn", "api.main:app", "--host", host, "--port", str(api_port)])]
    specs += [
        (name, celery + ["worker", *shape, "-n", f"dev-{name}@%h", "--loglevel", "INFO"])
        for name, shape in shapes.items()
    ]
    if with_beat:
        schedule = str(state_dir / "beat-schedule")
        specs.append(("beat", celery + ["beat", "-s", schedule, "--loglevel", "INFO"]))
    if flower_port is not None:
        specs.append(("flower", celery + ["flower", f"--address={host}", f"--port={flower_port}"]))
    return [Child(name, argv, state_dir / "logs" / f"{name}.log") for name, argv in specs]


def _describe(name: str, stack: Stack) -> str:
    if name == "api":
        return f"{stack.api_url}/docs"
    if name == "flower":
        return stack.flower_url or ""
    if name in WORKER_LANES:
        return f"queues {','.join(WORKER_LANES[name])}"
    return "schedule in " + str(stack.state_dir / "beat-schedule")


def _migrate(env: dict[str, str], log_path: Path) -> None:
    """Run migrations in a child process: it reads settings from the same env as the servers."""
    with open(log_path, "wb") as log:
        rc = subprocess.call(
            [sys.executable, "-m", "mentorq.cli", "migrate"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    if rc != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
        raise StackError(f"migrations failed (exit {rc}); log: {log_path}\n{tail}")


def _write_urls(state_dir: Path, stack: Stack) -> None:
    urls = {
        "database_url": stack.database_url,
        "redis_url": stack.redis_url,
        "api_url": stack.api_url,
        "flower_url": stack.flower_url,
        "pid": os.getpid(),
    }
    path = state_dir / URLS_FILE
    tmp = path.with_suffix(".tmp")
    # 0600: the URLs name local sockets only, but the file is the dev stack's business.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(urls, f, indent=2)
    os.replace(tmp, path)


def _wait_ready(stack: Stack, timeout_s: float, say: Say) -> None:
    """Poll /healthz then /readyz (PostgreSQL, Redis, a live worker), failing fast if a child dies."""
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    with httpx.Client(base_url=stack.api_url, timeout=5.0) as http:
        for path in ("/healthz", "/readyz"):
            while True:
                dead = stack.dead_child()
                if dead is not None:
                    raise StackError(_death_message(dead))
                try:
                    r = http.get(path)
                    if r.status_code == 200:
                        break
                    last = f"{r.status_code} {r.text[:300]}"
                except httpx.HTTPError as exc:
                    last = repr(exc)
                if time.monotonic() > deadline:
                    raise StackError(
                        f"{path} not ready after {timeout_s:.0f}s: {last}; logs in {stack.state_dir / 'logs'}"
                    )
                time.sleep(0.5)
    say(f"ready: {stack.api_url}/readyz")
    say(f"admin console: {stack.api_url}/admin (make an admin with `mentorq users promote EMAIL`)")


def _death_message(child: Child) -> str:
    return (
        f"{child.name} exited unexpectedly (code {child.exited()}); log: {child.log_path}\n{child.log_tail()}"
    )


# --- the foreground supervisor --------------------------------------------------------------------


class _Stop(Exception):
    pass


def run_dev(state_dir: Path, api_port: int = 8000, flower_port: int = 5555, say: Say = print) -> int:
    """`mentorq dev`: start the stack, watch it until Ctrl-C/SIGTERM or a child dies; the exit code."""

    def on_signal(signum: int, frame: object) -> None:
        # Only the first signal unwinds; a second one must not cut the cleanup short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise _Stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stack: Stack | None = None
    code = 0
    try:
        stack = start_stack(state_dir, api_port, flower_port, say=say)
        say("mentorq dev is running; Ctrl-C stops everything")
        while (dead := stack.dead_child()) is None:
            time.sleep(0.5)
        say(_death_message(dead))
        code = 1
    except AlreadyRunning as exc:
        say(str(exc))
        return 1
    except StackError as exc:
        say(f"error: {exc}")
        code = 1
    except _Stop as exc:
        say(f"{exc}: stopping")
    finally:
        # A Ctrl-C during the shutdown must not cut it short and leave orphans behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if stack is not None:
            stack.stop(say)
            say("stopped")
    return code


def stop_process(
    process: subprocess.Popen | None, timeout: float = STOP_TIMEOUT_S, *, kill: bool = False
) -> None:
    """SIGTERM its pid (SIGKILL with `kill`: a crash), wait, then SIGKILL its process group (a
    Celery pool's children too; the process leads its group: start_new_session)."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
