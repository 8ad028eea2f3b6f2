"""A live stack whose LLM providers' addresses carry credentials: Ollama behind a proxy that wants
`user:password@` and `?token=`, an OpenAI-compatible server that wants basic auth and `?api-key=`,
Anthropic behind a gateway that wants both and its key. Jobs go to each (they are answered: the
credentials reach the servers as auth and query, on the right paths), then fail in every way that
names an address (a server that quotes the URL it was asked in its error, a fallback, a server
down). No secret may then appear in any answer of the API (GET /v1/models, the jobs, their event
streams, the routing admin), any console page, or any log file the stack wrote."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tasks.debug_sleep.spec import SPEC as SLEEP
from tests.conftest import ApiClient, make_admin, register
from tests.console.support import console_sign_in
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.fake_ollama import DEFAULT_REPLY, FakeOllama
from tests.support.fake_openai import FakeOpenAI
from tests.support.held_jobs import held_job
from tests.support.stack import Stack, free_port, wait_until

SECRETS = {
    "the Ollama proxy's password": "olla-pw-5b1d9e3c",
    "the Ollama proxy's token": "olla-token-77c3a2f0",
    "the OpenAI-compatible server's password": "oa-pw-3f9e21d8",
    "the OpenAI-compatible server's query key": "oa-qkey-8d2c44b1",
    "the Anthropic gateway's password": "an-pw-c4e871aa",
    "the Anthropic gateway's query key": "an-qkey-19ab5e02",
    "the Anthropic key": "an-key-6e02f7d1c9",
}
OPENAI_MODEL = "qwen2.5-7b-instruct"
ROUTES = "/v1/admin/llm-routes"
FINISHED = {"succeeded", "failed", "canceled"}


class Fakes:
    """The three guarded servers (each on a fixed port, so one can go down and come back)."""

    def __init__(self) -> None:
        self.ollama = FakeOllama(port=free_port())
        self.ollama.basic_auth = ("olla-user", SECRETS["the Ollama proxy's password"])
        self.ollama.query_credentials = {"token": SECRETS["the Ollama proxy's token"]}
        self.openai = FakeOpenAI(api_key=None, port=free_port())
        self.openai.basic_auth = ("oa-user", SECRETS["the OpenAI-compatible server's password"])
        self.openai.query_credentials = {"api-key": SECRETS["the OpenAI-compatible server's query key"]}
        self.anthropic = FakeAnthropic(api_key=SECRETS["the Anthropic key"], port=free_port())
        self.anthropic.basic_auth = ("an-user", SECRETS["the Anthropic gateway's password"])
        self.anthropic.query_credentials = {"api-key": SECRETS["the Anthropic gateway's query key"]}

    def env(self) -> dict[str, str]:
        def address(fake, user: str, password: str) -> str:
            return f"http://{user}:{password}@{fake.url.removeprefix('http://')}"

        ollama = address(self.ollama, "olla-user", SECRETS["the Ollama proxy's password"])
        openai = address(self.openai, "oa-user", SECRETS["the OpenAI-compatible server's password"])
        anthropic = address(self.anthropic, "an-user", SECRETS["the Anthropic gateway's password"])
        token = SECRETS["the Ollama proxy's token"]
        openai_key = SECRETS["the OpenAI-compatible server's query key"]
        anthropic_key = SECRETS["the Anthropic gateway's query key"]
        return {
            "OLLAMA_HOST": f"{ollama}/?token={token}",
            "MENTORQ_OPENAI_BASE_URL": f"{openai}/v1?api-key={openai_key}",
            "MENTORQ_OPENAI_API_KEY": "",
            "MENTORQ_OPENAI_MODEL": OPENAI_MODEL,
            "MENTORQ_ANTHROPIC_BASE_URL": f"{anthropic}?api-key={anthropic_key}",
            "MENTORQ_ANTHROPIC_API_KEY": SECRETS["the Anthropic key"],
            "MENTORQ_LLM_ROUTE_CACHE_SECONDS": "0",
            # An outage fails the job after its retries (seconds), not after half an hour.
            "MENTORQ_LLM_UNAVAILABLE_GIVE_UP_SECONDS": "1",
        }


@pytest.fixture(scope="module")
def fakes() -> Iterator[Fakes]:
    servers = Fakes()
    for fake in (servers.ollama, servers.openai, servers.anthropic):
        fake.start()
    yield servers
    for fake in (servers.ollama, servers.openai, servers.anthropic):
        fake.stop()


@pytest.fixture(scope="module")
def guarded_api(stack: Stack, fakes: Fakes) -> Iterator[str]:
    """An API and workers with the guarded providers' settings (the session's all-queue worker,
    which knows only the session's Ollama, is swapped out meanwhile): the API's URL."""
    env = fakes.env()
    stack.stop("worker")
    try:
        stack.start_worker("guarded-llm", queues="llm", concurrency=2, pool="threads", extra_env=env)
        stack.start_worker("guarded-rest", queues="embed,query,cpu,maintenance", concurrency=1, extra_env=env)
        with stack.extra_api(**env) as url:
            yield url
    finally:
        stack.stop("guarded-llm")
        stack.stop("guarded-rest")
        stack.start_worker()
        stack.sql("DELETE FROM llm_routes")


class Seen:
    """Every answer and page fetched, each checked for the secrets as it comes."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []

    def check(self, where: str, text: str) -> str:
        self.texts.append((where, text))
        found = [name for name, secret in SECRETS.items() if secret in text]
        assert not found, f"{where} shows {', '.join(found)}:\n{text[:3000]}"
        return text


