"""docker-compose.yml's topology run on separate network hosts (devstack/rehearsal): Linux network
namespaces joined through a router, every service started from the compose file's own command
and environment. A job goes client -> nginx (api) -> API -> Redis (data) -> worker (gpu) ->
the model server (gpu) -> PostgreSQL (data) and back; a cut host's work waits and is done once."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from devstack.rehearsal import topology
from devstack.rehearsal.network import ROOT, Network
from tests.hosts.jobs import (
    NEEDS_NAMESPACES,
    assert_each_done_once,
    job_row,
    leftovers,
    started_events,
    submit_streaming_jobs,
)

pytestmark = NEEDS_NAMESPACES


def test_every_service_runs_on_its_own_host(rehearsal: topology.Rehearsal) -> None:
    placed = {"postgres": "data", "redis": "data", "ollama": "gpu", "api-1": "api", "api-2": "api"}
    placed |= {"proxy": "api"}
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
    assert worker == "llm@gpu", worker  # the gpu host's llm lane, as the compose file names it


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
    with rehearsal.network.cut_off("gpu"):
        submitted = client.post("/v1/jobs", json={"kind": "chat", "input": {"prompt": f"cut {uuid.uuid4()}"}})
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["id"]
        time.sleep(10)
        assert job_row(rehearsal, job_id)[0] == "queued"
    healed = time.monotonic()
    ended = client.get(f"/v1/jobs/{job_id}", headers={"Prefer": "wait=90"}).json()
    assert ended["status"] == "succeeded", ended
    assert time.monotonic() - healed < 90
    assert job_row(rehearsal, job_id)[1] == 1
    assert started_events(rehearsal, job_id) == 1


def test_twenty_streaming_jobs_survive_the_gpu_host_cut_for_30_s(
    rehearsal: topology.Rehearsal, client: httpx.Client
) -> None:
    """The gpu host's link drops every packet for 30 s while its 4 slots stream. Nothing is lost:
    every job succeeds, once (one `succeeded` event each). The jobs that were generating when the
    link went down are the only ones generated again: their worker was silent past
    MENTORQ_STALE_AFTER_SECONDS (30 s), so the reconciler on the cpu host gave them to another
    attempt, and the cut-off attempt's writes were refused when the link came back (its claim)."""
    markers = submit_streaming_jobs(rehearsal, client)
    with rehearsal.network.cut_off("gpu"):
        time.sleep(30)
    assert_each_done_once(rehearsal, markers, since=time.monotonic())


def test_a_cut_shorter_than_the_stale_limit_generates_nothing_twice(
    rehearsal: topology.Rehearsal, client: httpx.Client
) -> None:
    """The operator's trade, both sides proven: the same 30 s cut, with MENTORQ_STALE_AFTER_SECONDS
    at 60 on the reconciler's host (worker-cpu runs the maintenance queue), costs no generation.
    The cut-off worker's connections resume when the link heals, and every job ends on its first
    attempt, generated once at the model server."""
    rehearsal.stop("worker-cpu")
    rehearsal.run_service("worker-cpu", "cpu", extra_env={"MENTORQ_STALE_AFTER_SECONDS": "60"})
    try:
        rehearsal.wait_for_workers(["worker-cpu"])
        markers = submit_streaming_jobs(rehearsal, client)
        with rehearsal.network.cut_off("gpu"):
            time.sleep(30)
        rows = assert_each_done_once(rehearsal, markers, since=time.monotonic(), again_at_most=0)
        assert {attempts for _, _, attempts, _ in rows} == {1}, rows
    finally:
        rehearsal.stop("worker-cpu")
        rehearsal.run_service("worker-cpu", "cpu")
        rehearsal.wait_for_workers(["worker-cpu"])


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


def test_what_a_killed_run_left_on_its_net_is_removed_by_the_next_network() -> None:
    """A run killed with its network built (SIGKILL: nothing of its own cleans up) left its
    namespaces, link and route, and every later network on that net failed at its route ("File
    exists") until someone removed them by hand. The next one on the net removes them first."""
    killed, after = f"mqk{uuid.uuid4().hex[:5]}", f"mqn{uuid.uuid4().hex[:5]}"
    code = (
        "import sys, time\n"
        "from devstack.rehearsal.network import Network\n"
        f"Network(prefix={killed!r}, net=80).build(['a'])\n"
        "print('built', flush=True)\n"
        "time.sleep(600)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "built"
    finally:
        process.kill()
        process.wait(10)
    assert leftovers(killed), "the killed run's network should still be there"
    network = Network(prefix=after, net=80).build(["a"])
    try:
        assert leftovers(killed) == []
        # Reached: the host's kernel refuses a port nothing listens on (a dead route would time out).
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((network.hosts["a"].address, 9), timeout=10).close()
    finally:
        network.remove()
    assert leftovers(after) == []
    assert "10.80." not in subprocess.run(["ip", "route"], capture_output=True, text=True).stdout


def test_the_rehearsal_runs_what_the_compose_file_says(rehearsal: topology.Rehearsal) -> None:
    """The llm worker's command line is the compose file's, its URLs moved to the hosts' addresses."""
    process = rehearsal.processes["worker-llm"].popen
    # `ip netns exec NS unshare --uts sh -c 'hostname "$0" && exec "$@"' gpu` runs the rest.
    at = next(i for i, part in enumerate(process.args) if Path(part).name == "mentorq")
    assert process.args[at - 1] == "gpu"
    entrypoint, *command = process.args[at:]
    assert command == ["worker", "--lane", "llm", "--hostname", "llm@%h"]
    # `mentorq worker` became celery (exec): the process still has the environment it was given.
    raw = Path(f"/proc/{process.pid}/environ").read_bytes().decode()
    environ = dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)
    data, gpu = rehearsal.network.hosts["data"].address, rehearsal.network.hosts["gpu"].address
    assert f"@{data}:5432/mentorq" in environ["DATABASE_URL"]
    assert f"@{data}:6379/0" in environ["REDIS_URL"]
    assert environ["OLLAMA_HOST"] == f"http://{gpu}:11434"
    assert environ["MENTORQ_ENV"] == "production"
