"""`mentorq ingest` against the real platform: a folder of transcripts, then a re-run that changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ApiClient
from tests.support.stack import REPO, Stack

LECTURE = (REPO / "samples" / "knowledge" / "lecture-memory.srt").read_text()


def run_ingest(stack: Stack, client: ApiClient, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "MENTORQ_API_URL": stack.api_url,
        "MENTORQ_TOKEN": client.headers["Authorization"].removeprefix("Bearer "),
        "MENTORQ_ENV": "test",
    }
    # The command's own deadline, well inside the subprocess's: a document that never gets ready
    # ends the command with its account of what is still processing, not a killed test.
    return subprocess.run(
        [sys.executable, "-m", "mentorq.cli", "ingest", "--timeout", "150", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )


def where_things_stand(stack: Stack, result: subprocess.CompletedProcess) -> str:
    """For a failure's message: the command's output, the unfinished jobs and the worker's last lines."""
    jobs = stack.sql(
        "SELECT kind, status, attempts, created_at, started_at FROM jobs"
        " WHERE status NOT IN ('succeeded', 'failed', 'canceled') ORDER BY created_at"
    )
    workers = sorted(stack.processes)
    log = (stack.root / "worker.log").read_text(errors="replace")[-4000:]
    return f"{result.stderr}\nunfinished jobs: {jobs}\nprocesses: {workers}\nworker.log:\n{log}"


def test_a_folder_of_srt_files_is_ingested_with_progress(
    stack: Stack, client: ApiClient, tmp_path: Path
) -> None:
    folder = tmp_path / "transcripts"
    folder.mkdir()
    for week in range(3):
        (folder / f"week-{week}.srt").write_text(LECTURE.replace("memory", f"memory week {week}"))
    (folder / ".hidden.srt").write_text(LECTURE)  # hidden files are skipped

    first = run_ingest(stack, client, str(folder), "--collection", "lectures", "--tag", "lecture")
    assert first.returncode == 0, where_things_stand(stack, first)
    assert "ingesting into 'lectures'" in first.stdout
    documents = client.get("/v1/documents", params={"collection": "lectures"}).json()["items"]
    assert sorted(d["filename"] for d in documents) == ["week-0.srt", "week-1.srt", "week-2.srt"]
    assert all(
        d["status"] == "ready" and d["format"] == "srt" and d["tags"] == ["lecture"] for d in documents
    )

    again = run_ingest(stack, client, str(folder), "--collection", "lectures")
    assert again.returncode == 0 and again.stdout.count("unchanged") == 3


def test_a_refused_file_makes_the_command_fail(stack: Stack, client: ApiClient, tmp_path: Path) -> None:
    picture = tmp_path / "diagram.md"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)  # a PNG behind a .md name
    result = run_ingest(stack, client, str(picture))
    assert result.returncode == 1
    assert "unsupported_type" in result.stderr
