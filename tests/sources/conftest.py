"""Fixtures and helpers of the scheduled-source tests: a local web site, a shared collection, and
running a source to its end through the API."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import ApiClient
from tests.support.stack import Stack, wait_until

# A schedule that does not come round during a test (beat leaves these sources alone).
NEVER_SOON = "0 0 1 1 *"


def shared_collection(admin: ApiClient) -> dict[str, Any]:
    name = f"src-{uuid.uuid4().hex[:10]}"
    created = admin.post("/v1/collections", json={"name": name, "shared": True})
    assert created.status_code == 201, created.text
    return created.json()


def create_source(admin: ApiClient, collection: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {
        "collection_id": collection["id"],
        "name": fields.pop("name", "a source"),
        "schedule": fields.pop("schedule", NEVER_SOON),
        **fields,
    }
    created = admin.post("/v1/admin/sources", json=body)
    assert created.status_code == 201, created.text
    return created.json()


def wait_job(client: ApiClient, job_id: str, timeout: float = 120) -> dict[str, Any]:
    def done() -> bool:
        return client.get(f"/v1/jobs/{job_id}").json()["status"] in ("succeeded", "failed", "canceled")

    wait_until(done, timeout=timeout, interval=0.2, message=f"job {job_id}")
    return client.get(f"/v1/jobs/{job_id}").json()


def run_source(admin: ApiClient, source: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run now, wait for the job; (the job, its run in the run log)."""
    submitted = admin.post(f"/v1/admin/sources/{source['id']}/run")
    assert submitted.status_code == 202, submitted.text
    assert submitted.headers["location"] == f"/v1/jobs/{submitted.json()['id']}"
    job = wait_job(admin, submitted.json()["id"])
    runs = admin.get(f"/v1/admin/sources/{source['id']}/runs", params={"limit": 200}).json()["items"]
    [run] = [run for run in runs if run["job_id"] == job["id"]]
    return job, run


def source_documents(stack: Stack, source_id: str) -> dict[str, dict[str, Any]]:
    """source_key -> {id, status, content_hash, ingest_job_id} of the source's documents."""
    rows = stack.sql(
        "SELECT source_key, id::text, status, content_hash, ingest_job_id::text FROM documents "
        "WHERE source_id = %s",
        source_id,
    )
    return {
        key: {"id": id_, "status": status, "content_hash": hash_, "ingest_job_id": job}
        for key, id_, status, hash_, job in rows
    }


def ingest_jobs_of(stack: Stack, document_id: str) -> int:
    return stack.sql(
        "SELECT count(*) FROM jobs WHERE kind = 'ingest' AND input->>'document_id' = %s", document_id
    )[0][0]


def wait_ready(stack: Stack, source_id: str, timeout: float = 180) -> None:
    """Every document of the source is ready (ingested and searchable)."""

    def ready() -> bool:
        documents = source_documents(stack, source_id).values()
        return bool(documents) and all(document["status"] == "ready" for document in documents)

    wait_until(ready, timeout=timeout, interval=0.3, message=f"documents of source {source_id}")
