"""The xAPI tests' platform: Ralph's LRS as a process (its own virtualenv, filesystem backend), a
gate in front of it, and a platform of their own whose API and workers send statements there."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import own_stack
from tests.support.fake_ollama import FakeOllama
from tests.support.stack import REPO, Stack, free_port, stop_process, wait_until
from tests.xapi.lrs_gate import LrsGate

RALPH_PYTHON = REPO / ".venv-ralph" / "bin" / "python"
LRS_USER, LRS_PASSWORD = "mentorq", "lrs-test-password"
PUBLIC_URL = "https://learn.example.test"


class Lrs:
    """Ralph, read back through its own xAPI GET /statements."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.Client(
            base_url=url,
            auth=(LRS_USER, LRS_PASSWORD),
            headers={"X-Experience-API-Version": "1.0.3"},
            timeout=30,
        )

    def statements(self, **query: str) -> list[dict]:
        """Every statement matching the query, following `more` links."""
        found: list[dict] = []
        answer = self.client.get("/xAPI/statements", params={"limit": "500", **query})
        while True:
            assert answer.status_code == 200, answer.text
            body = answer.json()
            found += body["statements"]
            if not body.get("more"):
                return found
            answer = self.client.get(body["more"])


@pytest.fixture(scope="session")
def lrs() -> Iterator[Lrs]:
    if not RALPH_PYTHON.exists():
        pytest.fail(f"Ralph's LRS is not installed at {RALPH_PYTHON}: `make test` makes it (.venv-ralph)")
    root = Path(tempfile.mkdtemp(prefix="mentorq-ralph-"))
    (root / "data").mkdir()
    env = {
        **os.environ,
        "RALPH_APP_DIR": str(root / "app"),
        "RALPH_AUTH_FILE": str(root / "auth.json"),
        "RALPH_RUNSERVER_BACKEND": "fs",
        "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(root / "data"),
        "RALPH_BACKENDS__DATA__FS__DEFAULT_DIRECTORY_PATH": str(root / "data"),
    }
    ralph = RALPH_PYTHON.parent / "ralph"
    subprocess.run(
        [
            str(ralph),
            "auth",
            "-u",
            LRS_USER,
            "-p",
            LRS_PASSWORD,
            "-s",
            "all",
            "-M",
            "mailto:lrs@example.com",
            "-w",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    log = open(root / "ralph.log", "ab")
    process = subprocess.Popen(
        [str(RALPH_PYTHON), str(Path(__file__).parent / "ralph_lrs.py"), str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: httpx.get(f"{url}/__heartbeat__", timeout=1).status_code == 200,
            timeout=60,
            message="Ralph",
        )
        yield Lrs(url)
    finally:
        stop_process(process)
        log.close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def gate(lrs: Lrs) -> Iterator[LrsGate]:
    gate = LrsGate(lrs.url)
    yield gate
    gate.close()


@pytest.fixture(autouse=True)
def _open_gate(gate: LrsGate) -> Iterator[None]:
    yield
    gate.reset()


@pytest.fixture(scope="session")
def xapi_stack(fake_ollama: FakeOllama, gate: LrsGate) -> Iterator[Stack]:
    with own_stack(fake_ollama, "mentorq-xapi-") as platform:
        platform.env.update(
            {
                "MENTORQ_XAPI_ENDPOINT": f"{gate.url}/xAPI/",
                "MENTORQ_XAPI_USERNAME": LRS_USER,
                "MENTORQ_XAPI_PASSWORD": LRS_PASSWORD,
                "MENTORQ_PUBLIC_URL": PUBLIC_URL,
            }
        )
        platform.start_api()
        platform.start_worker(queues="llm,embed,query,cpu,maintenance", concurrency=2)
        platform.start_worker("worker-io", queues="io", concurrency=4, pool="threads")
        platform.start_beat()  # the reconciler: a job whose worker died runs again
        yield platform
