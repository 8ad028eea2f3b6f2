"""A recording uploaded as a document, on the real stack: detected by content, transcribed on the
transcribe lane, searchable with its time ranges, its transcript served as JSON, WebVTT and SRT;
a bad recording fails its job with the recording's code; a re-upload replaces the transcript."""

from __future__ import annotations

import uuid

from tests.conftest import ApiClient
from tests.documents.test_api import ingest, upload, wait_document
from tests.profiles.support import wait_job
from tests.recordings import conversations, media
from tests.support.fake_ollama import FakeOllama
from tests.support.stack import Stack, wait_until


def events(stack: Stack, job_id: str) -> list[tuple[str, str | None]]:
    rows = stack.sql("SELECT type, data->>'stage' FROM job_events WHERE job_id = %s ORDER BY id", job_id)
    return [(kind, stage) for kind, stage in rows]


def test_a_recording_becomes_a_searchable_transcript_with_time_ranges(
    client: ApiClient, other_client: ApiClient, stack: Stack
) -> None:
    # A name and a content type that say "text": the content says otherwise.
    document = ingest(client, "lecture3.txt", media.sample_bytes(), collection="lectures", title="Lecture 3")
    assert document["status"] == "ready", document["error"]
    assert document["format"] == "recording" and document["chunk_count"] >= 1
    # Parsed on cpu, handed to the transcribe lane, transcribed there with progress, then embedded.
    stages = [stage for kind, stage in events(stack, document["ingest_job_id"]) if kind == "progress"]
    assert stages.index("transcribe") < stages.index("transcribing") < stages.index("embed"), stages

    transcript = client.get(f"/v1/documents/{document['id']}/transcript")
    assert transcript.status_code == 200, transcript.text
    body = transcript.json()
    assert body["engine"] == "faster-whisper" and body["title"] == "Lecture 3"
    assert 21 < body["duration_s"] < 23
    heard = " ".join(segment["text"] for segment in body["segments"])
    assert "practice test" in heard and "testing effect" in heard
    assert all(segment["words"] for segment in body["segments"])

    vtt = client.get(f"/v1/documents/{document['id']}/transcript.vtt")
    assert vtt.status_code == 200 and vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT\n\n00:00:00.") and "practice test" in vtt.text
    srt = client.get(f"/v1/documents/{document['id']}/transcript.srt")
    assert srt.status_code == 200 and srt.text.startswith("1\n00:00:00,")

    chunks = client.get(f"/v1/documents/{document['id']}", params={"include": "chunks"}).json()["chunks"]
    assert all(chunk["start_s"] is not None and chunk["end_s"] > chunk["start_s"] for chunk in chunks)
    found = client.post(
        "/v1/search", json={"query": "students who took a practice test", "collections": ["lectures"], "k": 3}
    ).json()
    top = found["items"][0]
    assert top["document_id"] == document["id"] and "practice test" in top["text"]
    assert top["start_s"] is not None and top["end_s"] > top["start_s"]

    # Another user's recording is not there for them; a text document has no transcript.
    assert other_client.get(f"/v1/documents/{document['id']}/transcript").status_code == 404
    text = ingest(client, "notes.md", b"# Notes\n\nTesting beats rereading.\n")
    missing = client.get(f"/v1/documents/{text['id']}/transcript")
    assert missing.status_code == 404 and missing.json()["code"] == "transcript_not_found"


def test_bad_recordings_fail_their_ingest_with_the_recording_s_code(client: ApiClient, stack: Stack) -> None:
    cases = {
        "silent.wav": (media.wav(media.silence(4)), "no_speech"),
        "slides.mp4": (media.video_without_audio(), "no_audio_track"),
        "broken.ogg": (b"OggS" + bytes(range(256)) * 40, "corrupt_recording"),
        # A WAV whose header says 0 bits per sample: FFmpeg opens it with no decoder (it failed the
        # job `internal_error`, an AttributeError in workers/recordings/decode.py).
        "zero-bits.wav": (
            media.wav_with(media.sample_pcm()[:16_000].astype("<i2").tobytes(), bits=0),
            "corrupt_recording",
        ),
        "ten-hours.flac": (
            media.flac_claiming(media.sample_pcm()[:16_000], seconds=36_000),
            "recording_too_long",
        ),
    }
    result = upload(client, [(name, data, None) for name, (data, _) in cases.items()])
    assert result["status"] == 202, result
    for item in result["body"]["items"]:
        document = wait_document(client, item["document"]["id"])
        expected = cases[item["filename"]][1]
        assert document["status"] == "failed" and document["error"]["code"] == expected, document
        # The stage fails the document, then the runtime the job, in a transaction of its own: a
        # poll between the two (it happened once under a CI run's load) sees the job still running.
        job = wait_job(client, item["job"]["id"])
        assert job["status"] == "failed" and job["error"]["code"] == expected, job
        assert client.get(f"/v1/documents/{document['id']}/transcript").status_code == 404


def test_a_re_uploaded_recording_replaces_its_transcript_whole(client: ApiClient, stack: Stack) -> None:
    opening, rest = media.sample_pcm()[: 16_000 * 5], media.sample_pcm()[16_000 * 8 : 16_000 * 16]
    first = ingest(client, "talk.wav", media.wav(opening))
    assert first["status"] == "ready", first["error"]
    second = upload(client, [("talk.wav", media.encode(rest, "mp3"), None)])
    assert second["body"]["items"][0]["action"] == "replaced"
    final = wait_document(client, first["id"])
    assert final["status"] == "ready", final["error"]
    heard = " ".join(
        s["text"] for s in client.get(f"/v1/documents/{first['id']}/transcript").json()["segments"]
    )
    assert "students" in heard and "welcome" not in heard
    # One transcript row, the active generation's: the old one went with its chunks.
    rows = stack.sql("SELECT generation FROM transcripts WHERE document_id = %s", first["id"])
    active = stack.sql("SELECT active_generation FROM documents WHERE id = %s", first["id"])
    assert rows == active


