"""docker-compose.yml's topology run on separate network hosts (devstack/rehearsal): Linux network
namespaces joined through a router, every service started from the compose file's own command
and environment. A job goes client -> nginx (api) -> API -> Redis (data) -> worker (gpu) ->
the model server (gpu) -> PostgreSQL (data) and back; a cut host's work waits and is done once."""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from devstack.rehearsal import network as hosts_network
from devstack.rehearsal import topology
from devstack.rehearsal.network import Network

WHY_NOT = hosts_network.unavailable()
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=f"no network namespaces here: {WHY_NOT}")

PASSWORD = "correct-horse-battery"


def leftovers(prefix: str) -> list[str]:
    """Namespaces and links of this machine that carry the prefix."""
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    return [line for line in (namespaces + links).splitlines() if prefix[:8] in line]


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[topology.Rehearsal]:
    prefix = f"mqh{uuid.uuid4().hex[:5]}"
    # Streamed answers that take a while (9 tokens, 0.3 s each): a cut link finds jobs mid-generation.
    started = topology.start(tmp_path_factory.mktemp("rehearsal"), prefix=prefix, token_delay_s=0.3)
    try:
        yield started
    finally:
        started.close()
        assert leftovers(prefix) == [], "the rehearsal left namespaces or links behind"


@pytest.fixture(scope="module")
def client(rehearsal: topology.Rehearsal) -> Iterator[httpx.Client]:
    """A signed-in client on the machine's own namespace, talking to the proxy on the api host."""
    with httpx.Client(base_url=rehearsal.url, timeout=60) as anonymous:
        email = f"user-{uuid.uuid4().hex[:10]}@example.com"
        assert (
            anonymous.post("/auth/register", json={"email": email, "password": PASSWORD}).status_code == 201
        )
        token = anonymous.post("/auth/jwt/login", data={"username": email, "password": PASSWORD}).json()
    with httpx.Client(
        base_url=rehearsal.url, timeout=60, headers={"Authorization": f"Bearer {token['access_token']}"}
    ) as signed_in:
        yield signed_in


def job_row(rehearsal: topology.Rehearsal, job_id: str) -> tuple:
    with psycopg.connect(rehearsal.database_url, connect_timeout=5) as db:
        return db.execute("SELECT status, attempts, worker FROM jobs WHERE id = %s", (job_id,)).fetchone()


def started_events(rehearsal: topology.Rehearsal, job_id: str) -> int:
    with psycopg.connect(rehearsal.database_url, connect_timeout=5) as db:
        query = "SELECT count(*) FROM job_events WHERE job_id = %s AND type = 'started'"
        return db.execute(query, (job_id,)).fetchone()[0]


def test_every_service_runs_on_its_own_host(rehearsal: topology.Rehearsal) -> None:
    placed = {"data": "data", "ollama": "gpu", "api-1": "api", "api-2": "api", "proxy": "api"}
    placed |= {service: host for host, services in topology.PLACEMENT.items() for service in services}
    for name, process in rehearsal.processes.items():
        assert process.popen.poll() is None, f"{name} exited:\n{rehearsal.tail(name)}"
        assert process.host.name == placed[name]
        assert process.popen.pid in rehearsal.network.pids(process.host.name), name


def test_a_chat_job_crosses_the_hosts(rehearsal: topology.Rehearsal, client: httpx.Client) -> None:
    answer = client.post(
        "/v1/jobs", json={"kind": "chat", "input": {"prompt": "hi"}}, headers={"Prefer": "wait=60"}
    )
    assert answer.status_code == 200, answer.text
    job = answer.json()
    assert job["status"] == "succeeded"
    assert (
        job["output"]["text"] == "The quick brown fox jumps over the lazy dog."
    )  # the gpu host's model server
    status, attempts, worker = job_row(rehearsal, job["id"])
    assert (status, attempts) == ("succeeded", 1)
    assert worker.startswith("llm@")  # the gpu host's llm lane, as the compose file names it


def test_both_api_processes_serve_behind_the_proxy(
    rehearsal: topology.Rehearsal, client: httpx.Client
) -> None:
    for _ in range(20):
        assert client.get("/v1/jobs").status_code == 200
    served = [
        len(re.findall(r'"GET /v1/jobs HTTP', rehearsal.tail(name, 10_000))) for name in ("api-1", "api-2")
    ]
    assert all(count > 0 for count in served), served


def test_a_job_waits_out_a_cut_gpu_host_and_runs_once(
    rehearsal: topology.Rehearsal, client: httpx.Client
) -> None:
    """The gpu host's link drops every packet for 10 s: a job submitted meanwhile waits queued
    (nothing can take it), then runs once the link is back, on its first attempt."""
    rehearsal.network.cut("gpu")
    try:
        submitted = client.post("/v1/jobs", json={"kind": "chat", "input": {"prompt": f"cut {uuid.uuid4()}"}})
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["id"]
        time.sleep(10)
        assert job_row(rehearsal, job_id)[0] == "queued"
    finally:
        rehearsal.network.heal("gpu")
    healed = time.monotonic()
    ended = client.get(f"/v1/jobs/{job_id}", headers={"Prefer": "wait=90"}).json()
    assert ended["status"] == "succeeded", ended
    assert time.monotonic() - healed < 90
    assert job_row(rehearsal, job_id)[1] == 1
    assert started_events(rehearsal, job_id) == 1


