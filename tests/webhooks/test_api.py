"""Signed webhooks end to end: real API, real io worker, real HTTP receivers on loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from standardwebhooks import Webhook

from tests.conftest import ApiClient
from tests.support.receiver import Receiver
from tests.support.stack import Stack, wait_until


def deliveries(client: ApiClient, job_id: str) -> list[dict]:
    return client.get(f"/v1/jobs/{job_id}/deliveries").json()["items"]


def test_a_receiver_that_fails_twice_gets_one_verified_succeeded_event(
    client: ApiClient, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503, 200]
    job = client.post(
        "/v1/jobs",
        json={"kind": "debug.sleep", "input": {}, "webhook": receiver.url},
        headers={"Prefer": "wait=30"},
    ).json()
    assert job["status"] == "succeeded"
    wait_until(
        lambda: deliveries(client, job["id"])[0]["status"] == "succeeded", timeout=30, message="delivered"
    )
    [delivery] = deliveries(client, job["id"])  # the default filter: `completed` only
    assert delivery["event_type"] == "job.succeeded"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 200]
    assert [a["outcome"] for a in delivery["attempts"]] == ["retry", "retry", "success"]
    assert all(a["latency_ms"] >= 0 for a in delivery["attempts"])

    assert len(receiver.received) == 3
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1  # stable across retries
    secret = client.get("/v1/webhooks/secret").json()["secret"]
    last = receiver.received[-1]
    payload = Webhook(secret).verify(last.body, last.headers)
    assert payload["type"] == "job.succeeded"
    assert payload["data"]["id"] == job["id"] and payload["data"]["status"] == "succeeded"


def test_event_filter_start_progress_completed(client: ApiClient, receiver: Receiver) -> None:
    job = client.post(
        "/v1/jobs",
        json={
            "kind": "debug.sleep",
            "input": {"seconds": 1.5, "steps": 15},
            "webhook": receiver.url,
            "webhook_events_filter": ["start", "progress", "completed"],
        },
        headers={"Prefer": "wait=30"},
    ).json()
    wait_until(
        lambda: any(r.headers.get("webhook-id") and b"job.succeeded" in r.body for r in receiver.received),
        timeout=30,
        message="completed webhook",
    )
    # Messages in flight together may arrive out of order (docs/api/webhooks.md): their timestamps
    # say the order the job went in.
    payloads = sorted((json.loads(r.body) for r in receiver.received), key=lambda p: p["timestamp"])
    types = [payload["type"] for payload in payloads]
    assert types[0] == "job.started" and types[-1] == "job.succeeded"
    progress = [p for p in payloads if p["type"] == "job.progress"]
    # 15 progress steps in 1.5 s, throttled to one webhook per 500 ms by the worker's clock when
    # each is recorded (tests/workers/test_recorder.py spaces them). Not by the payloads'
    # timestamps: those are their transactions' starts, which a loaded machine holds back by a
    # fraction of a second (a CI run's were 0.31 s apart).
    assert 1 <= len(progress) <= 4, len(progress)
    assert job["status"] == "succeeded"


def test_410_disables_the_endpoint_for_that_job(client: ApiClient, receiver: Receiver) -> None:
    receiver.statuses = [410]
    job = client.post(
        "/v1/jobs",
        json={
            "kind": "debug.sleep",
            "input": {"seconds": 1, "steps": 4},
            "webhook": receiver.url,
            "webhook_events_filter": ["start", "progress", "completed"],
        },
        headers={"Prefer": "wait=30"},
    ).json()
    assert job["status"] == "succeeded"  # a webhook never changes the job's own status
    time.sleep(2)
    items = deliveries(client, job["id"])
    assert all(item["status"] == "disabled" for item in items)
    # Only what was already in flight when the first 410 came back reached the receiver; later
    # events, the completed one included, were not even queued.
    assert len(receiver.received) == len([item for item in items if item["attempts"]]) <= 2
    assert "job.succeeded" not in [item["event_type"] for item in items]
    count = len(receiver.received)
    time.sleep(2)
    assert len(receiver.received) == count


def test_redeliver_resends_with_the_same_webhook_id(
    client: ApiClient, receiver: Receiver, other_client: ApiClient
) -> None:
    job = client.post(
        "/v1/jobs",
        json={"kind": "debug.sleep", "input": {}, "webhook": receiver.url},
        headers={"Prefer": "wait=30"},
    ).json()
    wait_until(
        lambda: deliveries(client, job["id"])[0]["status"] == "succeeded", timeout=30, message="delivered"
    )
    delivery_id = deliveries(client, job["id"])[0]["id"]
    assert other_client.post(f"/v1/deliveries/{delivery_id}/redeliver").status_code == 404
    assert other_client.get(f"/v1/jobs/{job['id']}/deliveries").status_code == 404
    assert client.post(f"/v1/deliveries/{delivery_id}/redeliver").status_code == 200
    wait_until(lambda: len(receiver.received) == 2, timeout=30, message="redelivered")
    assert receiver.received[0].headers["webhook-id"] == receiver.received[1].headers["webhook-id"]
    # The worker records the attempt once the receiver has answered: a moment after the receiver has it.
    wait_until(
        lambda: len(deliveries(client, job["id"])[0]["attempts"]) == 2,
        timeout=30,
        message="the second attempt recorded",
    )


def test_rotation_signs_with_both_secrets(client: ApiClient, receiver: Receiver) -> None:
    old = client.get("/v1/webhooks/secret").json()["secret"]
    rotated = client.post("/v1/webhooks/secret/rotate").json()
    assert rotated["secret"] != old and rotated["previous_secret_expires_at"]
    client.post(
        "/v1/jobs",
        json={"kind": "debug.sleep", "input": {}, "webhook": receiver.url},
        headers={"Prefer": "wait=30"},
    )
    wait_until(lambda: receiver.received, timeout=30, message="delivered")
    message = receiver.received[0]
    assert len(message.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, rotated["secret"]):
        Webhook(secret).verify(message.body, message.headers)


def test_hanging_receivers_time_out_retry_and_leave_jobs_flowing(client: ApiClient, stack: Stack) -> None:
    hanging = Receiver(hang_s=30)
    try:
        hung_jobs = [
            client.post("/v1/jobs", json={"kind": "debug.sleep", "input": {}, "webhook": hanging.url}).json()[
                "id"
            ]
            for _ in range(12)
        ]
        # More hanging deliveries than the io worker has threads; jobs still run on their own workers.
        probe = client.post(
            "/v1/jobs", json={"kind": "debug.sleep", "input": {}}, headers={"Prefer": "wait=30"}
        ).json()
        assert probe["status"] == "succeeded"
        wait_until(
            lambda: any(len(d["attempts"]) >= 2 for d in deliveries(client, hung_jobs[0])),
            timeout=60,
            message="retried",
        )
        attempts = deliveries(client, hung_jobs[0])[0]["attempts"]
        assert attempts[0]["outcome"] == "retry" and "timeout" in attempts[0]["error"]
        assert attempts[0]["latency_ms"] < 10_000  # cut at the delivery timeout (2 s in tests), not 30 s
    finally:
        hanging.close()


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:9/hook",
        "https://10.0.0.8:8443/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::ffff:127.0.0.1]/hook",
        "https://localhost/hook",
    ],
)
def test_private_webhook_urls_are_refused_when_not_allowed(strict_api: str, url: str) -> None:
    from tests.conftest import register

    with register(strict_api) as strict_client:
        response = strict_client.post(
            "/v1/jobs", json={"kind": "chat", "input": {"prompt": "x"}, "webhook": url}
        )
    assert response.status_code == 422
    assert response.json()["code"] == "webhook_address_forbidden"


def test_plain_http_is_refused_when_not_allowed(strict_api: str) -> None:
    from tests.conftest import register

    with register(strict_api) as strict_client:
        response = strict_client.post(
            "/v1/jobs",
            json={"kind": "chat", "input": {"prompt": "x"}, "webhook": "http://hooks.example.com/x"},
        )
    assert response.status_code == 422 and response.json()["code"] == "webhook_url_invalid"


@pytest.fixture(scope="module")
def strict_api(stack: Stack) -> Iterator[str]:
    """A second API process with production webhook rules (no private targets, https only)."""
    with stack.extra_api(MENTORQ_WEBHOOK_ALLOW_PRIVATE="false", MENTORQ_WEBHOOK_ALLOW_HTTP="false") as url:
        yield url
