"""A real platform for tests: embedded PostgreSQL and Redis, API, workers and beat as processes.

Every process is started here and stopped by its own pid.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from core.lti import tool_keys
from db import migrate
from devstack.embedded import EmbeddedPostgres, EmbeddedRedis

REPO = Path(__file__).resolve().parents[2]
ALL_QUEUES = "llm,embed,query,cpu,maintenance,transcribe"
# A process the test runs as production: the stack's cheap password hashes are refused there.
AS_PRODUCTION = {
    "MENTORQ_ENV": "production",
    "MENTORQ_PASSWORD_HASH_MEMORY_KIB": "65536",
    "MENTORQ_PASSWORD_HASH_TIME_COST": "3",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, *, timeout: float, interval: float = 0.1, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:  # noqa: BLE001 - not ready yet
            pass
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {message}")


# A process the stack starts is waited for until it is ready or has exited (its log's end then says
# why), not for a short fixed time: with the suite's three pytest processes starting their stacks at
# once on two busy cores, a worker (which imports the task modules and their libraries) once took
# more than a minute to come up, and every test of that process failed on the minute's clock. This
# clock is only the last net for a start that hangs, under pytest-timeout's 300 s per test.
PROCESS_START_TIMEOUT_S = 240.0


def stop_process(process: subprocess.Popen, *, timeout: float = 15.0) -> None:
    """SIGTERM the process group we created, then SIGKILL it if it lingers."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


METRICS_TOKEN = "test-metrics-token-0123456789abcdef"


@dataclass
class Stack:
    root: Path
    env: dict[str, str]
    postgres: EmbeddedPostgres
    redis: EmbeddedRedis
    api_url: str = ""
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    # A state Redis of its own (MENTORQ_STATE_REDIS_URL), where build_stack was asked for one.
    state_redis: EmbeddedRedis | None = None

    @property
    def state_store(self) -> EmbeddedRedis:
        """The Redis holding what requests make: the state Redis, else the broker's."""
        return self.state_redis or self.redis

    @property
    def database_url(self) -> str:
        return self.env["DATABASE_URL"]

    def sql(self, query: str, *params: object) -> list[tuple]:
        """Run one statement against the platform's database and return its rows."""
        with psycopg.connect(self.database_url.replace("+psycopg", ""), autocommit=True) as connection:
            cursor = connection.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def _spawn(
        self, name: str, command: list[str], extra_env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        running = self.processes.get(name)
        if running is not None and running.poll() is None:
            # Started again over a live one, the first went on unseen: a second `worker@test` took
            # another test's job (tests/conftest.py's restarts, 2026-11-29).
            raise RuntimeError(f"{name} is already running (pid {running.pid}): stop it first")
        log = open(self.root / f"{name}.log", "ab")
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env={**self.env, **(extra_env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: we can stop it and its children by pid
        )
        self.processes[name] = process
        return process

    def start_api(self) -> None:
        self.api_url = self._start_api_process("api", {})

    @contextmanager
    def extra_api(self, **env: str) -> Iterator[str]:
        """A second API process on the same database and Redis with some settings changed; yields its URL."""
        name = f"api-{free_port()}"
        url = self._start_api_process(name, env)
        try:
            yield url
        finally:
            self.stop(name)

    def _start_api_process(self, name: str, extra_env: dict[str, str]) -> str:
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "api.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        process = self._spawn(name, [*command, "--log-level", "warning"], extra_env)
        url = f"http://127.0.0.1:{port}"
        self._wait_for_start(name, process, lambda: httpx.get(f"{url}/healthz", timeout=1).status_code == 200)
        return url

    def _wait_for_start(self, name: str, process: subprocess.Popen, ready: Callable[[], bool]) -> None:
        """Until `ready()` says so, or the process has exited: then its log's end is the error."""
        wait_until(
            lambda: process.poll() is not None or ready(), timeout=PROCESS_START_TIMEOUT_S, message=name
        )
        if process.poll() is not None:
            tail = (self.root / f"{name}.log").read_bytes()[-4000:].decode(errors="replace")
            raise RuntimeError(
                f"{name} exited ({process.returncode}) before it was ready; its log ends:\n{tail}"
            )

    def start_worker(
        self,
        name: str = "worker",
        *,
        queues: str = ALL_QUEUES,
        concurrency: int = 2,
        pool: str = "prefork",
        extra_env: dict[str, str] | None = None,
        extra_args: tuple[str, ...] = (),
        app: str = "workers.celery_app",
    ) -> subprocess.Popen:
        """A Celery worker of `app` (a module with the app: a benchmark may wrap the real one)."""
        hostname = f"{name}@test"
        process = self._spawn(
            name,
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                app,
                "worker",
                "-Q",
                queues,
                "-n",
                hostname,
                "--concurrency",
                str(concurrency),
                "--pool",
                pool,
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                *extra_args,
            ],
            extra_env,
        )
        self._wait_for_start(name, process, lambda: self.worker_is_live(hostname))
        return process

    def worker_is_live(self, hostname: str) -> bool:
        import redis

        return bool(redis.Redis.from_url(self.redis.url).exists(f"mentorq:worker:{hostname}"))

    def start_beat(self, extra_env: dict[str, str] | None = None) -> None:
        self._spawn(
            "beat",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers.celery_app",
                "beat",
                "-s",
                str(self.root / "beat-schedule"),
                "--loglevel",
                "INFO",
            ],
            extra_env,
        )

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None:
            stop_process(process)

    def kill(self, name: str) -> None:
        """SIGKILL a process and its children at once, like a host losing power."""
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)

    def stop_servers(self) -> None:
        """Stop the processes, then Redis (both, where there are two) and PostgreSQL."""
        self.stop_all()
        if self.state_redis is not None:
            self.state_redis.stop()
        self.redis.stop()
        self.postgres.stop()


