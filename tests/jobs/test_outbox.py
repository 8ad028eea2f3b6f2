"""What an API commit promised reaches clients at once, not at the next safety net.

Every path that commits through the unit of work sends its live events and webhook messages
right after the commit. With the job workers and beat (the reconciler) stopped, nothing else
could deliver them: a waiting client that returns within a second, and a webhook that arrives
with no reconciler running, prove the API itself sent them.
"""

from __future__ import annotations

import threading
import time

import httpx

from tests.conftest import ApiClient
from tests.support.receiver import Receiver
from tests.support.stack import wait_until

# A waiting request re-reads the job on its own only every 10 s (api/jobs/service.py, WAIT_SAFETY_REREAD_S).
AT_ONCE_S = 3.0


class Waiter(threading.Thread):
    """GET /v1/jobs/{id} with Prefer: wait, in the background; records the answer and when it came."""

    def __init__(self, client: ApiClient, job_id: str, seconds: int = 20):
        super().__init__(daemon=True)
        self.url = f"{client.base_url}/v1/jobs/{job_id}"
        self.headers = {**client.headers, "Prefer": f"wait={seconds}"}
        self.answer: dict | None = None
        self.answered_at: float | None = None

    def run(self) -> None:
        response = httpx.get(self.url, headers=self.headers, timeout=60)
        self.answer, self.answered_at = response.json(), time.monotonic()


def wait_listening(waiter: Waiter) -> None:
    waiter.start()
    time.sleep(0.5)  # the request is in and subscribed; a job that ends before still answers (it re-reads)


def test_deleting_a_document_cancels_its_ingest_job_and_a_waiting_client_hears_it_at_once(
    client: ApiClient, nothing_runs_jobs: None
) -> None:
    upload = client.post(
        "/v1/documents", files={"files": ("notes.md", b"# Notes\n\nRecall beats rereading.")}
    )
    assert upload.status_code == 202, upload.text
    item = upload.json()["items"][0]
    job_id, document_id = item["job"]["id"], item["document"]["id"]
    waiter = Waiter(client, job_id)
    wait_listening(waiter)

    deleted_at = time.monotonic()
    assert client.delete(f"/v1/documents/{document_id}").status_code == 204
    waiter.join(timeout=30)
    assert waiter.answer is not None and waiter.answer["status"] == "canceled"
    assert waiter.answered_at - deleted_at < AT_ONCE_S


def test_a_superseding_upload_cancels_the_old_ingest_job_and_a_waiting_client_hears_it_at_once(
    client: ApiClient, nothing_runs_jobs: None
) -> None:
    first = client.post("/v1/documents", files={"files": ("plan.md", b"# Plan\n\nVersion one.")}).json()[
        "items"
    ][0]
    waiter = Waiter(client, first["job"]["id"])
    wait_listening(waiter)

    replaced_at = time.monotonic()
    second = client.post("/v1/documents", files={"files": ("plan.md", b"# Plan\n\nVersion two.")}).json()[
        "items"
    ][0]
    assert second["action"] == "replaced" and second["job"]["id"] != first["job"]["id"]
    waiter.join(timeout=30)
    assert waiter.answer is not None and waiter.answer["status"] == "canceled"
    assert waiter.answered_at - replaced_at < AT_ONCE_S


def test_a_canceled_job_s_webhook_is_sent_by_the_api_not_the_reconciler(
    client: ApiClient, nothing_runs_jobs: None
) -> None:
    receiver = Receiver()
    try:
        job = client.post(
            "/v1/jobs", json={"kind": "debug.sleep", "input": {}, "webhook": receiver.url}
        ).json()
        assert job["status"] == "queued"
        assert client.post(f"/v1/jobs/{job['id']}/cancel").json()["status"] == "canceled"
        wait_until(lambda: len(receiver.received) == 1, timeout=AT_ONCE_S, message="job.canceled webhook")
        assert b'"type":"job.canceled"' in receiver.received[0].body
    finally:
        receiver.close()


def test_redelivery_is_sent_at_once_with_no_reconciler(client: ApiClient, nothing_runs_jobs: None) -> None:
    receiver = Receiver()
    try:
        job = client.post(
            "/v1/jobs", json={"kind": "debug.sleep", "input": {}, "webhook": receiver.url}
        ).json()
        client.post(f"/v1/jobs/{job['id']}/cancel")
        wait_until(lambda: len(receiver.received) == 1, timeout=AT_ONCE_S, message="first delivery")
        [delivery] = client.get(f"/v1/jobs/{job['id']}/deliveries").json()["items"]
        wait_until(
            lambda: (
                client.get(f"/v1/jobs/{job['id']}/deliveries").json()["items"][0]["status"] == "succeeded"
            ),
            timeout=AT_ONCE_S,
            message="first delivery recorded",
        )
        assert client.post(f"/v1/deliveries/{delivery['id']}/redeliver").status_code == 200
        wait_until(lambda: len(receiver.received) == 2, timeout=AT_ONCE_S, message="redelivery")
        assert receiver.received[0].headers["webhook-id"] == receiver.received[1].headers["webhook-id"]
    finally:
        receiver.close()
