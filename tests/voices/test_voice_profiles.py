"""Named speakers on the real stack: voice profiles enrolled through the admin API (a `voice.enrol`
job on the transcribe lane), recordings of espeak-ng voices (tests/recordings/conversations.py)
ingested on a transcribe worker with the embedded diarizer, and what becomes of a profile linked
to an account. The clips are other lines than the conversations'."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest

from core.settings import Settings
from tests.conftest import ApiClient, make_admin, register
from tests.documents.test_api import ingest
from tests.profiles.support import wait_job
from tests.recordings import conversations, media, real_conversations
from tests.support.stack import Stack
from workers.recordings.diarization import SpeakerTurn
from workers.recordings.voices import EnrolledVoice, match_speakers, unit

DEFAULTS = Settings(MENTORQ_ENV="test")
HOST, GUEST = DEFAULTS.voice_host_threshold, DEFAULTS.voice_guest_threshold


@pytest.fixture(scope="module")
def speakers_worker(stack: Stack) -> Iterator[Stack]:
    """The module's recordings on a transcribe worker that diarizes (the stack's own does not), with
    the default thresholds; every profile the module made is gone afterwards."""
    stack.stop("worker")
    stack.start_worker(
        "worker-voices",
        queues="transcribe,embed,cpu",
        extra_env={"MENTORQ_DIARIZATION_ENGINE": "resemblyzer", "MENTORQ_STALE_AFTER_SECONDS": "8"},
    )
    try:
        yield stack
    finally:
        stack.stop("worker-voices")
        stack.start_worker()
        stack.sql("DELETE FROM voice_profiles")


@pytest.fixture(scope="module")
def admin(stack: Stack) -> Iterator[ApiClient]:
    with register(stack.api_url) as api:
        yield make_admin(stack, api)


def clip(speaker: str, *lines: int, pitch: int | None = None) -> bytes:
    """The speaker saying LINES[i] for each i, 0.4 s apart, as a WAV file."""
    pause = np.zeros(6400, dtype=np.int16)
    spoken = [
        part
        for i in lines
        for part in (conversations.say(speaker, conversations.LINES[i], pitch=pitch), pause)
    ]
    return conversations.wav_bytes(np.concatenate(spoken))


def enrol(client: ApiClient, name: str, role: str, *clips: bytes, user_id: str | None = None) -> dict:
    """POST /v1/admin/voices; the enrolment job once it ended."""
    files = [("clip", (f"{name}-{i}.wav", data, "audio/wav")) for i, data in enumerate(clips)]
    data = {"name": name, "role": role} | ({"user_id": user_id} if user_id else {})
    response = client.post("/v1/admin/voices", files=files, data=data)
    assert response.status_code == 202, response.text
    return wait_job(client, response.json()["id"])


def matches_of(stack: Stack, document_id: str) -> dict[str, dict]:
    [(matches,)] = stack.sql("SELECT speaker_matches FROM transcripts WHERE document_id = %s", document_id)
    return {match["label"]: match for match in matches}


def test_enrolled_voices_name_the_speakers_of_a_conversation(
    speakers_worker: Stack, admin: ApiClient, client: ApiClient
) -> None:
    ann = enrol(admin, "Ann Example", "host", clip("ann", 10, 11))
    bob = enrol(admin, "Bob Example", "guest", clip("bob", 12, 13), clip("bob", 14, 15))
    assert ann["status"] == "succeeded", ann["error"]
    assert bob["status"] == "succeeded", bob["error"]
    assert bob["output"]["name"] == "Bob Example" and len(bob["output"]["clips"]) == 2
    listed = {item["name"]: item for item in admin.get("/v1/admin/voices").json()["items"]}
    assert listed["Bob Example"]["clip_count"] == 2 and listed["Ann Example"]["role"] == "host"
    exported = admin.get(f"/v1/admin/voices/{ann['output']['profile_id']}/export").json()
    [only] = exported["clips"]
    assert exported["clip_count"] == 1 and len(only["embedding"]) == 256 and only["audio_kept"] is False
    assert abs(float(np.linalg.norm(only["embedding"])) - 1) < 1e-3 and only["voiced_s"] >= 3

    spoken = conversations.dialogue(["ann", "bob"], 6, seed=3)
    document = ingest(client, "interview.wav", spoken.wav_bytes(), collection="interviews")
    assert document["status"] == "ready", document["error"]
    segments = client.get(f"/v1/documents/{document['id']}/transcript").json()["segments"]
    named = {"ann": "Ann Example", "bob": "Bob Example"}
    for segment in segments:
        middle = (segment["start_s"] + segment["end_s"]) / 2
        [who] = [turn.speaker for turn in spoken.turns if turn.start_s - 0.3 <= middle <= turn.end_s + 0.3]
        assert segment["speaker"] == named[who], (segment, spoken.turns)
    assert "<v Ann Example>" in client.get(f"/v1/documents/{document['id']}/transcript.vtt").text
    matches = matches_of(speakers_worker, document["id"])
    assert matches["Ann Example"]["named"] and matches["Ann Example"]["similarity"] >= HOST
    assert matches["Bob Example"]["named"] and matches["Bob Example"]["similarity"] >= GUEST

    for profile in (ann, bob):
        url = f"/v1/admin/voices/{profile['output']['profile_id']}"
        assert admin.delete(url).status_code == 204
        gone = admin.get(url)
        assert gone.status_code == 404 and gone.json()["code"] == "voice_profile_not_found"


def test_an_unenrolled_voice_and_a_guest_short_of_the_guest_threshold_stay_numbered(
    speakers_worker: Stack, admin: ApiClient, client: ApiClient
) -> None:
    """dee's voice at a lower pitch, enrolled as a guest: alike enough for a host, not for a guest."""
    near = enrol(admin, "Dee Lower", "guest", clip("dee", 12, 13, pitch=50))
    assert near["status"] == "succeeded", near
    spoken = conversations.dialogue(["cal", "dee"], 6, seed=5)
    document = ingest(client, "panel.wav", spoken.wav_bytes(), collection="panels")
    assert document["status"] == "ready", document["error"]
    segments = client.get(f"/v1/documents/{document['id']}/transcript").json()["segments"]
    assert {segment["speaker"] for segment in segments} == {"S1", "S2"}  # cal first, then dee
    matches = matches_of(speakers_worker, document["id"])
    assert not matches["S2"]["named"] and matches["S2"]["name"] == "Dee Lower"
    assert HOST <= matches["S2"]["similarity"] < GUEST, matches
    assert not matches["S1"]["named"] and matches["S1"]["similarity"] < HOST, matches
    assert admin.delete(f"/v1/admin/voices/{near['output']['profile_id']}").status_code == 204


