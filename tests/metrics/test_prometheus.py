"""A real Prometheus (Debian's) scrapes a live stack with deploy/prometheus/prometheus.yml's scrape
settings, and PromQL over what it scraped shows the figures a short run of known jobs must give:
jobs created and ended by kind, status and code, queue waits and run times, the LLM's requests,
tokens and first tokens, texts embedded, a webhook delivered, rate-limit refusals, the lanes'
backlog. The API runs two uvicorn workers and the worker a prefork pool, both started as
production starts them (`mentorq api --workers 2`, `mentorq worker`): a figure that matches the
jobs exactly was added up across every process. Every panel of the Grafana dashboard is a query
this Prometheus answers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import own_stack, register
from tests.support.fake_ollama import FakeOllama
from tests.support.metrics import scraped as metrics_of
from tests.support.receiver import Receiver
from tests.support.stack import METRICS_TOKEN, Stack, free_port, stop_process, wait_until
from workers.signals import TASK_LINE_LOGGERS

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS = shutil.which("prometheus")
MENTORQ = str(Path(sys.executable).parent / "mentorq")
ANONYMOUS_PER_MINUTE = 12
CHATS = 3
EMBEDDED = ["spaced repetition", "retrieval practice", "interleaving"]

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None, reason="Debian's prometheus is not installed (make test installs it)"
)


def start_api(platform: Stack) -> str:
    port = free_port()
    platform._spawn("api", [MENTORQ, "api", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"])
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: httpx.get(f"{url}/healthz", timeout=1).status_code == 200, timeout=60, message="api")
    return url


def start_worker(platform: Stack, name: str, *args: str) -> int:
    port = free_port()
    hostname = f"{name}@test"
    env = {"MENTORQ_METRICS_PORT": str(port)}
    platform._spawn(name, [MENTORQ, "worker", *args, "--hostname", hostname, "--without-gossip"], env)
    wait_until(lambda: platform.worker_is_live(hostname), timeout=90, message=name)
    return port


@pytest.fixture(scope="module")
def metered(fake_ollama: FakeOllama) -> Iterator[dict]:
    with own_stack(fake_ollama, "mentorq-metrics-") as platform:
        platform.env["MENTORQ_RATE_LIMIT_ANONYMOUS"] = f"{ANONYMOUS_PER_MINUTE}/minute"
        platform.env["MENTORQ_LOG_FORMAT"] = "json"  # as production writes its logs
        api = start_api(platform)
        queues = "llm,embed,query,cpu,maintenance,transcribe"
        worker = start_worker(platform, "worker", "-Q", queues, "--concurrency", "2", "--pool", "prefork")
        io = start_worker(platform, "worker-io", "-Q", "io", "--pool", "threads", "--concurrency", "4")
        platform._spawn("beat", [MENTORQ, "beat"])
        yield {"stack": platform, "api": api, "targets": {"api": api, "worker": worker, "io": io}}


@pytest.fixture(scope="module")
def prometheus(metered: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Prometheus with the deploy configuration's scrape settings, its targets this stack's ports."""
    folder = tmp_path_factory.mktemp("prometheus")
    token_file = folder / "metrics_token"
    token_file.write_text(METRICS_TOKEN)
    config = yaml.safe_load((REPO / "deploy/prometheus/prometheus.yml").read_text())
    config["global"]["scrape_interval"] = "1s"
    ports = metered["targets"]
    targets = {
        "mentorq-api": [ports["api"].removeprefix("http://")],
        "mentorq-workers": [f"127.0.0.1:{ports['worker']}", f"127.0.0.1:{ports['io']}"],
    }
    for job in config["scrape_configs"]:
        assert job["authorization"]["credentials_file"] == "/run/secrets/metrics_token"
        job["authorization"]["credentials_file"] = str(token_file)
        job.pop("dns_sd_configs")
        job["static_configs"] = [{"targets": targets[job["job_name"]]}]
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = open(folder / "prometheus.log", "wb")
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _ready(url), timeout=60, message="prometheus")
        yield url
    finally:
        stop_process(process)
        log.close()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def query(prometheus: str, promql: str) -> list[dict]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=10).json()
    assert answer["status"] == "success", (promql, answer)
    return answer["data"]["result"]


def scalar(prometheus: str, promql: str) -> float:
    result = query(prometheus, promql)
    return float(result[0]["value"][1]) if result else 0.0


def settled(prometheus: str, promql: str, expected: float, *, timeout: float = 30) -> float:
    """The query's value once a scrape has it (scrapes come every second), else the last seen."""
    deadline = time.monotonic() + timeout
    seen = scalar(prometheus, promql)
    while seen != expected and time.monotonic() < deadline:
        time.sleep(0.5)
        seen = scalar(prometheus, promql)
    return seen


