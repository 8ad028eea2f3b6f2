"""The `mentorq` command: run the platform's processes, migrate, and use the job API from a shell."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer

from core import logs
from core.metrics.processes import share_across_processes
from mentorq.cli_profiles import profiles_app

app = typer.Typer(
    help="mentorq: an asynchronous job platform for AI learning products.",
    no_args_is_help=True,
    add_completion=False,
)
jobs_app = typer.Typer(
    help="Submit, inspect, list and cancel jobs through the HTTP API.", no_args_is_help=True
)
app.add_typer(jobs_app, name="jobs")
app.add_typer(profiles_app, name="profiles")

PASSTHROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}
CELERY_APP = "workers.celery_app"


def main() -> None:
    """Console-script entry point."""
    app()


def _register_admin_commands() -> None:
    from mentorq.cli_admin import embeddings_app, retention_app, users_app

    app.add_typer(users_app, name="users")
    app.add_typer(embeddings_app, name="embeddings")
    app.add_typer(retention_app, name="retention")


def state_dir() -> Path:
    """The state dir (MENTORQ_STATE_DIR, default ./.mentorq), as settings define it."""
    return Path(os.environ.get("MENTORQ_STATE_DIR") or ".mentorq")


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


# --- running the platform -------------------------------------------------------------------------


def service_env(needs: tuple[str, ...]) -> dict[str, str]:
    """The environment for a service process: `needs` URLs from the env (or .env), else from a running dev.

    Unset URLs are taken from <state_dir>/urls.json while `mentorq dev` runs there; that is a
    development setup, so MENTORQ_ENV=dev and dev's SECRET_KEY are filled in when unset too.
    """
    from dotenv import dotenv_values  # pydantic-settings' own .env reader, so we see what Settings sees

    env = dict(os.environ)
    known = {k: v for k, v in dotenv_values(".env").items() if v} | {k: v for k, v in env.items() if v}
    missing = [name for name in needs if not known.get(name)]
    if not missing:
        return env
    from devstack import supervisor as devstack

    folder = state_dir()
    urls = devstack.read_urls(folder)
    if urls is None:
        _fail(
            f"{' and '.join(missing)} must be set (or run `mentorq dev` in this folder to use its "
            f"embedded servers; state dir: {folder.resolve()})",
            code=2,
        )
    for name in missing:
        env[name] = urls[name.lower()]
    env.setdefault("MENTORQ_ENV", "dev")
    if not known.get("SECRET_KEY"):
        env["SECRET_KEY"] = devstack.dev_secret_key(folder)
    typer.echo(
        f"using the embedded servers of mentorq dev (pid {urls.get('pid')}) for {', '.join(missing)}",
        err=True,
    )
    return env


def _exec(argv: list[str], env: dict[str, str]) -> NoReturn:
    """Replace this process, so signals from a supervisor reach the server directly."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(argv[0], argv, env)


def _written_json(path: Path, content: dict[str, Any]) -> str:
    """`content` in `path`, replaced whole (two API processes may start at once and read it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_name(f".{path.name}.{os.getpid()}")
    fresh.write_text(json.dumps(content, indent=2))
    os.replace(fresh, path)
    return str(path)


def _celery(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", CELERY_APP, *args]


@app.command()
def dev(
    api_port: int = typer.Option(8000, help="API port on 127.0.0.1."),
    flower_port: int = typer.Option(5555, help="Flower port on 127.0.0.1."),
) -> None:
    """Run the whole platform in the foreground on the embedded servers (Ctrl-C stops everything)."""
    from devstack.preflight import missing_report_fonts, sandbox_shortfall
    from devstack.supervisor import run_dev

    # Said first, and then the platform starts anyway: everything but what needs them works.
    shortfall = sandbox_shortfall()
    if shortfall:
        typer.echo(
            "warning: the code sandbox cannot run here; jobs that run code fail sandbox_unavailable:",
            err=True,
        )
        for line in shortfall:
            typer.echo(f"  - {line}", err=True)
    for font in missing_report_fonts():
        typer.echo(f"warning: no font {font}: match reports as PDF answer 503 report_unavailable", err=True)

    raise typer.Exit(run_dev(state_dir(), api_port, flower_port))


@app.command("lti-key")
def lti_key() -> None:
    """Print a new RSA private key (PEM) for MENTORQ_LTI_PRIVATE_KEY: the LTI tool's signing key."""
    from core.lti.tool_keys import generate_pem

    typer.echo(generate_pem(), nl=False)


