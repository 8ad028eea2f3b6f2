"""One of the two API processes killed (SIGKILL) under load, behind the production nginx. Clients
retry what failed with their Idempotency-Key, event streams cut mid-job resume with
`Last-Event-ID` through the other process, and every job's webhook reaches a receiver on the
client host once."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from devstack.rehearsal import topology
from tests.hosts.jobs import NEEDS_NAMESPACES, wait_ended
from tests.support.fake_ollama import DEFAULT_REPLY
from tests.support.receiver import Receiver

pytestmark = NEEDS_NAMESPACES

RETRYABLE = {409, 502, 503, 504}  # 409: the same key still in flight at the killed process


@pytest.fixture
def receiver(rehearsal: topology.Rehearsal) -> Iterator[Receiver]:
    """A webhook receiver on the client host's address, reached from the cpu host's io worker."""
    listening = Receiver(host=rehearsal.network.hosts["client"].address)
    yield listening
    listening.close()


def submit_with_retries(client: httpx.Client, body: dict, retried: Counter) -> str:
    """POST /v1/jobs until it is answered, under one Idempotency-Key: what a careful client does."""
    key = f'"{uuid.uuid4().hex}"'
    deadline = time.monotonic() + 60
    while True:
        try:
            answer = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": key}, timeout=10)
            if answer.status_code in (200, 201, 202):
                return answer.json()["id"]
            assert answer.status_code in RETRYABLE, answer.text
            retried[answer.status_code] += 1
        except httpx.TransportError as error:
            retried[type(error).__name__] += 1
        assert time.monotonic() < deadline, retried
        time.sleep(0.2)


class Follower(threading.Thread):
    """A job's event stream read to its `done`, reconnecting with Last-Event-ID when cut."""

    def __init__(self, client: httpx.Client, job_id: str) -> None:
        super().__init__(daemon=True)
        self.client, self.job_id = client, job_id
        self.ids: list[int] = []
        self.deltas: list[str] = []
        self.done: dict | None = None
        self.reconnects = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            deadline = time.monotonic() + 120
            while self.done is None and time.monotonic() < deadline:
                try:
                    self._read()
                except httpx.HTTPError:
                    self.reconnects += 1
                    time.sleep(0.2)
        except BaseException as error:  # noqa: BLE001 - the test reads it
            self.error = error

    def _read(self) -> None:
        headers = {"Accept": "text/event-stream"}
        if self.ids:
            headers["Last-Event-ID"] = str(self.ids[-1])
        url = f"/v1/jobs/{self.job_id}/events"
        with self.client.stream("GET", url, headers=headers, timeout=httpx.Timeout(10, read=60)) as stream:
            if stream.status_code != 200:
                raise httpx.HTTPError(f"{stream.status_code}")  # a 502 while nginx finds the other process
            event: dict[str, str] = {}
            for line in stream.iter_lines():
                if line:
                    name, _, value = line.partition(":")
                    event[name] = value.removeprefix(" ")
                    continue
                if event.get("event") == "done":
                    self.done = json.loads(event["data"])
                    return
                if "id" in event:
                    self.ids.append(int(event["id"]))
                    if event.get("event") == "output":
                        self.deltas.append(json.loads(event["data"])["data"]["delta"])
                event = {}


def test_an_api_process_killed_under_load_loses_nothing_and_streams_resume(
    rehearsal: topology.Rehearsal, client: httpx.Client, receiver: Receiver
) -> None:
    # Four slow jobs (about 27 s each) hold the gpu host's slots; a stream follows each. nginx
    # deals the streams to the two processes in turn, so api-1 holds some of them.
    slow = [
        submit_with_retries(
            client, {"kind": "chat", "input": {"prompt": f"slow-job-{uuid.uuid4().hex}"}}, Counter()
        )
        for _ in range(4)
    ]
    followers = [Follower(client, job_id) for job_id in slow]
    for follower in followers:
        follower.start()
    time.sleep(3)  # the streams are open and the first tokens flow

    retried: Counter = Counter()
    submitted: list[str] = []
    webhook = {"webhook": receiver.url}

    def load() -> None:
        for index in range(30):
            body = {"kind": "chat", "input": {"prompt": f"load {index} {uuid.uuid4().hex}"}, **webhook}
            submitted.append(submit_with_retries(client, body, retried))
            time.sleep(0.1)

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    time.sleep(1)
    killed = rehearsal.processes.pop("api-1")
    os.kill(killed.popen.pid, signal.SIGKILL)
    killed.popen.wait(10)
    try:
        loader.join(120)
        assert not loader.is_alive() and len(submitted) == 30, (submitted, retried)
        for follower in followers:
            follower.join(120)
    finally:
        rehearsal.run_service("api", "api", name="api-1", port=topology.API_PORTS[0])
        topology.wait_for(
            lambda: (
                httpx.get(f"http://{killed.host.address}:{topology.API_PORTS[0]}/healthz").status_code == 200
            ),
            timeout_s=90,
            what="api-1 again",
        )

    # Streams: each reached its `done`, the ones cut resumed without a gap or a repeat.
    assert sum(follower.reconnects for follower in followers) >= 1, "no stream was on the killed process"
    for follower in followers:
        assert follower.error is None, follower.error
        assert follower.done is not None and follower.done["status"] == "succeeded", follower.done
        assert follower.ids == sorted(set(follower.ids)), follower.ids
        assert "".join(follower.deltas) == DEFAULT_REPLY

    # Jobs: one per key, every one succeeded once.
    rows = wait_ended(rehearsal, submitted + slow, since=time.monotonic())
    assert {row[1] for row in rows} == {"succeeded"}, rows
    with psycopg.connect(rehearsal.database_url, connect_timeout=5) as db:
        made = db.execute("SELECT count(*) FROM jobs WHERE webhook_url = %s", (receiver.url,)).fetchone()[0]
    assert made == 30

    # Webhooks: every job's `job.succeeded` arrived once; no message twice.
    deadline = time.monotonic() + 60
    while len(receiver.received) < 30 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)  # a duplicate would come now
    messages = [(r.headers["webhook-id"], json.loads(r.body)) for r in receiver.received]
    assert Counter(message_id for message_id, _ in messages).most_common(1)[0][1] == 1
    succeeded = Counter(body["data"]["id"] for _, body in messages if body["type"] == "job.succeeded")
    assert succeeded == Counter(set(submitted)), succeeded