def wait_ended(client: httpx.Client, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "canceled"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not end: {job}")


@pytest.fixture(scope="module")
def known_run(metered: dict) -> dict:
    """The known jobs, run to their ends: 3 chats (one with a webhook), a chat for a model the server
    lacks, a sleep canceled while it runs, an embedding of 3 texts; and anonymous requests past the
    rate limit."""
    api = metered["api"]
    receiver = Receiver()
    anonymous = httpx.Client(base_url=api, timeout=30)
    with register(api) as client:
        submitted = []
        for index in range(CHATS):
            body: dict = {"kind": "chat", "input": {"prompt": f"metrics {index}"}}
            if index == 0:
                body["webhook"] = receiver.url
            submitted.append(client.post("/v1/jobs", json=body))
        missing = client.post(
            "/v1/jobs", json={"kind": "chat", "input": {"prompt": "x", "model": "absent:1b"}}
        )
        embed = client.post("/v1/jobs", json={"kind": "embed", "input": {"texts": EMBEDDED}})
        sleep = client.post("/v1/jobs", json={"kind": "debug.sleep", "input": {"seconds": 60, "steps": 60}})
        assert all(r.status_code == 202 for r in [*submitted, missing, embed, sleep])
        sleep_id = sleep.json()["id"]
        wait_until(
            lambda: client.get(f"/v1/jobs/{sleep_id}").json()["status"] == "running",
            timeout=60,
            message="sleep",
        )
        # The API's own endpoint while the sleep runs: the lane's backlog, read from PostgreSQL.
        scraped = metrics_of(api)
        assert client.post(f"/v1/jobs/{sleep_id}/cancel").status_code == 200
        ended = [wait_ended(client, r.json()["id"]) for r in [*submitted, missing, embed, sleep]]
        wait_until(lambda: len(receiver.received) >= 1, timeout=30, message="the webhook")
        user_id = client.user_id
    # Anonymous requests (registering and signing in above were two) until the limit refuses some.
    answers = [anonymous.get("/v1/kinds").status_code for _ in range(ANONYMOUS_PER_MINUTE + 3)]
    anonymous.close()
    time.sleep(1)  # the webhook's attempt is recorded just after the receiver answered
    receiver.close()
    return {
        "user_id": user_id,
        "ended": ended,
        "scraped": scraped,
        "refused": answers.count(429),
        "webhooks": len(receiver.received),
    }


def test_every_target_is_scraped_with_the_token(prometheus: str, known_run: dict) -> None:
    wait_until(lambda: len(query(prometheus, "up == 1")) == 3, timeout=30, message="3 targets up")
    assert {r["metric"]["job"] for r in query(prometheus, "up == 1")} == {"mentorq-api", "mentorq-workers"}


def test_jobs_are_counted_by_kind_status_and_code_across_every_process(
    prometheus: str, known_run: dict
) -> None:
    statuses = [job["status"] for job in known_run["ended"]]
    assert statuses == ["succeeded"] * CHATS + ["failed", "succeeded", "canceled"], known_run["ended"]
    assert known_run["ended"][CHATS]["error"]["code"] == "model_not_found"
    ended = 'sum(mentorq_jobs_ended_total{{kind="{}", status="{}", code="{}"}})'
    assert settled(prometheus, ended.format("chat", "succeeded", "none"), CHATS) == CHATS
    assert settled(prometheus, ended.format("chat", "failed", "model_not_found"), 1) == 1
    assert settled(prometheus, ended.format("embed", "succeeded", "none"), 1) == 1
    assert settled(prometheus, ended.format("debug.sleep", "canceled", "none"), 1) == 1
    created = 'sum(mentorq_jobs_created_total{{kind="{}"}})'
    assert settled(prometheus, created.format("chat"), CHATS + 1) == CHATS + 1
    assert settled(prometheus, created.format("debug.sleep"), 1) == 1
    # Every chat started once (first stage, first attempt): one queue wait each; the succeeded ran.
    assert (
        settled(prometheus, 'sum(mentorq_job_queue_wait_seconds_count{kind="chat"})', CHATS + 1) == CHATS + 1
    )
    run = 'sum(mentorq_job_run_seconds_count{kind="chat", status="succeeded"})'
    assert settled(prometheus, run, CHATS) == CHATS
    # The sleep was canceled after it had run a while: its run time is at least that.
    assert scalar(prometheus, 'sum(mentorq_job_run_seconds_sum{kind="debug.sleep", status="canceled"})') > 0


def test_the_llm_lane_is_measured_as_the_provider_answered(prometheus: str, known_run: dict) -> None:
    chats = known_run["ended"][:CHATS]
    tokens_out = sum(job["output"]["usage"]["completion_tokens"] for job in chats)
    tokens_in = sum(job["output"]["usage"]["prompt_tokens"] for job in chats)
    requests = 'sum(mentorq_llm_requests_total{{provider="ollama", outcome="{}"}})'
    assert settled(prometheus, requests.format("ok"), CHATS) == CHATS
    assert settled(prometheus, requests.format("model_not_found"), 1) == 1
    assert (
        settled(prometheus, 'sum(mentorq_llm_output_tokens_total{provider="ollama"})', tokens_out)
        == tokens_out
    )
    assert (
        settled(prometheus, 'sum(mentorq_llm_input_tokens_total{provider="ollama"})', tokens_in) == tokens_in
    )
    first = 'sum(mentorq_llm_time_to_first_token_seconds_count{provider="ollama"})'
    assert settled(prometheus, first, CHATS) == CHATS  # streamed answers; the failed one had no token
    assert scalar(prometheus, "sum(mentorq_llm_requests_in_flight)") == 0


def test_embeddings_webhooks_and_refusals_are_counted(prometheus: str, known_run: dict) -> None:
    # At least the job's texts (a worker process warms its model with one text at start).
    assert settled(prometheus, "sum(mentorq_embedded_texts_total) >= 3", 1, timeout=30) >= len(EMBEDDED)
    assert known_run["webhooks"] == 1
    delivered = 'sum(mentorq_webhook_delivery_attempts_total{outcome="success", status="succeeded"})'
    assert settled(prometheus, delivered, 1) == 1
    refused = known_run["refused"]
    assert refused >= 3  # the allowance was spent: these were refused 429
    assert settled(prometheus, 'sum(mentorq_refused_requests_total{code="rate_limited"})', refused) == refused


def test_the_api_reports_each_lanes_backlog_from_the_database(prometheus: str, known_run: dict) -> None:
    samples = known_run["scraped"]
    # While the sleep ran: one running job in its lane (the other jobs of the run may still be queued).
    assert samples[("mentorq_lane_jobs", (("lane", "cpu"), ("status", "running")))] >= 1
    assert ("mentorq_lane_oldest_queued_job_age_seconds", (("lane", "llm"),)) in samples
    # Now nothing waits.
    assert settled(prometheus, 'max(mentorq_lane_jobs{status="queued"})', 0) == 0
    assert settled(prometheus, "max(mentorq_lane_oldest_queued_job_age_seconds)", 0) == 0


def test_metrics_need_the_token_on_the_api_and_on_a_worker_host(metered: dict) -> None:
    worker = f"http://127.0.0.1:{metered['targets']['worker']}"
    for base in (metered["api"], worker):
        assert httpx.get(f"{base}/metrics").status_code == 401
        wrong = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}x"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        right = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert right.status_code == 200 and "mentorq_" in right.text
    assert (
        httpx.get(f"{worker}/other", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status_code == 404
    )


def test_every_process_writes_json_lines_naming_the_job_and_its_user(metered: dict, known_run: dict) -> None:
    """The same stack writes its logs as production does (MENTORQ_LOG_FORMAT=json): every line of
    every process is one JSON object, and a job's lines name it, its kind and its owner."""
    root = metered["stack"].root
    canceled = known_run["ended"][-1]
    # The API ends a canceled job at once; the worker says so when its watcher next sees it (a
    # heartbeat later, longer on a loaded machine), and the sleep would have ended itself in 60 s.
    wait_until(
        lambda: f'"job_id": "{canceled["id"]}"' in (root / "worker.log").read_text(),
        timeout=120,
        message="the worker's line on the canceled job",
    )
    records: dict[str, list[dict]] = {}
    for name in ("api", "worker", "worker-io", "beat"):
        lines = [line for line in (root / f"{name}.log").read_text().splitlines() if line.strip()]
        assert lines, name
        for line in lines:
            assert line.startswith("{"), f"{name}: not a JSON line: {line!r}"
        records[name] = [json.loads(line) for line in lines]
    stopped = [r for r in records["worker"] if r.get("job_id") == canceled["id"]]
    assert stopped, "no line of the worker names the canceled job"
    assert {(r["kind"], r["user_id"]) for r in stopped} == {("debug.sleep", known_run["user_id"])}
    # Celery's own line for each task it received and finished is off by default
    # (MENTORQ_LOG_EACH_TASK): the worker ran the chats and wrote none of them.
    per_task = [r for r in records["worker"] if r["logger"] in TASK_LINE_LOGGERS and r["level"] == "INFO"]
    assert not per_task, per_task[:2]
    # uvicorn's access lines are JSON too, and a signed-in request's names its user.
    access = [r for r in records["api"] if r["logger"] == "uvicorn.access"]
    assert any(r.get("user_id") == known_run["user_id"] for r in access), access[:3]


def test_every_dashboard_panel_is_a_query_prometheus_answers(prometheus: str, known_run: dict) -> None:
    dashboard = json.loads((REPO / "deploy/grafana/dashboards/mentorq.json").read_text())
    expressions = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(expressions) >= 20
    answered = {expr: query(prometheus, expr) for expr in expressions}
    # The panels this run has figures for show them.
    for expr, result in answered.items():
        if any(name in expr for name in ("jobs_ended", "llm_requests_total", "lane_jobs", "webhook")):
            assert result, f"no data for {expr}"
