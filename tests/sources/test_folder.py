"""Folder sources: what cannot be read is a per-item error with a code, never a stuck or failed run.

The tests run as root, so a chmod 000 file is readable anyway; the unreadable things here are the
ones root cannot read either (or must not): a broken symlink, a FIFO with no writer (opening it
blocking would hang the run), a symlink to a directory, a symlink out of the root, a file over the
byte cap, and binary data."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from tests.conftest import ApiClient
from tests.sources.conftest import create_source, run_source, shared_collection, source_documents, wait_ready
from tests.support.stack import Stack


def folder(stack: Stack) -> Path:
    path = Path(stack.env["MENTORQ_SOURCE_FOLDERS_ROOT"]) / f"f-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    return path


def test_unreadable_files_are_item_errors_with_codes_and_the_readable_ones_ingest(
    admin_client: ApiClient, stack: Stack, tmp_path: Path
) -> None:
    root = folder(stack)
    (root / "notes.md").write_text("# Notes\n\nSpacing beats massing.\n")
    (root / "sub").mkdir()
    (root / "sub" / "deeper.txt").write_text("Testing effect: recall strengthens memory.\n")
    (root / "broken.md").symlink_to(root / "does-not-exist.md")
    os.mkfifo(root / "pipe.txt")
    (root / "a-directory.md").symlink_to(root / "sub")
    outside = tmp_path / "secret.txt"
    outside.write_text("outside the root")
    (root / "escape.txt").symlink_to(outside)
    cap = int(stack.env["MENTORQ_MAX_DOCUMENT_BYTES"])
    (root / "huge.txt").write_bytes(b"a" * (cap + 1))
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(256))
    (root / "empty.txt").write_bytes(b"")
    (root / ".hidden.md").write_text("skipped: hidden")

    source = create_source(
        admin_client, shared_collection(admin_client), kind="folder", location=str(root), remove_missing=True
    )
    assert source["location"] == str(root.resolve())
    job, run = run_source(admin_client, source)
    assert job["status"] == "succeeded", job
    errors = {Path(error["item"]).name: error["code"] for error in run["item_errors"]}
    assert errors == {
        "broken.md": "broken_symlink",
        "pipe.txt": "not_a_regular_file",
        "a-directory.md": "not_a_regular_file",
        "escape.txt": "outside_root",
        "huge.txt": "too_large",
        "image.png": "unsupported_type",
        "empty.txt": "empty_document",
    }
    assert (run["listed"], run["added"], run["failed"], run["status"]) == (9, 2, 7, "succeeded")
    documents = source_documents(stack, source["id"])
    assert set(documents) == {f"path:{root / 'notes.md'}", f"path:{root / 'sub' / 'deeper.txt'}"}
    wait_ready(stack, source["id"])

    # A file deleted from the folder is removed from the collection; an edited one re-ingested.
    (root / "notes.md").unlink()
    (root / "sub" / "deeper.txt").write_text("Testing effect: retrieval beats rereading.\n")
    job, run = run_source(admin_client, source)
    assert (run["removed"], run["changed"], run["added"]) == (1, 1, 0)
    assert set(source_documents(stack, source["id"])) == {f"path:{root / 'sub' / 'deeper.txt'}"}


def test_a_folder_that_disappeared_fails_the_run_and_an_empty_one_removes_nothing(
    admin_client: ApiClient, stack: Stack
) -> None:
    root = folder(stack)
    (root / "one.txt").write_text("Generation effect: produce the answer.\n")
    source = create_source(
        admin_client, shared_collection(admin_client), kind="folder", location=str(root), remove_missing=True
    )
    run_source(admin_client, source)
    (root / "one.txt").unlink()
    job, run = run_source(admin_client, source)
    # An empty listing is more often an unmounted share than a folder emptied on purpose.
    assert (run["status"], run["removed"], run["removal_skipped"]) == ("succeeded", 0, "empty_listing")
    root.rmdir()
    job, run = run_source(admin_client, source)
    assert job["error"]["code"] == "folder_not_found" and run["error"]["code"] == "folder_not_found"
    assert len(source_documents(stack, source["id"])) == 1
