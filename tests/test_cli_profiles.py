"""`mentorq profiles ingest` against the real platform: the steps it prints, a failed job, usage
errors caught before any upload, and an admin's target."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

from tests.conftest import ApiClient
from tests.profiles.support import extraction, profile
from tests.support.fake_ollama import FakeOllama
from tests.support.stack import REPO, Stack

INTRO = (
    "Hi, I'm Ana Costa {marker}. I have been teaching myself Rust for two years in the evenings. "
    "I love reading about medieval history. My goal is to contribute to an open source compiler."
)


def _answer() -> str:
    return extraction(
        display_name="Ana Costa",
        bio="Ana learns Rust in the evenings and wants to contribute to a compiler.",
        bio_evidence="I have been teaching myself Rust for two years",
        level="intermediate",
        skills=[
            {"name": "Rust", "level": "intermediate", "evidence": "teaching myself Rust for two years"},
            # Invented: the quote is not in the source, so it is dropped.
            {"name": "Go", "level": "advanced", "evidence": "I write Go services at work"},
        ],
        interests=[{"name": "medieval history", "evidence": "love reading about medieval history"}],
        goals=[
            {
                "name": "contribute to an open source compiler",
                "evidence": "contribute to an open source compiler",
            }
        ],
    )


def _intro_file(folder: Path, fake_ollama: FakeOllama, reply: str, name: str = "intro.md") -> Path:
    marker = uuid.uuid4().hex
    fake_ollama.script(marker, reply)
    path = folder / name
    path.write_text(INTRO.format(marker=marker))
    return path


def run_profiles_ingest(stack: Stack, client: ApiClient, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "MENTORQ_API_URL": stack.api_url,
        "MENTORQ_TOKEN": client.headers["Authorization"].removeprefix("Bearer "),
        "MENTORQ_ENV": "test",
    }
    return subprocess.run(
        [sys.executable, "-m", "mentorq.cli", "profiles", "ingest", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _profile_jobs(client: ApiClient) -> list[dict]:
    return client.get("/v1/jobs", params={"kind": "profile_ingest"}).json()["items"]


def test_a_file_becomes_the_next_revision_with_each_step_printed(
    stack: Stack, client: ApiClient, fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    source = _intro_file(tmp_path, fake_ollama, _answer())
    result = run_profiles_ingest(stack, client, str(source))
    assert result.returncode == 0, result.stderr
    me, etag = profile(client)
    lines = result.stdout.splitlines()
    assert re.fullmatch(rf"uploaded {re.escape(str(source))} \(job [0-9a-f-]{{36}}\)", lines[0]), lines
    assert lines[1:] == [
        "parsed: 33 words in 1 window(s)",
        "extracted 1 skills, 1 interests, 1 goals (1 unsupported dropped)",
        f"saved revision 2 of {me['username']}",
    ]
    assert etag == '"2"' and [s["name"] for s in me["skills"]] == ["Rust"]
    assert len(_profile_jobs(client)) == 1  # the listing the no-upload checks below rely on


def test_a_failed_job_prints_its_error_and_exits_1(
    stack: Stack, client: ApiClient, fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    source = _intro_file(tmp_path, fake_ollama, "not json")
    result = run_profiles_ingest(stack, client, str(source))
    assert result.returncode == 1
    assert "uploaded" in result.stdout and "saved revision" not in result.stdout
    assert f"failed {source}: llm_invalid_output:" in result.stderr
    assert profile(client)[1] == '"1"'  # the profile is as it was


def test_usage_errors_exit_2_before_anything_is_uploaded(
    stack: Stack, client: ApiClient, fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    good = _intro_file(tmp_path, fake_ollama, _answer())
    unreadable = tmp_path / "locked.md"
    unreadable.write_text("secret")
    unreadable.chmod(0)
    cases = {
        "missing": (str(good), str(tmp_path / "missing.md")),
        "folder": (str(good), str(tmp_path)),
        "both targets": (str(good), "--user", client.email, "--external-id", "someone"),
        "no file": (),
    }
    if os.geteuid() != 0:  # root reads a mode-0 file anyway
        cases["unreadable"] = (str(good), str(unreadable))
    for case, args in cases.items():
        result = run_profiles_ingest(stack, client, *args)
        assert result.returncode == 2, (case, result.stdout, result.stderr)
        assert "uploaded" not in result.stdout, case
    assert _profile_jobs(client) == []


def test_an_admin_ingests_for_a_person_without_an_account(
    stack: Stack, admin_client: ApiClient, fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    source = _intro_file(tmp_path, fake_ollama, _answer())
    external = f"transcript-{uuid.uuid4().hex[:8]}"
    result = run_profiles_ingest(stack, admin_client, str(source), "--external-id", external)
    assert result.returncode == 0, result.stderr
    assert "saved revision 2 of " in result.stdout
    job_id = re.search(r"\(job ([0-9a-f-]{36})\)", result.stdout).group(1)
    output = admin_client.get(f"/v1/jobs/{job_id}").json()["output"]
    assert output["external_id"] == external and output["user_id"] is None
    assert profile(admin_client)[1] == '"1"'  # the admin's own profile is untouched


def test_a_target_given_by_a_non_admin_is_refused_with_exit_1(
    stack: Stack, client: ApiClient, admin_client: ApiClient, fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    source = _intro_file(tmp_path, fake_ollama, _answer())
    result = run_profiles_ingest(stack, client, str(source), "--user", admin_client.email)
    assert result.returncode == 1
    assert f"refused {source}: admin_only (HTTP 403)" in result.stderr
    assert _profile_jobs(client) == []