def test_clips_without_enough_speech_or_no_audio_are_refused(
    speakers_worker: Stack, admin: ApiClient, client: ApiClient
) -> None:
    before = speakers_worker.sql("SELECT count(*) FROM voice_profiles")
    music = enrol(admin, "Music", "guest", conversations.wav_bytes(conversations.music(6.0)))
    assert music["status"] == "failed" and music["error"]["code"] == "voice_clip_no_speech", music
    short = enrol(admin, "Short", "host", clip("ann", 11))  # 1.4 s of voice
    assert short["status"] == "failed" and short["error"]["code"] == "voice_clip_too_short", short
    assert "clip 1 (Short-0.wav)" in short["error"]["message"]
    # The refused uploads are deleted with nothing stored.
    for job in (music, short):
        assert speakers_worker.sql("SELECT count(*) FROM job_attachments WHERE job_id = %s", job["id"]) == [
            (0,)
        ]
    assert speakers_worker.sql("SELECT count(*) FROM voice_profiles") == before

    text = admin.post(
        "/v1/admin/voices",
        files=[
            ("clip", ("me.wav", clip("ann", 10), "audio/wav")),
            ("clip", ("notes.txt", b"hello", "text/plain")),
        ],
        data={"name": "Text", "role": "host"},
    )
    assert text.status_code == 422 and text.json()["code"] == "corrupt_recording", text.text
    assert "clip 2 (notes.txt)" in text.json()["detail"]
    label = admin.post(
        "/v1/admin/voices",
        files=[("clip", ("a.wav", b"RIFF", "audio/wav"))],
        data={"name": "S2", "role": "host"},
    )
    assert label.status_code == 422, label.text

    # Not an admin: 403, to every route.
    for response in (
        client.post(
            "/v1/admin/voices",
            files=[("clip", ("me.wav", b"RIFF", "audio/wav"))],
            data={"name": "Me", "role": "host"},
        ),
        client.get("/v1/admin/voices"),
        client.delete(f"/v1/admin/voices/{music['id']}"),
    ):
        assert response.status_code == 403 and response.json()["code"] == "admin_only", response.text


