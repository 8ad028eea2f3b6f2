"""Session fixtures: one real platform (PostgreSQL, Redis, API, worker, beat) shared by the tests."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from core.net import guard
from core.redis_clients import reset_redis
from core.settings import get_settings
from db.session import reset_engines
from tests.support.fake_ollama import DEFAULT_REPLY, FakeOllama
from tests.support.receiver import Receiver
from tests.support.site import Site
from tests.support.stack import Stack, build_stack

os.environ.setdefault("MENTORQ_ENV", "test")


@pytest.fixture(scope="session")
def fake_ollama() -> Iterator[FakeOllama]:
    server = FakeOllama().start()
    yield server
    server.stop()


@contextmanager
def own_stack(fake_ollama: FakeOllama, prefix: str) -> Iterator[Stack]:
    """PostgreSQL and Redis in a folder of their own (not pytest's tmp_path: pytest prunes old
    basetemp folders, and another pytest session could remove one under a running PostgreSQL),
    everything stopped and removed on the way out."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    platform = build_stack(root, ollama_url=fake_ollama.url)
    try:
        yield platform
    finally:
        platform.stop_all()
        platform.redis.stop()
        platform.postgres.stop()
        shutil.rmtree(root, ignore_errors=True)


# The session's stack once a test has asked for it, and which of its worker and beat
# nothing_runs_jobs stopped and no test has started since: only those are started again below.
# A fixture that swaps the worker for others of its own (test_llm_lane's, llm_routes') restores it
# itself, and nothing here starts one beside its own.
_shared_stack: list[Stack] = []
_left_stopped: set[str] = set()


@pytest.fixture(scope="session")
def stack(fake_ollama: FakeOllama) -> Iterator[Stack]:
    with own_stack(fake_ollama, "mentorq-tests-") as platform:
        platform.start_api()
        platform.start_worker()
        platform.start_worker("worker-io", queues="io", concurrency=8, pool="threads")
        platform.start_beat()
        _shared_stack.append(platform)
        try:
            yield platform
        finally:
            _shared_stack.clear()
            _left_stopped.clear()


def _jobs_run_again() -> None:
    """The shared stack's all-queue worker and its beat, started again where nothing_runs_jobs
    left them stopped."""
    for platform in _shared_stack:
        if "worker" in _left_stopped and "worker" not in platform.processes:
            platform.start_worker()
        if "beat" in _left_stopped and "beat" not in platform.processes:
            platform.start_beat()
    _left_stopped.clear()


def _runs_jobs_on_the_shared_stack(fixturenames: list[str]) -> bool:
    # Every fixture a test uses, its fixtures' fixtures included (`client` asks for `stack`).
    return "stack" in fixturenames and "nothing_runs_jobs" not in fixturenames


@pytest.fixture(scope="module", autouse=True)
def _jobs_run_when_a_module_starts(request: pytest.FixtureRequest) -> None:
    # Module-scoped, so before the module's own fixtures: one of them may submit a job. Not for a
    # module whose first test wants nothing run (test_outbox's all do): it would stop them at once.
    items = [item for item in request.session.items if getattr(item, "module", None) is request.module]
    if items and "nothing_runs_jobs" in items[0].fixturenames:
        return
    if any(_runs_jobs_on_the_shared_stack(item.fixturenames) for item in items):
        _jobs_run_again()


@pytest.fixture(autouse=True)
def _jobs_run_unless_the_test_wants_none(request: pytest.FixtureRequest) -> None:
    if _runs_jobs_on_the_shared_stack(request.fixturenames):
        _jobs_run_again()


@pytest.fixture(autouse=True)
def _reset_fake_ollama(fake_ollama: FakeOllama) -> None:
    fake_ollama.token_delay_s = 0.0
    fake_ollama.invalid_json_times = 0
    fake_ollama.reply = DEFAULT_REPLY
    fake_ollama.context_words = None
    fake_ollama.scripts.clear()
    for released in fake_ollama.holds.values():
        released.set()  # a test that failed before its release leaves no generation waiting
    fake_ollama.holds.clear()


class ApiClient(httpx.Client):
    """An httpx client logged in as a fresh user."""

    email: str
    user_id: str


def register(
    base_url: str, *, email: str | None = None, password: str = "correct-horse-battery"
) -> ApiClient:
    email = email or f"user-{uuid.uuid4().hex[:12]}@example.com"
    anonymous = httpx.Client(base_url=base_url, timeout=90)
    created = anonymous.post("/auth/register", json={"email": email, "password": password})
    assert created.status_code == 201, created.text
    token = anonymous.post("/auth/jwt/login", data={"username": email, "password": password}).json()[
        "access_token"
    ]
    anonymous.close()
    client = ApiClient(base_url=base_url, timeout=90, headers={"Authorization": f"Bearer {token}"})
    client.email, client.user_id = email, created.json()["id"]
    return client


@pytest.fixture
def client(stack: Stack) -> Iterator[ApiClient]:
    with register(stack.api_url) as api:
        yield api


def announced(check: Callable[[], bool], seconds: float = 30.0) -> bool:
    """Whether `check` comes true within `seconds`: an account changed behind the API's back takes
    effect when PostgreSQL's announcement reaches the API (api/user_cache.py), milliseconds later."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def make_admin(stack: Stack, client: ApiClient) -> ApiClient:
    stack.sql("UPDATE users SET is_superuser = true WHERE email = %s", client.email)
    assert announced(lambda: client.get("/users/me").json()["is_superuser"])
    return client


@pytest.fixture
def admin_client(stack: Stack) -> Iterator[ApiClient]:
    with register(stack.api_url) as api:
        yield make_admin(stack, api)


@pytest.fixture
def other_client(stack: Stack) -> Iterator[ApiClient]:
    with register(stack.api_url) as api:
        yield api


@pytest.fixture
def on_the_stack(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """This process's settings, engines and Redis client pointed at the test stack, for tests that
    call the platform's own code (a query, the unit of work, the job runtime) in the test process."""
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "MENTORQ_ENV"):
        monkeypatch.setenv(name, stack.env[name])
    get_settings.cache_clear()
    reset_engines()
    reset_redis()
    yield stack
    monkeypatch.undo()
    get_settings.cache_clear()
    reset_engines()
    reset_redis()


@pytest.fixture
def loopback_stands_in_for_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """Treat 127.0.0.1 (the tests' servers) as a public address while every other range stays
    forbidden, for tests of the network guard's other rules."""
    original = guard.forbidden_reason
    monkeypatch.setattr(
        guard, "forbidden_reason", lambda ip: None if str(ip) == "127.0.0.1" else original(ip)
    )


@pytest.fixture
def site() -> Iterator[Site]:
    """A small website on loopback: pages, feeds and sitemaps a test writes (tests/support/site.py)."""
    server = Site()
    yield server
    server.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on loopback answering 200 (set `statuses` to script it)."""
    hook = Receiver()
    yield hook
    hook.close()


@pytest.fixture
def nothing_runs_jobs(stack: Stack) -> None:
    """No job worker and no beat: jobs stay queued, and only the test (or the API) sends or
    reconciles anything. What this stopped is started again before the next test on the shared
    stack that does not ask for this fixture (_jobs_run_unless_the_test_wants_none), so tests in a
    row that do share one stop: each
    start of the all-queue worker is about 15 s of a core (sentence-transformers' import alone 11)."""
    for name in ("beat", "worker"):
        if name in stack.processes:
            stack.stop(name)
            _left_stopped.add(name)
