"""Operator commands that talk to the database directly: admins, embedding models, retention."""

from __future__ import annotations

import os

import typer

users_app = typer.Typer(help="Manage accounts.", no_args_is_help=True)
embeddings_app = typer.Typer(help="Inspect and prune embedding models.", no_args_is_help=True)
retention_app = typer.Typer(help="Delete finished jobs past their retention period.", no_args_is_help=True)


def _transactions():
    """db.unit_of_work.unit_of_work, once DATABASE_URL is known (env, .env, or a running `mentorq dev`)."""
    from mentorq.cli import service_env

    os.environ.update(service_env(("DATABASE_URL",)))
    from db.unit_of_work import unit_of_work

    return unit_of_work


def _session():
    return _transactions()()


@users_app.command("promote")
def promote(email: str, revoke: bool = typer.Option(False, help="Take admin rights away instead.")) -> None:
    """Make a user an admin (superuser): sees every job, curates shared collections."""
    from sqlalchemy import update

    from db.models import User

    with _session() as session:
        result = session.execute(update(User).where(User.email == email).values(is_superuser=not revoke))
    if result.rowcount == 0:
        typer.echo(f"error: no user {email}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{email} is {'no longer ' if revoke else ''}an admin")


@embeddings_app.command("status")
def status() -> None:
    """The active embedding model, the configured one, and each model's coverage."""
    from core.settings import get_settings
    from db import embeddings

    configured = get_settings().embed_model
    with _session() as session:
        active = embeddings.get_active_model_sync(session, default=configured)
        total, coverage = embeddings.embedding_coverage_sync(session)
    typer.echo(f"active: {active}   configured: {configured}   searchable chunks: {total}")
    for model in sorted(set(coverage) | {active, configured}):
        share = coverage.get(model, 0) / total if total else 1.0
        typer.echo(f"  {model}: {coverage.get(model, 0)} ({share:.0%})")


@embeddings_app.command("prune")
def prune(yes: bool = typer.Option(False, "--yes", help="Do it without asking.")) -> None:
    """Delete the vectors (and indexes) of every model but the active one."""
    from core.settings import get_settings
    from db import embeddings

    with _session() as session:
        active = embeddings.get_active_model_sync(session, default=get_settings().embed_model)
        if not yes:
            typer.confirm(f"delete every embedding not made by {active}?", abort=True)
        deleted = embeddings.prune_models(session, keep=active)
    if not deleted:
        typer.echo(f"nothing to prune: only {active} has embeddings")
    for model, count in deleted.items():
        typer.echo(f"deleted {count} embeddings of {model}")


@retention_app.command("run")
def retention_run(
    days: int | None = typer.Option(
        None,
        min=1,
        help="Delete jobs finished more than this many days ago (default: MENTORQ_JOB_RETENTION_DAYS).",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count what would be deleted."),
) -> None:
    """Delete finished jobs past the retention period, with their events and webhook deliveries."""
    from core.settings import get_settings
    from db import retention

    if days is None:
        days = get_settings().job_retention_days
        if days == 0:
            typer.echo("retention is off (MENTORQ_JOB_RETENTION_DAYS=0); pass --days N to run it anyway")
            return
    sessions = _transactions()
    if dry_run:
        with sessions() as session:
            counts = retention.count_expired(session, days=days)
            held = retention.count_held(session, days=days)
        typer.echo(f"would delete {counts} (finished more than {days} days ago)")
    else:
        counts, _ = retention.purge_expired_jobs(sessions, days=days)
        with sessions() as session:
            held = retention.count_held(session, days=days)
        typer.echo(f"deleted {counts} (finished more than {days} days ago)")
    if held:
        typer.echo(
            f"keeping {held} older jobs: a webhook message still to send, or a document's current ingest job"
        )