@app.command()
def demo(keep: bool = typer.Option(False, help="Keep the throwaway state dir (logs) afterwards.")) -> None:
    """Start a throwaway stack, run one chat and one embed job through the API, print them, stop."""
    from mentorq.demo import run_demo

    raise typer.Exit(run_demo(keep=keep))


@app.command()
def rehearse(keep: bool = typer.Option(False, help="Keep its folder (logs, data) afterwards.")) -> None:
    """Run docker-compose.yml's services on separate network hosts (Linux network namespaces, as
    root) until Ctrl-C, then remove them all: the production topology, watched on one machine."""
    from devstack.rehearsal import run_rehearsal

    raise typer.Exit(run_rehearsal(keep=keep))


@app.command()
def api(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    workers: int = typer.Option(1, help="uvicorn worker processes."),
    forwarded_allow_ips: str | None = typer.Option(
        None,
        help="Addresses of the reverse proxy whose X-Forwarded-For names the client (rate limits are "
        "per client address); '*' when only the proxy can reach the API, as in docker-compose.",
    ),
) -> None:
    """Serve the HTTP API with uvicorn (api.main:app)."""
    env = service_env(("DATABASE_URL", "REDIS_URL"))
    argv = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", host, "--port", str(port)]
    argv += ["--workers", str(workers)]
    if workers > 1:
        share_across_processes(env)  # any worker answers a scrape for all of them
    if logs.log_format_in(env) == "json":
        argv += [
            "--log-config",
            _written_json(state_dir() / "uvicorn-logging.json", logs.uvicorn_log_config()),
        ]
    if forwarded_allow_ips is not None:
        argv += ["--proxy-headers", "--forwarded-allow-ips", forwarded_allow_ips]
    _exec(argv, env)


@app.command(context_settings=PASSTHROUGH)
def worker(
    ctx: typer.Context,
    lane: str | None = typer.Option(
        None,
        help="Run one lane the way it waits (core/lanes.py): llm (threads, MENTORQ_LLM_PARALLEL), "
        "embed, query, cpu (with maintenance), io. Sets -Q, --pool and --concurrency.",
    ),
    queues: str | None = typer.Option(None, "-Q", "--queues", help="Queues to consume (default: all)."),
    concurrency: int | None = typer.Option(
        None, help="Processes or threads (default: the lane's, or Celery's)."
    ),
    pool: str | None = typer.Option(None, help="Celery pool: prefork, solo, threads."),
    hostname: str | None = typer.Option(None, "-n", "--hostname", help="Node name, e.g. gpu1@%h."),
    loglevel: str = typer.Option("INFO"),
) -> None:
    """Run a Celery worker; extra arguments go to `celery worker` as they are."""
    from core import lanes

    env = service_env(("DATABASE_URL", "REDIS_URL"))
    if lane is not None:
        if queues is not None:
            raise typer.BadParameter("give --lane or -Q, not both")
        from dotenv import dotenv_values

        parallel = lanes.llm_parallel_in(env, dotenv_values(".env"))
        try:
            threads = lanes.llm_threads_in(env, dotenv_values(".env"))
            shape = lanes.worker_arguments(lane, llm_parallel=parallel, llm_threads=threads)
        except ValueError as error:
            raise typer.BadParameter(str(error)) from None
    else:
        shape = ["-Q", queues or ",".join(lanes.ALL)]
    # An explicit --pool or --concurrency wins over the lane's (Celery takes the last one given).
    # JSON log lines: no banner (celery's global --quiet), so the log is JSON lines only; the
    # banner's facts (queues, pool, concurrency) are in /v1/admin/health and Flower.
    quiet = ["--quiet"] if logs.log_format_in(env) == "json" else []
    argv = _celery(*quiet, "worker", *shape, "--loglevel", loglevel)
    if concurrency is not None:
        argv += ["--concurrency", str(concurrency)]
    if pool:
        argv += ["--pool", pool]
    if hostname:
        argv += ["--hostname", hostname]
    share_across_processes(env)  # the host's endpoint serves what the pool's children count too
    _exec(argv + ctx.args, env)


