"""Helpers shared by the learner tests."""

from __future__ import annotations

import json
import time

from tests.conftest import ApiClient

TERMINAL = {"succeeded", "failed", "canceled"}


def wait_job(client: ApiClient, job_id: str, timeout: float = 90) -> dict:
    """The job once it ended (long-polling with Prefer: wait)."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/v1/jobs/{job_id}", headers={"Prefer": "wait=20"}).json()
        if job["status"] in TERMINAL or time.monotonic() > deadline:
            assert job["status"] in TERMINAL, f"job {job_id} still {job['status']}"
            return job
        time.sleep(0.1)


def extraction(**fields) -> str:
    """A profile_ingest answer as the model would send it."""
    answer = {
        "display_name": None,
        "bio": None,
        "bio_evidence": None,
        "level": None,
        "skills": [],
        "interests": [],
        "goals": [],
    }
    answer.update(fields)
    return json.dumps(answer)


def profile(client: ApiClient) -> tuple[dict, str]:
    """The caller's profile and its ETag."""
    response = client.get("/api/profiles/me")
    assert response.status_code == 200, response.text
    return response.json(), response.headers["ETag"]
