"""The broker cannot be filled from outside (issue 59): what requests make lives in a state Redis of
its own, capped and evicting as docker-compose.yml's `redis-state` is, and filling it to its cap
leaves job submission and the jobs themselves untouched.

The stack here has two Redis servers; the shared stack (and `mentorq dev`) keeps one for both.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from celery import Celery

from devstack.embedded import EmbeddedRedis
from devstack.rehearsal.compose import argv, load
from tests.conftest import ApiClient, register
from tests.support.fake_ollama import FakeOllama
from tests.support.stack import Stack, build_stack, wait_until

pytestmark = pytest.mark.slow

STATE_MAXMEMORY_BYTES = 4 * 1024 * 1024  # small, so that filling it is quick
JUNK_VALUE = b"x" * 32 * 1024
JUNK_PREFIX = "junk:"
# At most this many writes (8x the cap in bytes): a fill that never reaches the cap fails, not hangs.
MAX_JUNK_WRITES = 8 * STATE_MAXMEMORY_BYTES // len(JUNK_VALUE)


def compose_state_policy() -> str:
    """The eviction policy production's `redis-state` runs with (docker-compose.yml)."""
    command = argv(load()["services"]["redis-state"]["command"])
    return command[command.index("--maxmemory-policy") + 1]


@pytest.fixture(scope="module")
def split_stack(fake_ollama: FakeOllama) -> Iterator[Stack]:
    root = Path(tempfile.mkdtemp(prefix="mentorq-state-redis-"))
    platform = build_stack(
        root,
        ollama_url=fake_ollama.url,
        state_redis_maxmemory=str(STATE_MAXMEMORY_BYTES),
        state_redis_policy=compose_state_policy(),
    )
    try:
        platform.start_api()
        platform.start_worker(queues="cpu,io,maintenance", concurrency=2)
        yield platform
    finally:
        platform.stop_servers()
        shutil.rmtree(root, ignore_errors=True)


def client_of(server: EmbeddedRedis) -> redis.Redis:
    return redis.Redis.from_url(server.url)


def fill(store: redis.Redis, *, until) -> int:
    """Write junk keys with a TTL (as every state key has one) until `until(store)`; how many."""
    for written in range(MAX_JUNK_WRITES):
        if until(store):
            return written
        store.set(f"{JUNK_PREFIX}{uuid.uuid4().hex}", JUNK_VALUE, ex=600)
    raise AssertionError(f"{MAX_JUNK_WRITES} junk keys and the store is still not full")


def evicting(store: redis.Redis) -> bool:
    return int(store.info("stats")["evicted_keys"]) > 0


def sleep_job(client: ApiClient) -> str:
    response = client.post("/v1/jobs", json={"kind": "debug.sleep", "input": {"seconds": 0}})
    assert response.status_code == 202, response.text
    return response.json()["id"]


def test_requests_keep_their_state_in_the_state_redis_never_in_the_broker(split_stack: Stack) -> None:
    assert split_stack.state_redis is not None
    with register(split_stack.api_url) as user:  # anonymous requests, then a signed-in one
        assert user.get("/users/me").status_code == 200
    state, broker = client_of(split_stack.state_redis), client_of(split_stack.redis)
    assert list(state.scan_iter("mentorq:limits*")), "no rate-limit counter in the state Redis"
    assert not list(broker.scan_iter("mentorq:limits*")), "rate-limit counters in the broker Redis"
    # The broker keeps what the broker's work needs: the workers' liveness keys.
    assert list(broker.scan_iter("mentorq:worker:*")) and not list(state.scan_iter("mentorq:worker:*"))


def test_a_state_redis_filled_to_its_cap_from_outside_leaves_jobs_submitted_and_run(
    split_stack: Stack,
) -> None:
    assert split_stack.state_redis is not None
    state, broker = client_of(split_stack.state_redis), client_of(split_stack.redis)
    with register(split_stack.api_url) as user:
        fill(state, until=evicting)
        # Past the cap: every new key costs an old one, and the store stays at the cap.
        more = fill(state, until=lambda s: int(s.info("stats")["evicted_keys"]) >= 2 * MAX_JUNK_WRITES // 8)
        assert int(state.info("memory")["used_memory"]) <= STATE_MAXMEMORY_BYTES * 1.05, more

        # Jobs are submitted over HTTP and run to the end, as on an empty store.
        job_ids = [sleep_job(user) for _ in range(5)]
        for job_id in job_ids:
            wait_until(
                lambda job_id=job_id: user.get(f"/v1/jobs/{job_id}").json()["status"] == "succeeded",
                timeout=60,
                message=f"job {job_id} succeeded",
            )
        # Anonymous requests are still counted (the counter written now survives the junk).
        anonymous = httpx.post(
            f"{split_stack.api_url}/auth/jwt/login", data={"username": "nobody@example.com", "password": "x"}
        )
        assert anonymous.status_code == 400, anonymous.text
        assert list(state.scan_iter("mentorq:limits*address*"))

    assert not list(broker.scan_iter(f"{JUNK_PREFIX}*")), "the state's junk reached the broker Redis"


def test_a_login_s_user_name_never_makes_a_long_key(split_stack: Stack) -> None:
    """A failed login is counted per account name, which is whatever the form says: a 256 KB name
    once made a 256 KB key, kept for the window, for each such request."""
    assert split_stack.state_redis is not None
    name = "a" * 256 * 1024 + "@example.com"
    answer = httpx.post(
        f"{split_stack.api_url}/auth/jwt/login", data={"username": name, "password": "wrong"}, timeout=30
    )
    assert answer.status_code == 400, answer.text
    keys = [
        key
        for server in (split_stack.state_redis, split_stack.redis)
        for key in client_of(server).scan_iter("mentorq:limits*login*")
    ]
    assert keys and max(len(key) for key in keys) <= 200, [key[:100] for key in keys]


def test_one_shared_redis_filled_to_a_noeviction_cap_refuses_the_broker_s_messages(tmp_path: Path) -> None:
    """Why the split: the same fill on one Redis that is both (noeviction, as a broker must be; with
    a cap, as here, or else the host's memory) leaves no room for a job's message: every
    submission's publish is refused (the job waits in PostgreSQL for a broker that has room)."""
    shared = EmbeddedRedis(
        tmp_path / "redis",
        append_only=False,
        maxmemory=str(STATE_MAXMEMORY_BYTES),
        maxmemory_policy="noeviction",
    ).start()
    try:
        store = client_of(shared)
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            fill(store, until=lambda _: False)  # until the server refuses a write
        producer = Celery("shared", broker=shared.url.replace("unix://", "redis+socket://"))
        with pytest.raises(Exception, match="maxmemory"):
            producer.send_task("mentorq.debug.sleep", args=[str(uuid.uuid4())], queue="cpu", retry=False)
    finally:
        shared.stop()