@app.command(context_settings=PASSTHROUGH)
def beat(ctx: typer.Context, loglevel: str = typer.Option("INFO")) -> None:
    """Run Celery beat (the reconciler and other schedules), its schedule file in the state dir."""
    env = service_env(("REDIS_URL",))
    folder = state_dir()
    folder.mkdir(parents=True, exist_ok=True)
    quiet = ["--quiet"] if logs.log_format_in(env) == "json" else []  # as the worker: no banner
    argv = _celery(*quiet, "beat", "-s", str(folder / "beat-schedule"), "--loglevel", loglevel)
    _exec(argv + ctx.args, env)


@app.command(context_settings=PASSTHROUGH)
def flower(
    ctx: typer.Context,
    address: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(5555),
    basic_auth: str | None = typer.Option(None, help="user:password (default: FLOWER_BASIC_AUTH)."),
    no_auth: bool = typer.Option(False, "--no-auth", help="Serve Flower without authentication."),
) -> None:
    """Run Flower; it refuses to start without basic auth unless --no-auth says so."""
    env = service_env(("REDIS_URL",))
    if basic_auth:
        env["FLOWER_BASIC_AUTH"] = basic_auth  # Flower reads FLOWER_* options; keeps it out of `ps`.
    if not env.get("FLOWER_BASIC_AUTH") and not no_auth:
        # Flower can revoke tasks and shut workers down: never serve it open by accident.
        _fail("set FLOWER_BASIC_AUTH=user:password or --basic-auth (or pass --no-auth)", code=2)
    _exec(_celery("flower", f"--address={address}", f"--port={port}") + ctx.args, env)


@app.command()
def migrate(
    downgrade: str | None = typer.Option(
        None, "--downgrade", metavar="REV", help="Downgrade to REV (e.g. base) instead."
    ),
) -> None:
    """Upgrade the database to the latest migration (or downgrade with --downgrade REV)."""
    env = service_env(("DATABASE_URL",))
    os.environ.update(env)  # the Alembic environment reads settings from this process
    from db import migrate as migrations

    if downgrade:
        migrations.downgrade(env["DATABASE_URL"], downgrade)
        typer.echo(f"downgraded to {downgrade}")
    else:
        migrations.upgrade(env["DATABASE_URL"])
        typer.echo("upgraded to head")


@app.command()
def ingest(
    paths: list[Path] = typer.Argument(..., help="Files and folders (searched recursively)."),
    collection: str = typer.Option("default", help="Collection to add them to."),
    tag: list[str] = typer.Option([], "--tag", help="A tag for every document (repeatable)."),
    resource_type: str | None = typer.Option(None, "--type", help="paper, tutorial, course or video."),
    level: str | None = typer.Option(None, help="beginner, intermediate or advanced."),
    timeout: float = typer.Option(1800, help="Seconds to wait for them all."),
) -> None:
    """Ingest files and folders (txt, md, html, pdf, docx, srt, vtt, zip) with a progress bar."""
    from mentorq.cli_ingest import ingest_paths
    from mentorq.client import ApiError, MentorqClient

    with MentorqClient(api_url(), token=_token()) as client:
        try:
            failures = ingest_paths(
                client,
                paths,
                collection=collection,
                tags=tag,
                resource_type=resource_type,
                level=level,
                timeout_s=timeout,
            )
        except ApiError as exc:
            _fail(f"{exc.code} (HTTP {exc.status}): {exc.detail}")
    if failures:
        raise typer.Exit(1)


# --- the HTTP client commands ---------------------------------------------------------------------


def api_url() -> str:
    """The API base URL: MENTORQ_API_URL, default http://127.0.0.1:8000."""
    from mentorq.client import DEFAULT_API_URL

    return os.environ.get("MENTORQ_API_URL") or DEFAULT_API_URL


def token_path() -> Path:
    """Where `mentorq login` keeps the bearer token."""
    return state_dir() / "token"


def _token() -> str | None:
    if os.environ.get("MENTORQ_TOKEN"):
        return os.environ["MENTORQ_TOKEN"]
    try:
        return token_path().read_text().strip() or None
    except OSError:
        return None


