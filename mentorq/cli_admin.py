"""Operator commands that talk to the database directly: admins and embedding models."""

from __future__ import annotations

import os

import typer

users_app = typer.Typer(help="Manage accounts.", no_args_is_help=True)
embeddings_app = typer.Typer(help="Inspect and prune embedding models.", no_args_is_help=True)


def _session():
    from mentorq.cli import service_env

    os.environ.update(service_env(("DATABASE_URL",)))
    from db.session import session_scope

    return session_scope()


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
    from db import knowledge
    from mentorq.settings import get_settings

    configured = get_settings().embed_model
    with _session() as session:
        active = knowledge.get_active_model(session, default=configured)
        total, coverage = knowledge.embedding_coverage(session)
    typer.echo(f"active: {active}   configured: {configured}   searchable chunks: {total}")
    for model in sorted(set(coverage) | {active, configured}):
        share = coverage.get(model, 0) / total if total else 1.0
        typer.echo(f"  {model}: {coverage.get(model, 0)} ({share:.0%})")


@embeddings_app.command("prune")
def prune(yes: bool = typer.Option(False, "--yes", help="Do it without asking.")) -> None:
    """Delete the vectors (and indexes) of every model but the active one."""
    from db import knowledge
    from mentorq.settings import get_settings

    with _session() as session:
        active = knowledge.get_active_model(session, default=get_settings().embed_model)
        if not yes:
            typer.confirm(f"delete every embedding not made by {active}?", abort=True)
        deleted = knowledge.prune_models(session, keep=active)
    if not deleted:
        typer.echo(f"nothing to prune: only {active} has embeddings")
    for model, count in deleted.items():
        typer.echo(f"deleted {count} embeddings of {model}")
