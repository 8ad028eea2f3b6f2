"""The embedded Redis and PostgreSQL behind `mentorq dev` and the tests' stack, as a hostile local
process finds them: a password it does not have, a private folder, no Redis command that writes
files, and no server running as root.

Each test starts its own real servers (Redis in well under a second, PostgreSQL in a few); the
platform working through the passwords (API, workers, beat, Flower) is what the rest of the suite
shows, since its stack uses them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from kombu import Connection
from redis.backoff import NoBackoff
from redis.retry import Retry

from core.settings import Settings
from devstack.embedded import (
    DISABLED_REDIS_COMMANDS,
    POSTGRES_PASSWORD_FILE,
    REDIS_PASSWORD_FILE,
    EmbeddedPostgres,
    EmbeddedRedis,
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    state_dir = tmp_path / "state"
    embedded = EmbeddedRedis(state_dir / "redis", append_only=False).start()
    yield embedded
    embedded.stop()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def uid_of(pid: int) -> int:
    """A process's effective uid."""
    with open(f"/proc/{pid}/status") as status:
        return int(next(line for line in status if line.startswith("Uid:")).split()[2])


def test_a_client_without_the_password_is_refused(server: EmbeddedRedis) -> None:
    # No retries: a refusal is the answer, not a hiccup to wait out.
    stranger = redis.Redis(unix_socket_path=str(server.socket_path), retry=Retry(NoBackoff(), 0))
    for attempt in (
        stranger.ping,
        lambda: stranger.set("mentorq:planted", "1"),
        lambda: stranger.keys("*"),
        lambda: stranger.pubsub().psubscribe("mentorq:job:*"),  # other learners' live job events
    ):
        with pytest.raises(redis.AuthenticationError, match="(?i)noauth|authenticat"):
            attempt()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(
            unix_socket_path=str(server.socket_path), password="guessed", retry=Retry(NoBackoff(), 0)
        ).ping()
    assert redis.Redis.from_url(server.url).ping()
    assert not redis.Redis.from_url(server.url).exists("mentorq:planted")


def test_the_socket_and_its_folder_are_private(server: EmbeddedRedis) -> None:
    assert mode(server.directory) == 0o700
    assert mode(server.socket_path) == 0o700
    assert mode(server.directory.parent / REDIS_PASSWORD_FILE) == 0o600
    # The server got its config on stdin: the password is in no file of its own, nor in its arguments.
    assert server.password
    for path in server.directory.iterdir():
        if path.is_file():
            assert server.password.encode() not in path.read_bytes(), path
    assert server.password.encode() not in Path(f"/proc/{server.pid}/cmdline").read_bytes()


def test_a_folder_left_open_by_an_older_run_is_closed_again(tmp_path: Path) -> None:
    directory = tmp_path / "redis"
    directory.mkdir(mode=0o777)
    os.chmod(directory, 0o777)
    embedded = EmbeddedRedis(directory, append_only=False).start()
    try:
        assert mode(directory) == 0o700
    finally:
        embedded.stop()


@pytest.mark.parametrize(
    "command",
    [
        ("CONFIG", "SET", "dir", "/tmp"),  # then SAVE: a file wherever the server may write
        ("CONFIG", "GET", "requirepass"),
        ("MODULE", "LOAD", "/tmp/evil.so"),
        ("REPLICAOF", "127.0.0.1", "6379"),
        ("SLAVEOF", "127.0.0.1", "6379"),
        ("DEBUG", "SLEEP", "0"),
        ("SHUTDOWN", "NOSAVE"),
    ],
)
def test_commands_that_reach_past_the_data_are_gone_even_with_the_password(
    server: EmbeddedRedis, command: tuple[str, ...]
) -> None:
    assert command[0] in DISABLED_REDIS_COMMANDS
    client = redis.Redis.from_url(server.url)
    with pytest.raises(redis.ResponseError, match="unknown command"):
        client.execute_command(*command)
    # Not through a script either.
    with pytest.raises(redis.ResponseError, match="(?i)unknown"):
        client.eval(f"return redis.call('{command[0]}')", 0)
    assert client.ping()  # still up (SHUTDOWN did not run)


def test_the_server_runs_unprivileged_when_started_by_root(server: EmbeddedRedis) -> None:
    if os.geteuid() == 0:
        assert uid_of(server.pid) != 0
        assert server.directory.stat().st_uid == uid_of(server.pid)
    else:
        assert uid_of(server.pid) == os.geteuid()