def run(client: ApiClient, prompt: str, *, timeout: float = 60) -> str:
    response = client.post("/v1/jobs", json={"kind": "chat", "input": {"prompt": prompt}})
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    wait_until(
        lambda: client.get(f"/v1/jobs/{job_id}").json()["status"] in FINISHED,
        timeout=timeout,
        interval=0.2,
        message=f"chat job {job_id} to end",
    )
    return job_id


def route(admin: ApiClient, **body: object) -> None:
    response = admin.put(f"{ROUTES}/chat", json=body)
    assert response.status_code == 200, response.text


def event_stream(client: ApiClient, job_id: str) -> str:
    text = ""
    with client.stream("GET", f"/v1/jobs/{job_id}/events", timeout=30) as response:
        assert response.status_code == 200
        for chunk in response.iter_text():
            text += chunk
            if "event: done" in text:
                break
    return text


def test_no_credential_reaches_an_answer_a_page_or_a_log(
    stack: Stack, fakes: Fakes, guarded_api: str
) -> None:
    seen = Seen()
    with register(guarded_api) as user, register(guarded_api) as account:
        admin = make_admin(stack, account)
        console = console_sign_in(stack, admin, base_url=guarded_api).client

        # What every signed-in user sees of the providers, and what the routing admin sees.
        models = seen.check("GET /v1/models", user.get("/v1/models").text)
        assert "ollama" not in httpx.Response(200, content=models).json()["errors"], models
        statuses = httpx.Response(200, content=seen.check(ROUTES, admin.get(ROUTES).text)).json()
        available = {p["name"]: p["available"] for p in statuses["providers"]}
        assert available["ollama"] and available["openai_compatible"] and available["anthropic"], statuses

        # Each provider answers: the credentials went as basic auth and query, on the right paths.
        jobs = {"ollama answers": run(user, "hello ollama")}
        route(admin, provider="openai_compatible")
        jobs["openai answers"] = run(user, "hello openai")
        route(admin, provider="anthropic")
        jobs["anthropic answers"] = run(user, "hello anthropic")
        for name in jobs:
            job = user.get(f"/v1/jobs/{jobs[name]}").json()
            assert job["status"] == "succeeded" and job["output"]["text"] == DEFAULT_REPLY, (name, job)
        assert any(t.startswith("/v1/chat/completions?api-key=") for t in fakes.openai.targets)
        assert any(t.startswith("/v1/messages?api-key=") for t in fakes.anthropic.targets)

        # Failures that name an address: servers quoting the URL they were asked, a fallback, an outage.
        fakes.openai.fail_with = (500, "server_error", "upstream failed for {url}")
        fakes.anthropic.fail_with = (400, "invalid_request_error", "bad request to {url}")
        route(admin, provider="openai_compatible")
        jobs["openai fails"] = run(user, "openai fails")
        route(admin, provider="anthropic")
        jobs["anthropic refuses"] = run(user, "anthropic refuses")
        fakes.anthropic.fail_with = None
        route(admin, provider="openai_compatible", fallbacks=[{"provider": "anthropic"}])
        jobs["falls back"] = run(user, "falls back")
        assert admin.delete(f"{ROUTES}/chat").status_code in (200, 204)
        fakes.ollama.stop()
        try:
            jobs["ollama down"] = run(user, "ollama down")
            seen.check("GET /v1/models, Ollama down", user.get("/v1/models").text)
            seen.check(f"{ROUTES}, Ollama down", admin.get(ROUTES).text)
            seen.check("/admin/llm, Ollama down", console.get("/admin/llm").text)
        finally:
            fakes.ollama.restart()
        fakes.openai.fail_with = None

        failed = {name: user.get(f"/v1/jobs/{job_id}").json() for name, job_id in jobs.items()}
        assert failed["openai fails"]["status"] == "failed", failed["openai fails"]
        assert f"{fakes.openai.url}/v1/chat/completions" in failed["openai fails"]["error"]["message"]
        assert failed["anthropic refuses"]["error"]["code"] == "llm_error"
        assert f"Anthropic at {fakes.anthropic.url}" in failed["anthropic refuses"]["error"]["message"]
        assert failed["falls back"]["status"] == "succeeded"
        down = failed["ollama down"]["error"]["message"]
        assert down.startswith(f"Ollama at {fakes.ollama.url}/ is unreachable"), down

        # The jobs, their event streams and their console pages, every one.
        for name, job_id in jobs.items():
            seen.check(f"the job ({name})", user.get(f"/v1/jobs/{job_id}").text)
            stream = seen.check(f"the job's events ({name})", event_stream(user, job_id))
            assert "event: done" in stream
            seen.check(f"/admin/jobs/{job_id} ({name})", console.get(f"/admin/jobs/{job_id}").text)
        assert "upstream failed for" in event_stream(user, jobs["falls back"])  # the fallback's reason
        seen.check("/admin/llm", console.get("/admin/llm").text)
        seen.check("/admin", console.get("/admin").text)

    # Every log file the stack wrote (the API, the workers, beat, PostgreSQL), after a last flush.
    logs = sorted(Path(stack.root).rglob("*.log"))
    assert any(path.name.startswith("guarded-llm") for path in logs)
    worker_log = stack.root / "guarded-llm.log"
    wait_until(
        lambda: f"{fakes.anthropic.url}/v1/messages" in worker_log.read_text(errors="replace"),
        timeout=10,
        message="the worker's log of its requests",
    )  # httpx's request lines are there, in display form: the grep below is not vacuous
    for path in logs:
        seen.check(f"the log {path.relative_to(stack.root)}", path.read_text(errors="replace"))


def test_a_job_failing_on_any_exception_shows_no_credential_in_its_error(on_the_stack: Stack) -> None:
    """The job runtime's last net: an error no provider translated (a bug, a library's exception
    quoting a URL) still reaches the job's owner without the URL's credentials."""
    from workers.runtime import run_job  # the worker's runtime, in this process

    job_id = held_job(on_the_stack)
    password, token = SECRETS["the Ollama proxy's password"], SECRETS["the Ollama proxy's token"]

    def body(ctx, payload):
        raise RuntimeError(f"no answer from http://olla-user:{password}@gpu-box:11434/api/chat?token={token}")

    run_job(job_id, SLEEP, body, worker="test@here")

    ((status, error),) = on_the_stack.sql("SELECT status, error FROM jobs WHERE id = %s", job_id)
    assert status == "failed" and error["code"] == "internal_error"
    assert error["message"] == "RuntimeError: no answer from http://gpu-box:11434/api/chat"
    events = on_the_stack.sql("SELECT data::text FROM job_events WHERE job_id = %s", job_id)
    assert events and not any(password in data or token in data for (data,) in events)