def build_stack(
    root: Path,
    *,
    ollama_url: str,
    state_redis_maxmemory: str | None = None,
    state_redis_policy: str | None = None,
) -> Stack:
    """Start PostgreSQL and Redis, migrate, and prepare the environment the processes share.

    With `state_redis_maxmemory`, a second Redis, capped at that and evicting by
    `state_redis_policy`, is the state Redis (MENTORQ_STATE_REDIS_URL), as docker-compose.yml's
    `redis-state`; without, the one Redis is both, as `mentorq dev` runs it."""
    root.mkdir(parents=True, exist_ok=True)
    postgres = EmbeddedPostgres(root / "pg").start()
    redis_server = EmbeddedRedis(root / "redis").start()
    state_redis = None
    try:
        if state_redis_maxmemory is not None:
            state_redis = EmbeddedRedis(
                root / "redis-state",
                append_only=False,
                maxmemory=state_redis_maxmemory,
                maxmemory_policy=state_redis_policy,
            ).start()
        migrate.upgrade(postgres.url)
    except BaseException:
        # Nobody holds the Stack yet to stop them: a failing migration once left both running.
        if state_redis is not None:
            state_redis.stop()
        redis_server.stop()
        postgres.stop()
        raise
    (root / "source-folders").mkdir(exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": postgres.url,
        "REDIS_URL": redis_server.url,
        "MENTORQ_ENV": "test",
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "MENTORQ_STATE_DIR": str(root),
        "MENTORQ_DEBUG_KINDS": "1",
        "MENTORQ_LLM_PROVIDER": "ollama",
        "MENTORQ_LLM_MODEL": "llama3.2:1b",
        "OLLAMA_HOST": ollama_url,
        "MENTORQ_HEARTBEAT_SECONDS": "0.5",
        # Most tests register a user and sign in: at the production cost (64 MiB, 3 passes) that was
        # minutes of the suite's CPU. The cost's floor outside tests: tests/accounts/test_passwords.py.
        "MENTORQ_PASSWORD_HASH_MEMORY_KIB": "64",
        "MENTORQ_PASSWORD_HASH_TIME_COST": "1",
        "MENTORQ_STALE_AFTER_SECONDS": "3",
        "MENTORQ_RECONCILE_EVERY_SECONDS": "1",
        "MENTORQ_REDISPATCH_AFTER_SECONDS": "600",
        "MENTORQ_BROKER_PUBLISH_TIMEOUT": "1",
        "MENTORQ_WEBHOOK_ALLOW_PRIVATE": "true",
        "MENTORQ_WEBHOOK_ALLOW_HTTP": "true",
        "MENTORQ_WEBHOOK_TIMEOUT_SECONDS": "2",
        "MENTORQ_WEBHOOK_RETRY_SCHEDULE": "[1, 1, 1, 1, 1, 1, 1]",
        "MENTORQ_SSE_KEEPALIVE_SECONDS": "1",
        # Every API serves GET /metrics to this token (tests/metrics; the proxy test shows nginx
        # refuses the path); a worker serves them only where a test gives it MENTORQ_METRICS_PORT.
        "MENTORQ_METRICS_TOKEN": METRICS_TOKEN,
        # An endless loop in a graded submission ends in 1 s of CPU instead of 5.
        # Speakers only where a test asks (tests/recordings: a worker of its own): the stack's
        # recordings are lectures of one voice, and its heartbeat staleness (3 s) is tight.
        "MENTORQ_DIARIZATION_ENGINE": "off",
        "MENTORQ_SANDBOX_CPU_SECONDS": "1",
        "MENTORQ_SANDBOX_WALL_SECONDS": "4",
        "MENTORQ_FETCH_ALLOW_PRIVATE": "true",
        "MENTORQ_MAX_DOCUMENT_BYTES": "2000000",
        "MENTORQ_FETCH_TIMEOUT_SECONDS": "2",
        "MENTORQ_SEARCH_EMBED_TIMEOUT_SECONDS": "3",
        "MENTORQ_REEMBED_EVERY_SECONDS": "2",
        # Folder sources read only under this root (tests/sources make their folders in it); beat
        # looks for due sources every second, so a test waits a second, not half a minute.
        "MENTORQ_SOURCE_FOLDERS_ROOT": str(root / "source-folders"),
        "MENTORQ_SOURCES_TICK_SECONDS": "1",
        # A run brings in at most 25 items (the default 200 would queue 200 ingest jobs per run).
        "MENTORQ_SOURCE_MAX_ITEMS": "25",
        # The suite registers hundreds of users from one address and bursts jobs: fair-use limits
        # are tested on an API of their own (tests/api/test_fair_use.py).
        "MENTORQ_RATE_LIMIT_USER": "1000000/minute",
        "MENTORQ_RATE_LIMIT_ANONYMOUS": "1000000/minute",
        "MENTORQ_ACCOUNT_MAIL_PER_CLIENT": "1000000/hour",
        "MENTORQ_MAX_ACTIVE_JOBS_PER_USER": "5000",
        "PYTHONUNBUFFERED": "1",
        "HF_HUB_OFFLINE": "1",
        # The LTI tool's signing key (tests/lti): a new one per platform, as an operator makes it.
        "MENTORQ_LTI_PRIVATE_KEY": tool_keys.generate_pem(),
        "MENTORQ_LTI_ALLOW_PRIVATE": "true",  # the test platforms are on loopback
    }
    env.pop("MENTORQ_STATE_REDIS_URL", None)
    if state_redis is not None:
        env["MENTORQ_STATE_REDIS_URL"] = state_redis.url
    return Stack(root=root, env=env, postgres=postgres, redis=redis_server, state_redis=state_redis)
