"""The production reverse proxy (deploy/nginx), run for real with Debian's nginx in front of the test API.

The configuration is the one docker-compose mounts, with only what a loopback test must change:
the upstream (the test API's port instead of `api:8000`), the listening port, the file paths,
and shorter timeouts and connection caps so the slow-client cases finish in seconds.
"""

from __future__ import annotations

import collections
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack.rehearsal.proxy import NGINX, production_config
from tests.api.test_errors import assert_problem
from tests.conftest import ApiClient
from tests.support.stack import METRICS_TOKEN, Stack, free_port, stop_process, wait_until


def proxy_config(root: Path, *, upstream: str, port: int) -> Path:
    """deploy/nginx under `root`, pointed at `upstream`, listening on `port`, with limits a test can
    reach in seconds; returns nginx.conf."""
    return production_config(
        root,
        upstreams=[upstream],
        listen=f"127.0.0.1:{port}",
        changes=[
            ("mentorq.conf", "client_header_timeout 10s;", "client_header_timeout 2s;"),
            ("locations.conf", "limit_conn mentorq_per_address 64;", "limit_conn mentorq_per_address 2;"),
        ],
    )


def start_nginx(root: Path, *, upstream: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    conf = proxy_config(root, upstream=upstream, port=port)
    check = subprocess.run([NGINX, "-t", "-c", str(conf), "-p", str(root)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen(
        [NGINX, "-c", str(conf), "-p", str(root)], start_new_session=True, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: httpx.get(f"{url}/healthz", timeout=1).status_code in (200, 502),
            timeout=20,
            message="nginx",
        )
    except BaseException:
        stop_process(process)
        raise
    return process, url


@pytest.fixture(scope="module")
def proxy(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process, url = start_nginx(
        tmp_path_factory.mktemp("nginx"), upstream=stack.api_url.removeprefix("http://")
    )
    try:
        yield url
    finally:
        stop_process(process)


def test_the_configuration_docker_compose_mounts_is_valid_for_nginx(tmp_path: Path) -> None:
    conf = proxy_config(tmp_path, upstream="127.0.0.1:9", port=free_port())
    result = subprocess.run(
        [NGINX, "-t", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_requests_jobs_waits_and_event_streams_pass_through(proxy: str, client: ApiClient) -> None:
    assert httpx.get(f"{proxy}/healthz").status_code == 200
    headers = {**client.headers, "Prefer": "wait=30"}
    job = httpx.post(
        f"{proxy}/v1/jobs", json={"kind": "debug.sleep", "input": {"seconds": 1}}, headers=headers
    )
    assert job.status_code == 200 and job.json()["status"] == "succeeded", job.text
    with httpx.stream("GET", f"{proxy}/v1/jobs/{job.json()['id']}/events", headers=client.headers) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert "event: done" in "".join(stream.iter_text())
    # The API's own errors pass through untouched.
    assert_problem(httpx.get(f"{proxy}/v1/jobs/nope", headers=client.headers), 404, "job_not_found")


def test_metrics_are_never_served_through_the_proxy(proxy: str, stack: Stack) -> None:
    """The API serves /metrics to the token on its own port; through nginx the path is a 404
    problem, token or not (Prometheus scrapes the API on the private network)."""
    bearer = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    assert httpx.get(f"{stack.api_url}/metrics", headers=bearer).status_code == 200
    for path in ("/metrics", "/metrics?x=1"):
        assert_problem(httpx.get(f"{proxy}{path}", headers=bearer), 404, "not_found")


def test_a_body_over_the_upload_limit_is_refused_by_the_proxy_as_problem_json(proxy: str) -> None:
    with socket.create_connection(("127.0.0.1", int(proxy.rsplit(":", 1)[1])), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/documents HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: 60000000\r\n\r\n"
        )
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"application/problem+json" in answer and b'"code": "payload_too_large"' in answer


def test_a_client_too_slow_with_its_headers_is_cut_off(proxy: str) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", int(proxy.rsplit(":", 1)[1])), timeout=15) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        answer = _read_all(sock)
    assert time.monotonic() - started < 8  # the (shortened) 2 s header timeout, not a held connection
    assert b"200 OK" not in answer


def test_connections_past_the_per_address_cap_get_429(
    proxy: str, client: ApiClient, stack: Stack, nothing_runs_jobs: None
) -> None:
    """Two requests wait on jobs that stay queued (no worker runs them) until canceled, holding the
    address's two connections (the cap here); a third is refused while they are held. The jobs
    once ran, and debug.sleep's 6 s time limit ended them: a loaded CI machine then saw both
    holders answered and no third request refused. No fixed pause: under a loaded CI the
    waiting requests took longer than 0.5 s to connect, and the third got through; and a third
    request that reached nginx before a holder's took its place, so the holder got the 429. A
    holder refused so is sent again, and only a 429 seen while both holders wait counts."""
    headers = {**client.headers, "Prefer": "wait=60"}
    long_job = {"kind": "debug.sleep", "input": {"seconds": 0}}
    jobs = [
        httpx.post(f"{proxy}/v1/jobs", json=long_job, headers=client.headers).json()["id"] for _ in range(2)
    ]
    ended: dict[str, list[int]] = {job: [] for job in jobs}  # each holder's answers, in order
    held_for: dict[str, list[str]] = {job: [] for job in jobs}
    began = time.monotonic()

    def hold(job: str) -> threading.Thread:
        def wait_on_job() -> None:
            answer = httpx.get(f"{proxy}/v1/jobs/{job}", headers=headers, timeout=90)
            ended[job].append(answer.status_code)
            # For a failure's message: when it ended, and the job's status then (a holder that
            # ends early found its job ended, or its wait cut short).
            try:
                status = answer.json().get("status")
            except ValueError:
                status = answer.text[:40]
            held_for[job].append(f"{time.monotonic() - began:.1f} s, {status}")

        thread = threading.Thread(target=wait_on_job)
        thread.start()
        return thread

    holders = {job: hold(job) for job in jobs}
    refused: list[httpx.Response] = []
    tries: list[str] = []  # what each third request got, for a failure's message

    def third_refused() -> bool:
        for job, thread in holders.items():
            if not thread.is_alive() and ended[job][-1:] == [429]:
                holders[job] = hold(job)  # this holder lost the race to an earlier third request
        try:
            answer = httpx.get(f"{proxy}/healthz")
        except httpx.HTTPError as error:
            tries.append(type(error).__name__)
            return False
        tries.append(str(answer.status_code))
        if answer.status_code != 429:
            return False
        if not all(thread.is_alive() for thread in holders.values()):
            return False  # refused while a holder's own request was still to come: not yet the case
        refused.append(answer)
        return True

    try:
        try:
            wait_until(third_refused, timeout=60, message="a third connection refused while two wait")
        except TimeoutError as error:
            alive = [thread.is_alive() for thread in holders.values()]
            seen = collections.Counter(tries)
            raise AssertionError(
                f"{error}: holders alive {alive}, ended {list(ended.values())} after"
                f" {list(held_for.values())}; third requests {seen}"
            ) from None
    finally:
        for job in jobs:  # the waits end at once with the jobs (sent past nginx: its cap is full)
            httpx.post(f"{stack.api_url}/v1/jobs/{job}/cancel", headers=client.headers)
        for thread in holders.values():
            thread.join(timeout=90)
    assert refused[-1].headers["content-type"].startswith("application/problem+json")
    assert refused[-1].json()["code"] == "too_many_connections"
    assert [answers[-1] for answers in ended.values()] == [200, 200]  # the holders were answered


def test_an_api_that_is_down_is_a_502_problem(tmp_path: Path) -> None:
    process, url = start_nginx(tmp_path, upstream=f"127.0.0.1:{free_port()}")
    try:
        answer = httpx.get(f"{url}/v1/kinds")
    finally:
        stop_process(process)
    assert answer.status_code == 502
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "api_unavailable"


def _read_all(sock: socket.socket) -> bytes:
    received = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            return received
        if not chunk:
            return received
        received += chunk
