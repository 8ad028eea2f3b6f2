"""The `llm` lane as production runs it (core/lanes.py): a threads worker as wide as the model
server's slots, against a fake Ollama that behaves like a GPU server. Faults: a hung call, the
server down with a backlog; and per-user admission (db/admission.py) keeping one user's backlog
from starving another user's job."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import ApiClient, register
from tests.support.fake_ollama import FakeOllama
from tests.support.stack import Stack, free_port, wait_until

SLOTS = 4


@pytest.fixture(scope="module")
def gpu_server() -> Iterator[FakeOllama]:
    """A fake Ollama with 4 slots (it can be stopped and restarted on the same port)."""
    server = FakeOllama(slots=SLOTS, port=free_port()).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lanes_stack(stack: Stack, gpu_server: FakeOllama) -> Iterator[Stack]:
    """The session's all-queue worker swapped for the production split: worker-llm (threads x 4)
    and a worker on the other lanes (query embeddings included)."""
    stack.stop("worker")
    env = {"OLLAMA_HOST": gpu_server.url, "MENTORQ_LLM_PARALLEL": str(SLOTS)}
    try:
        stack.start_worker("worker-llm", queues="llm", concurrency=SLOTS, pool="threads", extra_env=env)
        stack.start_worker("worker-rest", queues="embed,query,cpu,maintenance", concurrency=1)
        _wait_for_the_query_lane(stack)
        yield stack
    finally:
        stack.stop("worker-llm")
        stack.stop("worker-rest")
        stack.start_worker()


def _wait_for_the_query_lane(stack: Stack) -> None:
    """A new worker loads the embedding model in the background after it is live (workers/signals.py);
    on a loaded machine that takes longer than a search waits (3 s here). The test below asks whether
    searches keep answering while the llm lane is backed up, so it starts from a warm query lane."""
    client = register(stack.api_url)
    try:

        def answers() -> bool:
            return client.post("/v1/search", json={"query": "warm", "mode": "hybrid"}).status_code == 200

        wait_until(answers, timeout=120, interval=1, message="the query lane answering a search")
    finally:
        client.close()


def submit(client: ApiClient, kind: str, input: dict) -> str:
    response = client.post("/v1/jobs", json={"kind": kind, "input": input})
    assert response.status_code == 202, response.text
    return response.json()["id"]


def job(client: ApiClient, job_id: str) -> dict:
    return client.get(f"/v1/jobs/{job_id}").json()


def wait_all(client: ApiClient, ids: list[str], statuses: set[str], timeout: float) -> list[dict]:
    def done() -> bool:
        return all(job(client, job_id)["status"] in statuses for job_id in ids)

    wait_until(done, timeout=timeout, interval=0.5, message=f"{len(ids)} jobs in {statuses}")
    return [job(client, job_id) for job_id in ids]


def test_a_hung_llm_call_is_cut_at_the_time_limit_and_its_thread_is_free_again(
    lanes_stack: Stack, gpu_server: FakeOllama
) -> None:
    gpu_server.hang_markers.add("HANG")
    gpu_server.hang_s = 120  # far past the test: only the time limit can end these calls
    owner, other = register(lanes_stack.api_url), register(lanes_stack.api_url)
    try:
        # As many hung calls as the worker has threads: every thread is stuck in one.
        hung = [
            submit(owner, "debug.llm", {"prompt": f"HANG {i}", "stream": i % 2 == 0}) for i in range(SLOTS)
        ]
        wait_until(lambda: gpu_server.hung >= SLOTS, timeout=30, message="the hung calls reached the server")
        for failed in wait_all(owner, hung, {"failed", "succeeded"}, timeout=30):
            assert failed["status"] == "failed"
            assert failed["error"]["code"] == "timeout"
            # Cut by the call's own deadline (3 s), not by the reconciler noticing a dead job later.
            assert "time limit" in failed["error"]["message"] and "Ollama" in failed["error"]["message"]
        # The threads are free: a normal job runs now, long before the hung calls would end.
        fine = submit(other, "chat", {"prompt": "hi"})
        (done,) = wait_all(other, [fine], {"succeeded", "failed"}, timeout=30)
        assert done["status"] == "succeeded"
    finally:
        gpu_server.hang_markers.clear()
        owner.close()
        other.close()


def test_ollama_down_with_50_jobs_queued_they_wait_and_all_finish_once_it_is_back(
    lanes_stack: Stack, gpu_server: FakeOllama
) -> None:
    users = [register(lanes_stack.api_url) for _ in range(2)]
    gpu_server.stop()
    down = True
    try:
        ids = {user: [submit(user, "chat", {"prompt": f"job {i}"}) for i in range(25)] for user in users}
        all_ids = [job_id for owned in ids.values() for job_id in owned]

        def unavailable_retries() -> int:
            rows = lanes_stack.sql(
                "SELECT count(*) FROM job_events WHERE type = 'retried' "
                "AND data->>'reason' LIKE 'llm_unavailable%%' AND job_id = ANY(%s::uuid[])",
                all_ids,
            )
            return rows[0][0]

        # Each user's first 4 jobs run, find the server down, and wait with backoff; none fails.
        wait_until(lambda: unavailable_retries() >= 2 * SLOTS * 2, timeout=60, message="jobs retried twice")
        statuses = {job(users[0], job_id)["status"] for job_id in ids[users[0]]}
        assert statuses <= {"queued", "running"}, statuses
        # Searches keep answering: their query embeddings have a lane of their own.
        for mode in ("hybrid", "keyword"):
            search = users[0].post("/v1/search", json={"query": "spaced repetition", "mode": mode})
            assert search.status_code == 200, search.text

        answered_before = gpu_server.requests["/api/chat"]
        gpu_server.restart()
        down = False
        for user in users:
            finished = wait_all(user, ids[user], {"succeeded", "failed", "canceled"}, timeout=120)
            assert {f["status"] for f in finished} == {"succeeded"}, [
                f["error"] for f in finished if f["error"]
            ]
        # Each job ran exactly once on the server once it was back: nothing lost, nothing twice.
        assert gpu_server.requests["/api/chat"] - answered_before == 50
        attempts = lanes_stack.sql("SELECT max(attempts) FROM jobs WHERE id = ANY(%s::uuid[])", all_ids)[0][0]
        assert attempts == 1, "an attempt that never reached the server is not counted"
    finally:
        if down:
            gpu_server.restart()
        for user in users:
            user.close()


def test_one_users_backlog_does_not_starve_another_users_job(
    lanes_stack: Stack, gpu_server: FakeOllama
) -> None:
    gpu_server.token_delay_s = 0.2  # the default reply's 9 tokens: about 2 s a job
    heavy, light = register(lanes_stack.api_url), register(lanes_stack.api_url)
    try:
        backlog = [submit(heavy, "chat", {"prompt": f"backlog {i}"}) for i in range(16)]
        held = lanes_stack.sql(
            "SELECT count(*) FROM jobs WHERE owner_id = %s AND held AND status = 'queued'", heavy.user_id
        )[0][0]
        assert held >= 16 - 2 * SLOTS, "past the user's 4 slots the jobs wait in PostgreSQL"
        waiting = job(heavy, backlog[-1])
        assert waiting["status"] == "queued" and waiting["progress"]["stage"] == "waiting"

        single = submit(light, "chat", {"prompt": "just one"})
        finished = wait_all(heavy, backlog, {"succeeded"}, timeout=120)
        (mine,) = wait_all(light, [single], {"succeeded"}, timeout=30)
        order = sorted(f["completed_at"] for f in finished)
        # Behind at most the 4 jobs already sent (one job time per slot), never behind the backlog.
        assert mine["completed_at"] < order[2 * SLOTS - 1], (mine["completed_at"], order)
        started = lanes_stack.sql(
            "SELECT count(*) FROM job_events WHERE type = 'started' AND job_id = ANY(%s::uuid[])", backlog
        )[0][0]
        assert started == len(backlog), "every held job ran once"
    finally:
        gpu_server.token_delay_s = 0.0
        heavy.close()
        light.close()