def test_an_answer_from_a_recording_cites_it_with_its_time_range(
    client: ApiClient, fake_ollama: FakeOllama
) -> None:
    collection = f"lectures-{uuid.uuid4().hex[:6]}"
    document = ingest(client, "lecture3.ogg", media.sample_bytes(), collection=collection, title="Lecture 3")
    assert document["status"] == "ready", document["error"]
    question = "How much did students who took a practice test remember a week later?"
    fake_ollama.script(
        question, "Students who took a practice test remembered about half of the material a week later [1]."
    )
    response = client.post(
        "/api/ask", json={"question": question, "collections": [collection]}, headers={"Prefer": "wait=30"}
    )
    assert response.status_code == 200, response.text
    output = response.json()["output"]
    assert output["grounded"] is True, output
    [citation] = output["citations"]
    assert citation["document_id"] == document["id"] and citation["title"] == "Lecture 3"
    start, end = citation["time_range"]["start_s"], citation["time_range"]["end_s"]
    assert 0 <= start < end <= 22.5 and "practice test" in citation["quote"]


def test_a_conversation_is_transcribed_with_who_said_each_cue(client: ApiClient, stack: Stack) -> None:
    """Two voices taking turns (espeak-ng, known turns), on a transcribe worker with the embedded
    diarizer (the product's default; the test stack's own worker runs without): each cue carries
    the speaker heard over it, S1 the first to speak, and the WebVTT and SRT files say so."""
    spoken = conversations.dialogue(["ann", "bob"], 6, seed=3)
    stack.stop("worker")
    try:
        stack.start_worker(
            "worker-speakers",
            queues="transcribe,embed,cpu",
            extra_env={"MENTORQ_DIARIZATION_ENGINE": "campplus", "MENTORQ_STALE_AFTER_SECONDS": "8"},
        )
        document = ingest(client, "office-hours.wav", spoken.wav_bytes(), collection="office-hours")
        # The uploader may say how many people speak: told one, the diarizer gives one.
        told = ingest(
            client, "told-one.wav", spoken.wav_bytes(), collection="office-hours-told", speakers="1"
        )
    finally:
        stack.stop("worker-speakers")
        stack.start_worker()
    assert document["status"] == "ready", document["error"]
    assert told["status"] == "ready" and told["metadata"]["speakers"] == 1, told
    told_segments = client.get(f"/v1/documents/{told['id']}/transcript").json()["segments"]
    assert {segment["speaker"] for segment in told_segments} == {"S1"}
    for wrong in ("0", "21", "two", "1.5"):
        refused = upload(
            client, [("x.wav", spoken.wav_bytes(), None)], collection="office-hours-told", speakers=wrong
        )
        assert refused["status"] == 422, (wrong, refused)
    segments = client.get(f"/v1/documents/{document['id']}/transcript").json()["segments"]
    first = {"ann": "S1", "bob": "S2"}
    for segment in segments:
        middle = (segment["start_s"] + segment["end_s"]) / 2
        [who] = [turn.speaker for turn in spoken.turns if turn.start_s - 0.3 <= middle <= turn.end_s + 0.3]
        assert segment["speaker"] == first[who], (segment, spoken.turns)
    assert {segment["speaker"] for segment in segments} == {"S1", "S2"}
    vtt = client.get(f"/v1/documents/{document['id']}/transcript.vtt").text
    assert "<v S1>" in vtt and "<v S2>" in vtt
    srt = client.get(f"/v1/documents/{document['id']}/transcript.srt").text
    assert "\nS1: " in srt and "\nS2: " in srt
    # The passages searches find say who speaks in them, as the cues they hold do; after a rename
    # they, the transcript and the search filter use the new name.
    chunks = client.get(f"/v1/documents/{document['id']}", params={"include": "chunks"}).json()["chunks"]
    for chunk in chunks:
        inside = [s["speaker"] for s in segments if chunk["start_s"] <= s["start_s"] < chunk["end_s"]]
        assert chunk["speakers"] == list(dict.fromkeys(inside)), (chunk, segments)
    renamed = client.post(
        f"/v1/documents/{document['id']}/speakers/rename", json={"speaker": "S2", "name": "Bob Tutor"}
    )
    assert renamed.status_code == 200 and renamed.json()["renamed_cues"] >= 1, renamed.text
    segments = client.get(f"/v1/documents/{document['id']}/transcript").json()["segments"]
    assert {segment["speaker"] for segment in segments} == {"S1", "Bob Tutor"}
    body = {
        "query": "does testing help memory",
        "collections": ["office-hours"],
        "filters": {"speakers": ["Bob Tutor"]},
    }
    # The stack's worker was just restarted: its query lane answers once its model is loaded.
    wait_until(lambda: client.post("/v1/search", json=body).status_code == 200, timeout=60, interval=1)
    hits = client.post("/v1/search", json=body).json()["items"]
    assert hits and all("Bob Tutor" in hit["speakers"] for hit in hits)
