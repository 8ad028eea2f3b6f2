"""Faults in the middle of a transcription, on the real stack: the worker killed (the stage runs
again on another worker, and the document ends with one transcript), the recording replaced by a
new upload (the newer one wins; the older job is canceled and leaves nothing behind), and a cancel
(the worker stops within seconds)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.conftest import ApiClient
from tests.documents.test_api import upload, wait_document
from tests.recordings import media
from tests.support.stack import Stack, wait_until
from tests.test_faults import default_worker_stopped

pytestmark = pytest.mark.slow


def long_lecture(times: int) -> bytes:
    """The bundled lecture said `times` times over (about 22 s each), as Opus."""
    return media.encode(np.tile(media.sample_pcm(), times), "opus")


def transcribing(client: ApiClient, job_id: str) -> bool:
    progress = client.get(f"/v1/jobs/{job_id}").json().get("progress") or {}
    return progress.get("stage") == "transcribing" and (progress.get("fraction") or 0) > 0.05


def test_a_worker_killed_mid_transcription_leaves_one_transcript_made_by_the_next(
    client: ApiClient, stack: Stack
) -> None:
    with default_worker_stopped(stack):
        stack.start_worker("victim")
        result = upload(client, [("long-lecture.ogg", long_lecture(4), None)])
        item = result["body"]["items"][0]
        job_id, document_id = item["job"]["id"], item["document"]["id"]
        wait_until(lambda: transcribing(client, job_id), timeout=120, message="transcribing")
        stack.kill("victim")  # SIGKILL to the worker and its children, mid-recording
        stack.start_worker()
        document = wait_document(client, document_id, timeout=240)
    assert document["status"] == "ready", document["error"]
    job = client.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "succeeded" and job["attempts"] >= 1
    # `started` events between the hand-off to the transcribe stage and the one to embed.
    started = stack.sql(
        "SELECT count(*) FROM job_events WHERE job_id = %s AND type = 'started' AND id > ("
        "  SELECT min(id) FROM job_events WHERE job_id = %s AND data->>'stage' = 'transcribe'"
        ") AND id < (SELECT min(id) FROM job_events WHERE job_id = %s AND data->>'stage' = 'embed')",
        job_id,
        job_id,
        job_id,
    )
    # Two: the killed attempt and the one that finished. A third came when PocketSphinx held the
    # GIL for a whole stretch of speech, starving the heartbeat until the reconciler took the
    # running attempt for lost (workers/recordings/engines.py now decodes in pieces).
    timeline = stack.sql(
        "SELECT type, coalesce(data->>'stage', data->>'worker', data->>'reason', '') "
        "FROM job_events WHERE job_id = %s ORDER BY id",
        job_id,
    )
    assert started == [(2,)], "; ".join(f"{kind} {what[:40]}" for kind, what in timeline)
    assert stack.sql("SELECT count(*) FROM transcripts WHERE document_id = %s", document_id) == [(1,)]
    body = client.get(f"/v1/documents/{document_id}/transcript").json()
    assert 86 < body["duration_s"] < 90 and body["segments"][-1]["end_s"] > 80


def test_a_recording_replaced_while_it_is_transcribed_ends_with_the_newer_one(
    client: ApiClient, stack: Stack
) -> None:
    first = upload(client, [("week1.ogg", long_lecture(4), None)])["body"]["items"][0]
    wait_until(lambda: transcribing(client, first["job"]["id"]), timeout=120, message="transcribing")
    newer = media.encode(media.sample_pcm()[16_000 * 8 : 16_000 * 16], "opus")  # "...students who took..."
    second = upload(client, [("week1.ogg", newer, None)])["body"]["items"][0]
    assert second["action"] == "replaced" and second["document"]["id"] == first["document"]["id"]
    document = wait_document(client, first["document"]["id"], timeout=240)
    wait_until(
        lambda: (
            client.get(f"/v1/jobs/{first['job']['id']}").json()["status"]
            in ("canceled", "failed", "succeeded")
        ),
        timeout=60,
        message="the older job ended",
    )
    assert document["status"] == "ready", document["error"]
    assert client.get(f"/v1/jobs/{first['job']['id']}").json()["status"] == "canceled"
    body = client.get(f"/v1/documents/{document['id']}/transcript").json()
    assert body["duration_s"] < 9 and "students" in " ".join(s["text"] for s in body["segments"])
    assert stack.sql("SELECT count(*) FROM transcripts WHERE document_id = %s", document["id"]) == [(1,)]


def test_a_canceled_transcription_stops_within_seconds_and_frees_its_worker(
    client: ApiClient, stack: Stack
) -> None:
    item = upload(client, [("long-talk.ogg", long_lecture(4), None)])["body"]["items"][0]
    job_id = item["job"]["id"]
    wait_until(lambda: transcribing(client, job_id), timeout=120, message="transcribing")
    assert client.post(f"/v1/jobs/{job_id}/cancel").status_code == 200

    def progress_events() -> int:
        return stack.sql("SELECT count(*) FROM job_events WHERE job_id = %s AND type = 'progress'", job_id)[
            0
        ][0]

    # The worker notices at its next progress report (every 2 s of work) and stops writing.
    def quiet() -> bool:
        before = progress_events()
        return wait_until_false(lambda: progress_events() > before, seconds=3)

    wait_until(quiet, timeout=20, message="no more progress from the canceled job")
    assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "canceled"
    assert stack.sql("SELECT count(*) FROM transcripts WHERE document_id = %s", item["document"]["id"]) == [
        (0,)
    ]
    # Its slot is free: a short recording goes through while the long one would still be running.
    short = upload(client, [("short.ogg", media.sample_bytes(), None)])["body"]["items"][0]
    assert wait_document(client, short["document"]["id"], timeout=120)["status"] == "ready"


def wait_until_false(check, *, seconds: float) -> bool:
    """True when `check` stays false for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return False
        time.sleep(0.2)
    return True
