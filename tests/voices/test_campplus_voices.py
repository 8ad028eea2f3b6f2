"""Named speakers with the overlap-aware diarizer (MENTORQ_DIARIZATION_ENGINE=campplus): voice.enrol
embeds a clip with CAM++ (the measure the diarizer's speakers are matched with) and records the
encoder; a transcribe worker of that engine names speakers with CAM++ profiles at CAM++'s thresholds
and never compares a Resemblyzer profile, which its API read and listing mark as needing
re-enrolment (`voice_profile_needs_reenrolment`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pytest

from core.settings import Settings
from tests.conftest import ApiClient, make_admin, register
from tests.documents.test_api import ingest
from tests.recordings import conversations
from tests.support.stack import Stack
from tests.voices.test_voice_profiles import clip, enrol, matches_of

CAMPPLUS = {"MENTORQ_DIARIZATION_ENGINE": "campplus"}
DEFAULTS = Settings(MENTORQ_ENV="test")


@pytest.fixture(scope="module")
def campplus_worker(stack: Stack) -> Iterator[Stack]:
    stack.stop("worker")
    stack.start_worker(
        "worker-campplus",
        queues="transcribe,embed,cpu",
        extra_env={**CAMPPLUS, "MENTORQ_STALE_AFTER_SECONDS": "8"},
    )
    try:
        yield stack
    finally:
        stack.stop("worker-campplus")
        stack.start_worker()
        stack.sql("DELETE FROM voice_profiles")


def test_campplus_profiles_name_its_speakers_and_an_older_profile_needs_reenrolment(
    campplus_worker: Stack, client: ApiClient
) -> None:
    older = str(uuid.uuid4())  # as Resemblyzer enrolled it before the diarizer changed
    campplus_worker.sql(
        "INSERT INTO voice_profiles (id, name, role, encoder) VALUES (%s, 'Old Ann', 'host', 'resemblyzer')",
        older,
    )
    with campplus_worker.extra_api(**CAMPPLUS) as url, register(url) as api:
        admin = make_admin(campplus_worker, api)
        ann = enrol(admin, "Ann Campplus", "host", clip("ann", 10, 11))
        bob = enrol(admin, "Bob Campplus", "guest", clip("bob", 12, 13), clip("bob", 14, 15))
        assert ann["status"] == "succeeded", ann["error"]
        assert bob["status"] == "succeeded", bob["error"]
        listed = {item["name"]: item for item in admin.get("/v1/admin/voices").json()["items"]}
        assert (
            listed["Ann Campplus"]["encoder"] == "campplus"
            and listed["Ann Campplus"]["needs_reenrolment"] is None
        )
        assert listed["Old Ann"]["needs_reenrolment"]["code"] == "voice_profile_needs_reenrolment"
        read = admin.get(f"/v1/admin/voices/{older}").json()
        assert read["needs_reenrolment"]["code"] == "voice_profile_needs_reenrolment", read
        exported = admin.get(f"/v1/admin/voices/{ann['output']['profile_id']}/export").json()
        [only] = exported["clips"]
        assert len(only["embedding"]) == 192 and abs(float(np.linalg.norm(only["embedding"])) - 1) < 1e-3

    spoken = conversations.dialogue(["ann", "bob"], 6, seed=3)
    document = ingest(client, "interview.wav", spoken.wav_bytes(), collection="campplus-interviews")
    assert document["status"] == "ready", document["error"]
    segments = client.get(f"/v1/documents/{document['id']}/transcript").json()["segments"]
    assert {segment["speaker"] for segment in segments} == {"Ann Campplus", "Bob Campplus"}, segments
    matches = matches_of(campplus_worker, document["id"])
    assert matches["Ann Campplus"]["similarity"] >= DEFAULTS.voice_host_threshold_campplus
    assert matches["Bob Campplus"]["similarity"] >= DEFAULTS.voice_guest_threshold_campplus
    assert all(match["profile_id"] != older for match in matches.values()), matches