def test_a_profile_linked_to_an_account_is_exported_and_deleted_with_it(
    speakers_worker: Stack, admin: ApiClient
) -> None:
    with register(speakers_worker.api_url) as person:
        enrolled = enrol(admin, "Cal Linked", "host", clip("cal", 12, 13), user_id=person.user_id)
        assert enrolled["status"] == "succeeded", enrolled
        [exported] = person.get("/api/profiles/me/export").json()["voice_profiles"]
        assert exported["name"] == "Cal Linked" and exported["clip_count"] == 1
        assert len(exported["clips"][0]["embedding"]) == 256
        deleted = person.delete("/api/profiles/me")
        assert deleted.status_code == 202
    job = wait_job(admin, deleted.json()["job_id"])
    assert job["status"] == "succeeded" and job["output"]["deleted"]["voice_profiles"] == 1, job
    assert admin.get(f"/v1/admin/voices/{enrolled['output']['profile_id']}").status_code == 404


def test_speakers_are_named_best_pair_first_with_each_role_s_threshold() -> None:
    """No database: the greedy assignment itself, on made-up unit vectors."""
    axes = np.eye(4, dtype=np.float32)
    host = EnrolledVoice("p-host", "Hana", "host", axes[0])
    guest = EnrolledVoice("p-guest", "Gil", "guest", axes[1])
    thresholds = {"host": 0.8, "guest": 0.9}
    near = lambda a, b, t: unit(t * axes[a] + np.sqrt(1 - t * t) * axes[b])  # noqa: E731 - cos t to axis a
    # Both speakers are most like the host: the nearer takes her, the other gets no one (not Hana twice).
    found = match_speakers(
        {"S1": near(0, 2, 0.85), "S2": near(0, 3, 0.95)}, [host, guest], thresholds=thresholds
    )
    assert [(m.label, m.name, m.named) for m in found] == [("S1", "Hana", False), ("S2", "Hana", True)]
    # Alike at 0.85: enough for a host, not for a guest.
    found = match_speakers({"S1": near(1, 2, 0.85)}, [guest], thresholds=thresholds)
    assert [(m.name, m.named, m.similarity) for m in found] == [("Gil", False, 0.85)]
    assert match_speakers({"S1": near(1, 2, 0.85)}, [], thresholds=thresholds) == []


def test_a_real_call_s_two_enrolled_people_are_two_named_speakers(
    speakers_worker: Stack, admin: ApiClient, client: ApiClient
) -> None:
    """A real call through a telephone band (issue 53: held out, gong-io/gecko's demo), its two
    people enrolled with what each says alone in another part of the call. Told nothing, the
    diarizer heard them as one voice; enrolled, the transcript names each of them."""
    window = next(r for r in real_conversations.more_recordings() if r.name == "gecko-call-90-180-telephone")
    development = next(
        r for r in real_conversations.more_recordings() if r.name == "gecko-call-0-90-telephone"
    )
    profiles = [
        enrol(
            admin,
            f"{person} Call",
            role,
            conversations.wav_bytes(real_conversations.alone(development, person, until_s=45.0)),
        )
        for person, role in (("Roger", "host"), ("Virgil", "guest"))
    ]
    try:
        assert all(profile["status"] == "succeeded" for profile in profiles), profiles
        # As MP3 (the call was one): a WAV of 90 s is over the test stack's document size.
        document = ingest(client, "call.mp3", media.encode(window.samples(), "mp3"), collection="calls")
        assert document["status"] == "ready", document["error"]
        segments = client.get(f"/v1/documents/{document['id']}/transcript").json()["segments"]
        cues = [SpeakerTurn(s["speaker"], s["start_s"], s["end_s"]) for s in segments]
        assert {cue.speaker for cue in cues} == {"Roger Call", "Virgil Call"}, cues
        reference = [replace(turn, speaker=f"{turn.speaker} Call") for turn in window.turns()]
        # A cue carries its stretch's main speaker: coarser than the diarizer's turns, so the bound
        # is wider than the diarizer's own (DER 0.072); names must match, not just the partition.
        assert named_error(reference, cues) <= 0.25
    finally:
        for profile in profiles:
            if profile["status"] == "succeeded":
                admin.delete(f"/v1/admin/voices/{profile['output']['profile_id']}")


def named_error(reference: list[conversations.Turn], cues: list[SpeakerTurn]) -> float:
    """The share of the reference's single-speaker seconds that a cue gives to another name."""
    wrong = total = 0.0
    for turn in reference:
        if any(o is not turn and o.start_s < turn.end_s and turn.start_s < o.end_s for o in reference):
            continue
        for cue in cues:
            overlap = min(turn.end_s, cue.end_s) - max(turn.start_s, cue.start_s)
            if overlap > 0:
                total += overlap
                wrong += overlap * (cue.speaker != turn.speaker)
    return wrong / total if total else 1.0
