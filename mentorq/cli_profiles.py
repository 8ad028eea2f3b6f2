"""`mentorq profiles ingest`: send a person's own words to profile ingestion and follow each job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

profiles_app = typer.Typer(help="Learner profiles through the HTTP API.", no_args_is_help=True)


@profiles_app.command("ingest")
def ingest(
    files: list[Path] = typer.Argument(
        ...,
        metavar="FILE",
        help="Intros, CVs, transcripts (txt, md, html, pdf, docx, srt, vtt); one job each, in order.",
    ),
    user: str | None = typer.Option(
        None, "--user", metavar="EMAIL", help="Admins: into this account's profile instead of yours."
    ),
    external_id: str | None = typer.Option(
        None, "--external-id", metavar="ID", help="Admins: into the profile of a person without an account."
    ),
) -> None:
    """Turn each file into your profile's next revision, printing every step; exit 1 if any failed."""
    from mentorq.cli import _token, api_url
    from mentorq.client import ApiError, MentorqClient

    if user and external_id:
        raise typer.BadParameter("give --user or --external-id, not both")
    sources = read_sources(files)  # every file is read before anything is uploaded
    failures = 0
    with MentorqClient(api_url(), token=_token()) as client:
        for file, content in sources:
            try:
                job = upload_source(client, file.name, content, user_email=user, external_id=external_id)
            except ApiError as exc:
                if not 400 <= exc.status < 500:
                    typer.echo(f"error: {exc.code} (HTTP {exc.status}): {exc.detail}", err=True)
                    raise typer.Exit(1) from None
                failures += 1
                typer.echo(f"refused {file}: {exc.code} (HTTP {exc.status}): {exc.detail}", err=True)
                continue
            typer.echo(f"uploaded {file} (job {job['id']})")
            try:
                finished = follow_job(client, job["id"])
            except ApiError as exc:
                typer.echo(f"error: {exc.code} (HTTP {exc.status}): {exc.detail}", err=True)
                raise typer.Exit(1) from None
            if not report_result(file, finished):
                failures += 1
    if failures:
        raise typer.Exit(1)


def read_sources(files: list[Path]) -> list[tuple[Path, bytes]]:
    """Each file's bytes; a missing or unreadable one is a usage error (exit 2)."""
    sources = []
    for file in files:
        try:
            sources.append((file, file.read_bytes()))
        except OSError as exc:
            raise typer.BadParameter(f"cannot read {file}: {exc.strerror}") from None
    return sources


def upload_source(
    client, filename: str, content: bytes, *, user_email: str | None, external_id: str | None
) -> dict[str, Any]:
    """POST /api/profiles/ingest as multipart `file`, with the admin's target as form fields."""
    return client.ingest_profile(file=(filename, content), user_email=user_email, external_id=external_id)


def follow_job(client, job_id: str) -> dict[str, Any]:
    """Follow the job's events, printing the parse step; returns the job resource once it ended."""
    from mentorq.client import ApiError

    for event in client.watch(job_id):
        if event.event == "progress":
            progress = event.data["data"] or {}
            if progress.get("stage") == "parsed":
                typer.echo(f"parsed: {progress.get('message')}")
        elif event.event == "done":
            return event.data
    raise ApiError(0, "connection_error", f"the event stream of job {job_id} closed before it ended")


def report_result(file: Path, job: dict[str, Any]) -> bool:
    """Print what a finished job did; False when it did not succeed."""
    if job["status"] != "succeeded":
        error = job.get("error") or {"code": job["status"], "message": f"the job was {job['status']}"}
        typer.echo(f"failed {file}: {error['code']}: {error['message']}", err=True)
        return False
    output = job["output"]
    typer.echo(
        f"extracted {len(output['skills'])} skills, {len(output['interests'])} interests, "
        f"{len(output['goals'])} goals ({output['dropped_unsupported']} unsupported dropped)"
    )
    if output.get("saved", True):
        typer.echo(f"saved revision {output['revision']} of {output['username']}")
    else:  # nothing the source supports: the profile was left as it was
        unsaved = output["not_saved"]
        typer.echo(f"saved nothing ({unsaved['code']}): {unsaved['message']}")
    return True
