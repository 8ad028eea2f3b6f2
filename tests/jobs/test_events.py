"""GET /v1/jobs/{id}/events: replay, live streaming, resume with Last-Event-ID, many clients."""

from __future__ import annotations

import asyncio
import time

import httpx

from mentorq.sse import SseEvent, iter_sse
from tests.conftest import ApiClient
from tests.support.stack import Stack

SSE = {"Accept": "text/event-stream"}


def read_stream(
    client: ApiClient, job_id: str, *, last_event_id: int | None = None, stop_after: int | None = None
) -> list[SseEvent]:
    headers = dict(SSE)
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    events: list[SseEvent] = []
    with client.stream("GET", f"/v1/jobs/{job_id}/events", headers=headers, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for event in iter_sse(response.iter_lines()):
            events.append(event)
            if event.event == "done" or (stop_after is not None and len(events) >= stop_after):
                break
    return events


def test_a_streamed_chat_sends_status_output_and_done(client: ApiClient, fake_ollama) -> None:
    fake_ollama.token_delay_s = 0.02
    job_id = client.post("/v1/jobs", json={"kind": "chat", "input": {"prompt": "hi"}}).json()["id"]
    events = read_stream(client, job_id)
    names = [event.event for event in events]
    assert names[0] == "status" and events[0].data["type"] == "queued"
    assert "output" in names and names[-1] == "done"
    text = "".join(event.data["data"]["delta"] for event in events if event.event == "output")
    final = events[-1].data
    assert final["status"] == "succeeded" and final["output"]["text"] == text
    ids = [event.id for event in events if event.id is not None]
    assert ids == sorted(set(ids))


def test_replay_of_a_finished_job_then_done(client: ApiClient) -> None:
    job = client.post(
        "/v1/jobs", json={"kind": "debug.sleep", "input": {}}, headers={"Prefer": "wait=30"}
    ).json()
    events = read_stream(client, job["id"])
    assert [e.data["type"] for e in events if e.event == "status"] == ["queued", "started", "succeeded"]
    assert events[-1].event == "done" and events[-1].data["id"] == job["id"]


def test_a_quick_chat_nobody_followed_replays_its_output_before_it_succeeded(
    client: ApiClient, stack: Stack
) -> None:
    # Nobody listens while it runs, so its output is written by the statement that finishes it
    # (db.jobs.finish_job's `streamed`): the timeline must still read output, then succeeded.
    job = client.post(
        "/v1/jobs", json={"kind": "chat", "input": {"prompt": "hi"}}, headers={"Prefer": "wait=30"}
    ).json()
    assert job["status"] == "succeeded"
    events = read_stream(client, job["id"])
    types = [e.data["type"] for e in events if e.event in ("status", "output")]
    assert types[:2] == ["queued", "started"] and types[-1] == "succeeded" and "output" in types, types
    assert types.index("output") < types.index("succeeded")
    text = "".join(e.data["data"]["delta"] for e in events if e.event == "output")
    assert text == job["output"]["text"]
    rows = stack.sql("SELECT type FROM job_events WHERE job_id = %s ORDER BY id", job["id"])
    assert [row[0] for row in rows][-2:] == ["output", "succeeded"]


def test_a_finished_job_without_a_terminal_event_still_ends_with_done(
    client: ApiClient, stack: Stack
) -> None:
    """A row written outside the job runtime (an import, a hand repair) has no terminal event in
    its timeline: the stream must still end, not wait for an event that never comes."""
    job = client.post(
        "/v1/jobs", json={"kind": "debug.sleep", "input": {}}, headers={"Prefer": "wait=30"}
    ).json()
    stack.sql("DELETE FROM job_events WHERE job_id = %s AND type = 'succeeded'", job["id"])
    events = read_stream(client, job["id"])
    assert events[-1].event == "done" and events[-1].data["status"] == "succeeded"


def test_a_failed_job_streams_an_error_event(client: ApiClient) -> None:
    job_id = client.post(
        "/v1/jobs", json={"kind": "chat", "input": {"prompt": "x", "model": "nope:1b"}}
    ).json()["id"]
    events = read_stream(client, job_id)
    errors = [event for event in events if event.event == "error"]
    assert errors and errors[0].data["data"]["code"] == "model_not_found"


def test_reconnecting_with_last_event_id_loses_and_repeats_nothing(client: ApiClient, fake_ollama) -> None:
    fake_ollama.token_delay_s = 0.05
    fake_ollama.reply = " ".join(f"w{i}" for i in range(40))
    job_id = client.post("/v1/jobs", json={"kind": "chat", "input": {"prompt": "long"}}).json()["id"]
    first = read_stream(client, job_id, stop_after=5)  # disconnects mid-stream
    resumed = read_stream(client, job_id, last_event_id=first[-1].id)
    full = read_stream(client, job_id)
    combined = [event.id for event in first + resumed if event.id is not None]
    assert combined == [event.id for event in full if event.id is not None]  # nothing lost, nothing twice
    assert resumed[-1].event == "done"


def test_another_users_job_events_are_404(client: ApiClient, other_client: ApiClient) -> None:
    job_id = client.post("/v1/jobs", json={"kind": "debug.sleep", "input": {}}).json()["id"]
    response = other_client.get(f"/v1/jobs/{job_id}/events", headers=SSE)
    assert response.status_code == 404 and response.json()["code"] == "job_not_found"


def test_idle_streams_get_keep_alive_comments(client: ApiClient) -> None:
    job_id = client.post(
        "/v1/jobs", json={"kind": "debug.sleep", "input": {"seconds": 2.5, "steps": 1}}
    ).json()["id"]
    comments = 0
    with client.stream("GET", f"/v1/jobs/{job_id}/events", headers=SSE, timeout=30) as response:
        for line in response.iter_lines():
            comments += line.startswith(": keep-alive")
            if line.startswith("event: done"):
                break
    assert comments >= 1  # the test stack sends one per idle second


def test_200_concurrent_streams_on_one_api_process_stay_responsive(
    client: ApiClient, stack: Stack, fake_ollama
) -> None:
    # The job stays running until the 200 streams are open and the probe answered: the model holds
    # its generation until then (16 s of tokens once ran out before, on a CI run on two cores).
    released = fake_ollama.hold("two hundred streams")
    fake_ollama.token_delay_s = 0.02
    fake_ollama.reply = " ".join(f"w{i}" for i in range(80))
    job_id = client.post(
        "/v1/jobs", json={"kind": "chat", "input": {"prompt": "long: two hundred streams"}}
    ).json()["id"]
    token = client.headers["Authorization"]

    connected: list[bool] = []

    async def one_stream(http: httpx.AsyncClient) -> str | None:
        async with http.stream("GET", f"/v1/jobs/{job_id}/events", headers=SSE) as response:
            async for line in response.aiter_lines():
                if line.startswith("event: status") and len(connected) < 200:
                    connected.append(True)
                if line.startswith("event: done"):
                    return "done"
        return None

    async def scenario() -> tuple[list[str | None], float]:
        limits = httpx.Limits(max_connections=250, max_keepalive_connections=250)
        async with httpx.AsyncClient(
            base_url=stack.api_url, headers={"Authorization": token}, timeout=60, limits=limits
        ) as http:
            streams = [asyncio.create_task(one_stream(http)) for _ in range(200)]
            deadline = time.monotonic() + 20
            while len(connected) < 200 and time.monotonic() < deadline:  # every stream open and replaying
                await asyncio.sleep(0.05)
            assert len(connected) == 200
            started = time.monotonic()
            # A bound, not a benchmark: the API must still answer other requests (well) within 10 s.
            probe = await http.get(f"/v1/jobs/{job_id}", timeout=10)
            probe_s = time.monotonic() - started
            assert probe.status_code == 200 and probe.json()["status"] == "running"
            released.set()
            results = await asyncio.wait_for(asyncio.gather(*streams), timeout=60)
            return results, probe_s

    results, probe_s = asyncio.run(scenario())
    assert results.count("done") == 200
    print(f"GET with 200 streams open: {probe_s * 1000:.0f} ms")