def submit_streaming_jobs(
    rehearsal: topology.Rehearsal, client: httpx.Client, count: int = 20
) -> dict[str, str]:
    """`count` chat jobs, each with its own prompt (its marker at the model server); returns once
    the gpu host's 4 slots are all generating. Job id -> marker."""
    markers = {}
    for _ in range(count):
        marker = f"fault-{uuid.uuid4().hex[:12]}"
        answer = client.post("/v1/jobs", json={"kind": "chat", "input": {"prompt": marker}})
        assert answer.status_code == 202, answer.text
        markers[answer.json()["id"]] = marker
    with psycopg.connect(rehearsal.database_url, connect_timeout=5) as db:
        deadline = time.monotonic() + 30
        while db.execute("SELECT count(*) FROM jobs WHERE status = 'running'").fetchone()[0] < 4:
            assert time.monotonic() < deadline, "the gpu host never ran 4 jobs at once"
            time.sleep(0.1)
    return markers


def assert_each_done_once(rehearsal: topology.Rehearsal, markers: dict[str, str], *, since: float) -> None:
    """Every job ends `succeeded` within 180 s of `since`, with one ending event; a job generated
    more than once by the model server is one a second attempt ran (and there are at most 4, the
    slots that were generating when the fault came)."""
    ids = list(markers)
    with psycopg.connect(rehearsal.database_url, connect_timeout=5) as db:
        while True:
            rows = db.execute(
                "SELECT id::text, status, attempts FROM jobs WHERE id = ANY(%s::uuid[])", (ids,)
            ).fetchall()
            if all(status in ("succeeded", "failed", "canceled") for _, status, _ in rows):
                break
            assert time.monotonic() - since < 180, rows
            time.sleep(0.5)
        endings = dict(
            db.execute(
                "SELECT job_id::text, count(*) FROM job_events WHERE job_id = ANY(%s::uuid[]) "
                "AND type IN ('succeeded', 'failed', 'canceled') GROUP BY job_id",
                (ids,),
            ).fetchall()
        )
    assert {status for _, status, _ in rows} == {"succeeded"}, rows
    assert endings == {job_id: 1 for job_id in ids}
    done = rehearsal.generations()
    generated = {job_id: sum(marker in prompt for prompt in done) for job_id, marker in markers.items()}
    again = {job_id for job_id, count in generated.items() if count > 1}
    second_attempts = {job_id for job_id, _, attempts in rows if attempts > 1}
    assert all(count >= 1 for count in generated.values())
    assert again <= second_attempts and len(again) <= 4, (generated, rows)


def test_twenty_streaming_jobs_survive_the_gpu_host_cut_for_30_s(
    rehearsal: topology.Rehearsal, client: httpx.Client
) -> None:
    """The gpu host's link drops every packet for 30 s while its 4 slots stream. Nothing is lost:
    every job succeeds, once (one `succeeded` event each). The jobs that were generating when the
    link went down are the only ones generated again: their worker was silent past
    MENTORQ_STALE_AFTER_SECONDS (30 s), so the reconciler on the cpu host gave them to another
    attempt, and the cut-off attempt's writes were refused when the link came back (its claim)."""
    markers = submit_streaming_jobs(rehearsal, client)
    rehearsal.network.cut("gpu")
    try:
        time.sleep(30)
    finally:
        rehearsal.network.heal("gpu")
    assert_each_done_once(rehearsal, markers, since=time.monotonic())


def test_twenty_streaming_jobs_survive_the_gpu_host_lost_for_60_s(
    rehearsal: topology.Rehearsal, client: httpx.Client
) -> None:
    """Every process on the gpu host (the model server, the llm, embed and query workers) killed at
    once while its 4 slots stream, the host brought back 60 s later: nothing is lost, each job
    succeeds once, and a job is generated twice only when a second attempt ran it."""
    markers = submit_streaming_jobs(rehearsal, client)
    lost = rehearsal.lose_host("gpu")
    try:
        assert rehearsal.network.pids("gpu") == []
        time.sleep(60)
    finally:
        rehearsal.bring_back(lost)
    assert_each_done_once(rehearsal, markers, since=time.monotonic())


def test_a_network_that_fails_to_build_leaves_nothing() -> None:
    prefix = f"mqf{uuid.uuid4().hex[:5]}"
    with pytest.raises(RuntimeError, match="netns add"):
        Network(prefix=prefix, net=78).build(["data", "data"])  # the second namespace of one name fails
    assert leftovers(prefix) == []
    assert "10.78." not in subprocess.run(["ip", "route"], capture_output=True, text=True).stdout


def test_the_rehearsal_runs_what_the_compose_file_says(rehearsal: topology.Rehearsal) -> None:
    """The llm worker's command line is the compose file's, its URLs moved to the hosts' addresses."""
    process = rehearsal.processes["worker-llm"].popen
    entrypoint, *command = process.args[process.args.index("exec") + 2 :]  # after `ip netns exec NS`
    assert Path(entrypoint).name == "mentorq"
    assert command == ["worker", "--lane", "llm", "--hostname", "llm@%h"]
    # `mentorq worker` became celery (exec): the process still has the environment it was given.
    raw = Path(f"/proc/{process.pid}/environ").read_bytes().decode()
    environ = dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)
    data, gpu = rehearsal.network.hosts["data"].address, rehearsal.network.hosts["gpu"].address
    assert f"@{data}:5432/mentorq" in environ["DATABASE_URL"]
    assert f"@{data}:6379/0" in environ["REDIS_URL"]
    assert environ["OLLAMA_HOST"] == f"http://{gpu}:11434"
    assert environ["MENTORQ_ENV"] == "production"
