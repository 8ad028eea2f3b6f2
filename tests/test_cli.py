"""The `mentorq` command without the full stack: help, the dev lock, and the HTTP client commands."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from devstack import supervisor as devstack
from mentorq.cli import app
from mentorq.client import ApiError, MentorqClient

JOB = {
    "id": "3f1c0b9e-0000-4000-8000-000000000001",
    "kind": "chat",
    "status": "queued",
    "input": {},
    "output": None,
    "error": None,
}


@dataclass
class FakeApi:
    """A loopback HTTP server answering canned responses per (method, path) and recording requests."""

    routes: dict[tuple[str, str], list[tuple[int, str, bytes]]] = field(default_factory=dict)
    requests: list[dict] = field(default_factory=list)
    url: str = ""

    def answer(
        self, method: str, path: str, status: int, body: object, content_type: str = "application/json"
    ) -> None:
        """Queue an answer; the last one queued for a route repeats."""
        self.routes.setdefault((method, path), []).append((status, content_type, json.dumps(body).encode()))

    def problem(self, method: str, path: str, status: int, code: str, detail: str) -> None:
        self.answer(
            method,
            path,
            status,
            {"type": "about:blank", "title": "Error", "status": status, "code": code, "detail": detail},
            "application/problem+json",
        )


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeApi]:
    api = FakeApi()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            api.requests.append(
                {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
            )
            answers = api.routes.get((self.command, self.path.split("?")[0]))
            status, content_type, payload = (
                (answers.pop(0) if len(answers) > 1 else answers[0])
                if answers
                else (404, "application/problem+json", b'{"code": "not_found", "detail": "no route"}')
            )
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _handle

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("MENTORQ_API_URL", api.url)
    monkeypatch.setenv("MENTORQ_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("MENTORQ_TOKEN", raising=False)
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


runner = CliRunner()


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("dev", "demo", "api", "worker", "beat", "flower", "migrate", "login", "jobs", "profiles"):
        assert command in result.output
    jobs = runner.invoke(app, ["jobs", "--help"])
    for command in ("submit", "get", "list", "cancel"):
        assert command in jobs.output


# --- the dev lock ---------------------------------------------------------------------------------


def test_a_second_lock_on_the_same_state_dir_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    lock = devstack.acquire_lock(tmp_path)
    try:
        assert devstack.running_dev_pid(tmp_path) == os.getpid()
        with pytest.raises(devstack.AlreadyRunning) as refused:
            devstack.acquire_lock(tmp_path)
        assert refused.value.pid == os.getpid()
        assert str(refused.value) == f"mentorq dev is already running (pid {os.getpid()})"
    finally:
        lock.release()
    assert devstack.running_dev_pid(tmp_path) is None
    devstack.acquire_lock(tmp_path).release()  # free again once released


def test_second_mentorq_dev_in_the_same_folder_exits_1(tmp_path: Path) -> None:
    lock = devstack.acquire_lock(tmp_path)
    try:
        env = {**os.environ, "MENTORQ_STATE_DIR": str(tmp_path)}
        # Free ports, so a bug that skipped the lock could not collide with a real dev stack.
        argv = [
            sys.executable,
            "-m",
            "mentorq.cli",
            "dev",
            "--api-port",
            str(devstack.free_port()),
            "--flower-port",
            str(devstack.free_port()),
        ]
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    finally:
        lock.release()
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"mentorq dev is already running (pid {os.getpid()})" in result.stdout


def test_services_use_the_urls_of_a_running_dev_and_refuse_without_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mentorq.cli import service_env

    monkeypatch.chdir(tmp_path)  # no .env here
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "MENTORQ_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MENTORQ_STATE_DIR", str(tmp_path / "state"))
    result = runner.invoke(app, ["worker"])
    assert result.exit_code == 2
    assert "DATABASE_URL and REDIS_URL must be set" in result.output

    lock = devstack.acquire_lock(tmp_path / "state")
    try:
        (tmp_path / "state" / devstack.URLS_FILE).write_text(
            json.dumps(
                {
                    "database_url": "postgresql+psycopg://x",
                    "redis_url": "unix:///tmp/x.sock",
                    "pid": os.getpid(),
                }
            )
        )
        env = service_env(("DATABASE_URL", "REDIS_URL"))
    finally:
        lock.release()
    assert env["DATABASE_URL"] == "postgresql+psycopg://x"
    assert env["REDIS_URL"] == "unix:///tmp/x.sock"
    assert env["MENTORQ_ENV"] == "dev" and len(env["SECRET_KEY"]) > 40
    # Once dev is gone its urls.json must not be trusted.
    assert devstack.read_urls(tmp_path / "state") is None


# --- the jobs commands against a loopback HTTP server ---------------------------------------------


def test_an_error_answer_exits_non_zero_with_its_code_and_detail(fake_api: FakeApi) -> None:
    fake_api.problem("GET", f"/v1/jobs/{JOB['id']}", 404, "job_not_found", "no such job")
    result = runner.invoke(app, ["jobs", "get", JOB["id"]])
    assert result.exit_code == 1
    assert "job_not_found" in result.output and "no such job" in result.output


def test_submit_sends_input_file_wait_idempotency_key_and_token(
    fake_api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_api.answer("POST", "/v1/jobs", 202, JOB)
    monkeypatch.setenv("MENTORQ_TOKEN", "tok123")
    (tmp_path / "in.json").write_text('{"prompt": "hi"}')
    result = runner.invoke(
        app,
        [
            "jobs",
            "submit",
            "chat",
            "--input",
            f"@{tmp_path / 'in.json'}",
            "--wait",
            "5",
            "--idempotency-key",
            "k-1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == JOB
    sent = fake_api.requests[-1]
    assert json.loads(sent["body"]) == {"kind": "chat", "input": {"prompt": "hi"}}
    assert sent["headers"]["Prefer"] == "wait=5"
    assert sent["headers"]["Idempotency-Key"] == "k-1"
    assert sent["headers"]["Authorization"] == "Bearer tok123"


def test_bad_input_json_is_refused_before_any_request(fake_api: FakeApi) -> None:
    result = runner.invoke(app, ["jobs", "submit", "chat", "--input", "{not json"])
    assert result.exit_code == 2
    assert "not valid JSON" in result.output
    assert fake_api.requests == []


def test_list_and_cancel(fake_api: FakeApi) -> None:
    fake_api.answer("GET", "/v1/jobs", 200, {"items": [JOB], "next_cursor": None})
    fake_api.answer("POST", f"/v1/jobs/{JOB['id']}/cancel", 200, {**JOB, "status": "canceled"})
    listed = runner.invoke(app, ["jobs", "list", "--kind", "chat", "--limit", "5"])
    assert listed.exit_code == 0 and json.loads(listed.stdout)["items"][0]["id"] == JOB["id"]
    assert fake_api.requests[-1]["path"] == "/v1/jobs?kind=chat&limit=5"
    canceled = runner.invoke(app, ["jobs", "cancel", JOB["id"]])
    assert canceled.exit_code == 0 and json.loads(canceled.stdout)["status"] == "canceled"


def test_login_saves_the_token_readable_only_by_its_owner(fake_api: FakeApi) -> None:
    fake_api.answer("POST", "/auth/jwt/login", 200, {"access_token": "tok456", "token_type": "bearer"})
    fake_api.answer("GET", "/v1/jobs", 200, {"items": [], "next_cursor": None})
    result = runner.invoke(app, ["login", "--email", "a@example.com", "--password", "pw"])
    assert result.exit_code == 0, result.output
    token_file = Path(os.environ["MENTORQ_STATE_DIR"]) / "token"
    assert token_file.read_text().strip() == "tok456"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert fake_api.requests[0]["body"] == "username=a%40example.com&password=pw"
    runner.invoke(app, ["jobs", "list"])
    assert fake_api.requests[-1]["headers"]["Authorization"] == "Bearer tok456"


def test_an_unreachable_api_is_a_connection_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MENTORQ_API_URL", f"http://127.0.0.1:{devstack.free_port()}")
    result = runner.invoke(app, ["jobs", "get", "x"])
    assert result.exit_code == 1 and "connection_error" in result.output


def test_wait_until_done_long_polls_until_a_terminal_status(fake_api: FakeApi) -> None:
    path = f"/v1/jobs/{JOB['id']}"
    fake_api.answer("GET", path, 200, {**JOB, "status": "running"})
    fake_api.answer("GET", path, 200, {**JOB, "status": "succeeded"})
    with MentorqClient(fake_api.url) as client:
        assert client.wait_until_done(JOB["id"], deadline_s=10, poll_wait=2)["status"] == "succeeded"
        assert fake_api.requests[0]["headers"]["Prefer"] == "wait=2"
        fake_api.problem("GET", "/v1/jobs/other", 401, "unauthorized", "no token")
        with pytest.raises(ApiError) as err:
            client.get("other")
        assert (err.value.status, err.value.code) == (401, "unauthorized")


# --- the real stack -------------------------------------------------------------------------------


@pytest.mark.slow
def test_start_stack_serves_the_platform_and_stop_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    for name in ("DATABASE_URL", "REDIS_URL", "FLOWER_BASIC_AUTH"):
        monkeypatch.delenv(name, raising=False)
    state = tmp_path / "s"
    stack = devstack.start_stack(
        state,
        api_port=devstack.free_port(),
        flower_port=devstack.free_port(),
        with_beat=True,
        say=lambda message: None,
    )
    try:
        pids = [child.process.pid for child in stack.children] + [stack.redis.pid, stack.postgres.pid]
        with pytest.raises(devstack.AlreadyRunning):
            devstack.acquire_lock(state)
        assert devstack.read_urls(state)["api_url"] == stack.api_url
        assert httpx.get(f"{stack.api_url}/docs").status_code == 200
        assert httpx.get(f"{stack.flower_url}/api/workers").status_code == 401
        user, password = stack.flower_auth.split(":", 1)
        authed = httpx.get(f"{stack.flower_url}/api/workers", auth=(user, password), timeout=30)
        assert authed.status_code == 200

        monkeypatch.setenv("MENTORQ_API_URL", stack.api_url)
        monkeypatch.setenv("MENTORQ_STATE_DIR", str(state))
        login = runner.invoke(
            app, ["login", "--register", "--email", "cli@example.com", "--password", "pw-12345678"]
        )
        assert login.exit_code == 0, login.output
        submitted = runner.invoke(
            app, ["jobs", "submit", "embed", "--input", '{"texts": ["a", "b"]}', "--wait", "60"]
        )
        assert submitted.exit_code == 0, submitted.output
        job = json.loads(submitted.stdout)
        if job["status"] != "succeeded":
            job = json.loads(runner.invoke(app, ["jobs", "get", job["id"], "--wait", "60"]).stdout)
        assert job["status"] == "succeeded" and job["output"]["dim"] == 384
    finally:
        stack.stop()
    assert [pid for pid in pids if _alive(pid)] == []
    assert devstack.running_dev_pid(state) is None
    assert not (state / devstack.URLS_FILE).exists()


def _alive(pid: int) -> bool:
    """True while the process runs; a zombie (exited, not yet reaped by its parent) counts as gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class _SlowAnswer(BaseHTTPRequestHandler):
    """Holds each request 1.5 s, as the API holds a `Prefer: wait` ask until the answer is ready."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(1.5)
        body = json.dumps(JOB | {"prefer": self.headers.get("Prefer")}).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client that did not wait has gone: what the test expects

    def log_message(self, *args) -> None:
        pass


def test_an_ask_held_by_the_server_waits_as_long_as_it_asked_to():
    """The client's read timeout grows by the `Prefer: wait` it sends (the demo's asks once timed
    out at the client's own 30 s while the server still held them for their 30)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowAnswer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with MentorqClient(f"http://127.0.0.1:{server.server_port}", timeout=0.5) as client:
            assert client.ask("why?", wait=3)["prefer"] == "wait=3"
            with pytest.raises(ApiError, match="connection_error"):
                client.ask("why?")
    finally:
        server.shutdown()
        server.server_close()