def test_the_password_is_kept_and_survives_a_restart(tmp_path: Path) -> None:
    directory = tmp_path / "state" / "redis"
    first = EmbeddedRedis(directory).start()
    try:
        redis.Redis.from_url(first.url).set("kept", "yes")
        url = first.url
    finally:
        first.stop()
    stored = (tmp_path / "state" / REDIS_PASSWORD_FILE).read_text().strip()
    assert len(stored) >= 32 and f":{stored}@" in url
    second = EmbeddedRedis(directory).start()  # a new object, as a new `mentorq dev` would make
    try:
        assert second.url == url
        assert redis.Redis.from_url(second.url).get("kept") == b"yes"  # append-only file read back
    finally:
        second.stop()


def test_every_client_the_platform_builds_from_the_url_authenticates(server: EmbeddedRedis) -> None:
    """redis-py (API, workers), kombu (Celery's broker, Flower) through Settings.celery_broker_url."""
    settings = Settings(_env_file=None, MENTORQ_ENV="test", REDIS_URL=server.url)
    assert settings.celery_broker_url.startswith("redis+socket://:")
    with Connection(settings.celery_broker_url) as broker:
        queue = broker.SimpleQueue("h4-auth-check")
        queue.put({"ok": True})
        assert queue.get(timeout=5).payload == {"ok": True}
        queue.close()
    without_password = settings.celery_broker_url.replace(f":{server.password}@", "")
    with Connection(without_password, connect_timeout=2) as broker:
        with pytest.raises(Exception, match="(?i)auth"):
            broker.SimpleQueue("h4-auth-check").put({"ok": False})


# --- PostgreSQL ----------------------------------------------------------------------------------


def test_postgres_wants_its_password_on_the_socket_too(tmp_path: Path) -> None:
    """The package trusts every local connection; ours gives the superuser a password and trusts none."""
    postgres = EmbeddedPostgres(tmp_path / "state" / "pg").start()
    try:
        url = postgres.url.replace("+psycopg", "")
        assert postgres.password and f":{postgres.password}@" in url
        with psycopg.connect(url) as db:
            assert db.execute("SELECT current_user").fetchone() == ("postgres",)
        for stranger in (
            url.replace(f":{postgres.password}@", "@"),
            url.replace(postgres.password, "guessed"),
        ):
            with pytest.raises(psycopg.OperationalError, match="password"):
                psycopg.connect(stranger, connect_timeout=5)
        hba = (postgres.datadir / "pg_hba.conf").read_text()
        assert "trust" not in hba and "local all all scram-sha-256" in hba
        assert mode(postgres.datadir) == 0o700
        assert mode(tmp_path / "state" / POSTGRES_PASSWORD_FILE) == 0o600
        if os.geteuid() == 0:
            assert uid_of(postgres.pid) != 0
        # Restarted, it keeps the same password (the data dir and the password file go together).
        postgres.stop()
        postgres.start()
        with psycopg.connect(postgres.url.replace("+psycopg", "")) as db:
            assert db.execute("SELECT 1").fetchone() == (1,)
    finally:
        postgres.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the server's account is shut out of its folder")
def test_postgres_stops_even_when_its_account_can_no_longer_reach_its_folder(tmp_path: Path) -> None:
    """pytest closes its temporary folders (mode 0700, root's) when a later session starts: a
    server whose data lives there can no longer be stopped by pg_ctl run as its own account. The
    stop then signals the running postmaster, found by its postmaster.pid. The rehearsal's data
    host starts the server again with pg_ctl (to listen on its address), so the package's own
    record of the pid is stale: in CI that stop signalled a dead pid and PostgreSQL stayed up."""
    from devstack.rehearsal.data_host import start_postgres

    opened = tmp_path / "opened"
    opened.mkdir(mode=0o755)
    opened.chmod(0o755)
    postgres = start_postgres(opened, "127.0.0.77", "correct-horse-battery")
    try:
        running = int((postgres.datadir / "postmaster.pid").read_text().split("\n", 1)[0])
        opened.chmod(0o700)  # root's folder, closed to the server's account
        postgres.stop()
        with pytest.raises(ProcessLookupError):
            os.kill(running, 0)
    finally:
        opened.chmod(0o755)
        postgres.stop()
