"""When the diarizer's encoder changes (Resemblyzer to CAM++, issue 60), the profiles the old one
embedded are embedded again from the audio their clips kept (`voice.reembed`, POST
/v1/admin/voices/reembed); one whose audio was not kept stays marked for re-enrolment, with its
code in the job's output. Real workers, real encoders: a re-embedded profile holds what a fresh
CAM++ enrolment of the same clip holds, and a second run changes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from tests.conftest import ApiClient, make_admin, register
from tests.profiles.support import wait_job
from tests.support.stack import Stack
from tests.voices.test_campplus_voices import CAMPPLUS
from tests.voices.test_voice_profiles import clip, enrol

RESEMBLYZER_KEEPING_AUDIO = {
    "MENTORQ_DIARIZATION_ENGINE": "resemblyzer",
    "MENTORQ_VOICE_KEEP_AUDIO": "true",
    "MENTORQ_STALE_AFTER_SECONDS": "8",
}


@pytest.fixture(scope="module")
def older_profiles(stack: Stack) -> Iterator[dict[str, str]]:
    """Two profiles Resemblyzer enrolled with their audio kept, one of whose audio is then gone (as
    if enrolled without MENTORQ_VOICE_KEEP_AUDIO); then the transcribe lane changes to CAM++."""
    stack.stop("worker")
    stack.start_worker("worker-keeping", queues="transcribe,embed,cpu", extra_env=RESEMBLYZER_KEEPING_AUDIO)
    try:
        with register(stack.api_url) as api:
            admin = make_admin(stack, api)
            kept = enrol(admin, "Ann Kept", "host", clip("ann", 10, 11))
            gone = enrol(admin, "Cid Gone", "guest", clip("bob", 12, 13))
        assert kept["status"] == "succeeded" and gone["status"] == "succeeded", (kept, gone)
        ids = {"kept": kept["output"]["profile_id"], "gone": gone["output"]["profile_id"]}
        stack.sql("UPDATE voice_clips SET audio = NULL WHERE profile_id = %s", ids["gone"])
        stack.stop("worker-keeping")
        stack.start_worker("worker-campplus", queues="transcribe,embed,cpu", extra_env={**CAMPPLUS})
        yield ids
    finally:
        for name in ("worker-keeping", "worker-campplus"):
            stack.stop(name)
        stack.start_worker()
        stack.sql("DELETE FROM voice_profiles")


def _listed(admin: ApiClient) -> dict[str, dict]:
    return {item["name"]: item for item in admin.get("/v1/admin/voices").json()["items"]}


def _embeddings(admin: ApiClient, profile_id: str) -> np.ndarray:
    exported = admin.get(f"/v1/admin/voices/{profile_id}/export").json()
    return np.array([c["embedding"] for c in exported["clips"]], dtype=np.float64)


def _reembed(admin: ApiClient) -> dict:
    response = admin.post("/v1/admin/voices/reembed")
    assert response.status_code == 202, response.text
    assert response.headers["Location"] == f"/v1/jobs/{response.json()['id']}"
    return wait_job(admin, response.json()["id"], timeout=1860)  # the kind's own time limit


def test_kept_audio_is_embedded_again_and_a_profile_without_it_stays_marked(
    stack: Stack, older_profiles: dict[str, str], client: ApiClient
) -> None:
    refused = client.post("/v1/admin/voices/reembed")
    assert refused.status_code == 403 and refused.json()["code"] == "admin_only", refused.text

    with stack.extra_api(**CAMPPLUS) as url, register(url) as api:
        admin = make_admin(stack, api)
        before = _listed(admin)
        assert before["Ann Kept"]["needs_reenrolment"]["code"] == "voice_profile_needs_reenrolment"
        assert _embeddings(admin, older_profiles["kept"]).shape == (1, 256)  # Resemblyzer's

        job = _reembed(admin)
        assert job["status"] == "succeeded", job["error"]
        assert job["output"]["encoder"] == "campplus"
        assert [(p["name"], p["clips"]) for p in job["output"]["reembedded"]] == [("Ann Kept", 1)]
        [left] = job["output"]["left"]
        assert (left["name"], left["code"]) == ("Cid Gone", "voice_audio_not_kept"), left

        after = _listed(admin)
        assert after["Ann Kept"]["encoder"] == "campplus" and after["Ann Kept"]["needs_reenrolment"] is None
        assert after["Cid Gone"]["needs_reenrolment"]["code"] == "voice_profile_needs_reenrolment"

        # What a fresh CAM++ enrolment of the same clip holds: the same measure, not a stand-in.
        fresh = enrol(admin, "Ann Fresh", "host", clip("ann", 10, 11))
        assert fresh["status"] == "succeeded", fresh["error"]
        again, new = (
            _embeddings(admin, older_profiles["kept"]),
            _embeddings(admin, fresh["output"]["profile_id"]),
        )
        assert again.shape == new.shape == (1, 192)
        assert float(again[0] @ new[0]) > 0.999

        # Nothing twice: the second run finds only the profile it cannot help.
        second = _reembed(admin)
        assert second["status"] == "succeeded", second["error"]
        assert second["output"]["reembedded"] == []
        assert [p["name"] for p in second["output"]["left"]] == ["Cid Gone"]
        assert np.array_equal(_embeddings(admin, older_profiles["kept"]), again)