def _call(method: str, *args: Any, **kwargs: Any) -> Any:
    """Call a client method; an API error becomes its code and detail on stderr and exit 1."""
    from mentorq.client import ApiError, MentorqClient

    with MentorqClient(api_url(), token=_token()) as client:
        try:
            return getattr(client, method)(*args, **kwargs)
        except ApiError as exc:
            _fail(f"{exc.code} (HTTP {exc.status}): {exc.detail}")


def _print(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _read_input(value: str) -> Any:
    """JSON text, @file, or @- for stdin."""
    if value.startswith("@"):
        source = value[1:]
        try:
            value = sys.stdin.read() if source == "-" else Path(source).read_text()
        except OSError as exc:
            _fail(f"cannot read {source}: {exc.strerror}", code=2)
    try:
        return json.loads(value)
    except ValueError as exc:
        _fail(f"--input is not valid JSON: {exc}", code=2)


@app.command()
def login(
    email: str = typer.Option(..., prompt=True),
    password: str = typer.Option(..., prompt=True, hide_input=True),
    register: bool = typer.Option(False, "--register", help="Create the account first."),
) -> None:
    """Log in and save the bearer token to <state_dir>/token (mode 0600) for the jobs commands."""
    from mentorq.client import ApiError, MentorqClient

    with MentorqClient(api_url()) as client:
        try:
            if register:
                client.register(email, password)
            token = client.login(email, password)
        except ApiError as exc:
            _fail(f"{exc.code} (HTTP {exc.status}): {exc.detail}")
    path = token_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an older file may have had looser permissions
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    typer.echo(f"logged in as {email}; token saved to {path}")


@jobs_app.command("submit")
def jobs_submit(
    kind: str = typer.Argument(..., help="Job kind, e.g. chat or embed (see GET /v1/kinds)."),
    input: str = typer.Option(..., "--input", "-i", help="Input as JSON, @file or @-."),
    wait: int | None = typer.Option(None, help="Hold up to N seconds (Prefer: wait=N)."),
    idempotency_key: str | None = typer.Option(None, help="Idempotency-Key header."),
) -> None:
    """Submit a job and print the job resource."""
    _print(_call("submit", kind, _read_input(input), wait=wait, idempotency_key=idempotency_key))


@jobs_app.command("get")
def jobs_get(
    job_id: str, wait: int | None = typer.Option(None, help="Hold up to N seconds until done.")
) -> None:
    """Print one job resource."""
    _print(_call("get", job_id, wait=wait))


@jobs_app.command("watch")
def jobs_watch(
    job_id: str, last_event_id: int | None = typer.Option(None, help="Resume after this event id.")
) -> None:
    """Follow a job live: status changes, progress, streamed tokens, then the final resource."""
    from mentorq.client import ApiError, MentorqClient

    with MentorqClient(api_url(), token=_token()) as client:
        try:
            for event in client.watch(job_id, last_event_id=last_event_id):
                _show_event(event)
        except ApiError as exc:
            _fail(f"{exc.code} (HTTP {exc.status}): {exc.detail}")


def _show_event(event: Any) -> None:
    data = event.data
    if event.event == "output":
        typer.echo(data["data"]["delta"], nl=False)
    elif event.event == "progress":
        progress = data["data"] or {}
        fraction = progress.get("fraction")
        share = f" {fraction:.0%}" if isinstance(fraction, (int, float)) else ""
        typer.echo(f"[progress] {progress.get('stage')}{share} {progress.get('message') or ''}".rstrip())
    elif event.event == "status":
        typer.echo(f"[{data['type']}]")
    elif event.event == "error":
        error = data["data"] or {}
        typer.echo(f"[failed] {error.get('code')}: {error.get('message')}")
    elif event.event == "done":
        typer.echo("")
        _print(data)


@jobs_app.command("list")
def jobs_list(
    kind: str | None = typer.Option(None),
    status: str | None = typer.Option(None),
    limit: int | None = typer.Option(None),
    cursor: str | None = typer.Option(None),
) -> None:
    """Print a page of your jobs, newest first ({items, next_cursor})."""
    _print(_call("list", kind=kind, status=status, limit=limit, cursor=cursor))


@jobs_app.command("cancel")
def jobs_cancel(job_id: str) -> None:
    """Cancel a job and print its resource."""
    _print(_call("cancel", job_id))


_register_admin_commands()  # last: the admin modules import this one for its apps

if __name__ == "__main__":
    main()
