"""`mentorq ingest`: send files and folders to the knowledge store and follow them to `ready`."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from core.documents.detect import FORMATS

UPLOAD_BATCH_FILES = 20
UPLOAD_BATCH_BYTES = 40 * 1024 * 1024  # under the API's default 50 MiB upload limit
EXTENSIONS = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".srt", ".vtt", ".zip"}


def collect_files(paths: list[Path]) -> list[Path]:
    """Files given directly, and every supported file under the given folders (sorted, hidden skipped)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in EXTENSIONS
                and not any(part.startswith(".") for part in p.parts)
            )
        elif path.is_file():
            found.append(path)
        else:
            raise typer.BadParameter(f"no such file or folder: {path}")
    return found


def batches(files: list[Path]) -> list[list[Path]]:
    """Groups of files small enough for one upload request."""
    groups: list[list[Path]] = [[]]
    size = 0
    for file in files:
        file_size = file.stat().st_size
        if groups[-1] and (len(groups[-1]) >= UPLOAD_BATCH_FILES or size + file_size > UPLOAD_BATCH_BYTES):
            groups.append([])
            size = 0
        groups[-1].append(file)
        size += file_size
    return [group for group in groups if group]


def ingest_paths(
    client,
    paths: list[Path],
    *,
    collection: str,
    tags: list[str],
    resource_type: str | None,
    level: str | None,
    timeout_s: float,
) -> int:
    """Upload, then show a progress bar until every document is ready or failed; returns failures."""
    files = collect_files(paths)
    if not files:
        typer.echo("nothing to ingest (supported: " + ", ".join(sorted(FORMATS)) + ")")
        return 0
    pending: dict[str, str] = {}
    failures = 0
    for group in batches(files):
        items = client.upload_documents(
            [(file.name, file.read_bytes()) for file in group],
            collection=collection,
            tags=tags,
            resource_type=resource_type,
            level=level,
        )
        for file, item in zip(group, items):
            if item["action"] == "rejected":
                failures += 1
                typer.echo(f"refused {file}: {item['error']['code']}: {item['error']['message']}", err=True)
            elif item["action"] == "unchanged":
                typer.echo(f"unchanged {file}")
            else:
                pending[item["document"]["id"]] = str(file)
    deadline = time.monotonic() + timeout_s
    with typer.progressbar(length=len(pending), label=f"ingesting into {collection!r}") as bar:
        while pending and time.monotonic() < deadline:
            for document_id, name in list(pending.items()):
                document = client.get_document(document_id)
                if document["status"] in ("ready", "failed"):
                    del pending[document_id]
                    bar.update(1)
                    if document["status"] == "failed":
                        failures += 1
                        typer.echo(
                            f"\nfailed {name}: {document['error']['code']}: {document['error']['message']}",
                            err=True,
                        )
            time.sleep(0.5)
    if pending:
        typer.echo(f"{len(pending)} documents still processing after {timeout_s:.0f} s", err=True)
        failures += len(pending)
    return failures
