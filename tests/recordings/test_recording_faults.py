"""Faults in a recording and in its transcription.

The file: every malformed header a decoder can meet (WAV, FLAC, MP3, Ogg) is `corrupt_recording`,
never an internal error; what only looks odd to a strict reader (a streamed WAV's unknown sizes, a
tag in Latin-1) is transcribed, because its audio is whole. A WAV whose header said 0 bits per
sample failed its job `internal_error` (an AttributeError in decode.py: FFmpeg opened it with no
decoder), and so did a Latin-1 tag (a UnicodeDecodeError in PyAV).

The transcription, on the real stack: the worker killed (the stage runs again on another worker,
and the document ends with one transcript), the recording replaced by a new upload (the newer one
wins; the older job is canceled and leaves nothing behind), and a cancel (the worker stops within
seconds)."""

from __future__ import annotations

import os
import random
import re
import struct
import subprocess
import sys
import time

import numpy as np
import pytest

from core import lanes
from core.documents.errors import DocumentError
from core.settings import Settings
from tests.conftest import ApiClient
from tests.documents.test_api import upload, wait_document
from tests.recordings import media
from tests.support.stack import ALL_QUEUES, Stack, wait_until
from tests.test_faults import default_worker_stopped
from workers.recordings import decode
from workers.recordings.engines import SpeechEngine, get_engine
from workers.recordings.pipeline import transcribe

RECORDING_CODES = {"corrupt_recording", "no_audio_track", "recording_too_long", "no_speech"}


@pytest.fixture(scope="module")
def engine() -> SpeechEngine:
    return get_engine(Settings(MENTORQ_ENV="test"))  # Whisper tiny.en, bundled


def run(data: bytes, engine: SpeechEngine):
    return transcribe(data, engine=engine, max_seconds=3600, on_progress=lambda done, total: None)


def opening() -> np.ndarray:
    """ "Welcome to the lecture on the testing effect." """
    return media.sample_pcm()[: 16_000 * 5]


def wav(**header) -> bytes:
    return media.wav_with(opening().astype("<i2").tobytes(), **header)


def broken_headers() -> dict[str, bytes]:
    good_wav, flac = media.wav(opening()), media.encode(opening(), "flac")
    mp3, ogg = media.encode(opening(), "mp3"), media.encode(opening(), "opus")
    noise = random.Random(42).randbytes(4000)
    id3_end = 10 + int.from_bytes(mp3[6:10], "big")  # ID3v2's size: 7 bits a byte, small here
    opus_head = ogg.index(b"OpusHead")
    return {
        "wav-0-bits-per-sample": wav(bits=0),  # was internal_error
        "wav-33-bits-per-sample": wav(bits=33),  # was internal_error
        "wav-unknown-format-tag": wav(format_tag=0x1234),  # was internal_error
        "wav-0-channels": wav(channels=0),
        "wav-0-sample-rate": wav(sample_rate=0),
        "wav-empty-data-chunk": media.wav_with(b""),  # was no_speech, "0 s of audio"
        "wav-cut-in-fmt-chunk": good_wav[:30],
        "wav-cut-before-data-chunk": good_wav[:40],
        "wav-fmt-chunk-size-huge": good_wav[:16] + struct.pack("<I", 0xFFFF_FFF0) + good_wav[20:],
        "wav-no-fmt-chunk": good_wav[:12] + good_wav[36:],
        "riff-then-garbage": b"RIFF" + struct.pack("<I", len(noise)) + noise,
        "riff-wave-then-garbage": b"RIFF" + struct.pack("<I", len(noise) + 4) + b"WAVE" + noise,
        "flac-streaminfo-zeroed": flac[:8] + bytes(34) + flac[42:],
        "flac-metadata-size-huge": flac[:5] + b"\xff\xff\xff" + flac[8:],
        "flac-cut-in-streaminfo": flac[:20],
        "flac-marker-then-garbage": b"fLaC" + noise,
        "mp3-id3-size-past-the-end": mp3[:6] + b"\x7f\x7f\x7f\x7f" + mp3[10:],
        "mp3-id3-then-garbage": mp3[:id3_end] + noise,
        "mp3-cut-in-first-frame-header": mp3[: id3_end + 3],
        "ogg-opus-head-0-channels": ogg[: opus_head + 9] + b"\x00" + ogg[opus_head + 10 :],
        "ogg-opus-head-unknown-version": ogg[: opus_head + 8] + b"\xff" + ogg[opus_head + 9 :],
        "ogg-capture-pattern-broken": b"OggX" + ogg[4:],
        "ogg-cut-in-first-page": ogg[:60],
    }


BROKEN = broken_headers()


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_malformed_header_is_corrupt_recording(name: str, engine: SpeechEngine) -> None:
    with pytest.raises(DocumentError) as refused:
        run(BROKEN[name], engine)
    assert refused.value.code == "corrupt_recording", refused.value


@pytest.mark.parametrize(
    "header",
    [
        {"data_size": 0xFFFF_FFFF, "riff_size": 0xFFFF_FFFF},  # a WAV written to a pipe: sizes unknown
        {"data_size": 0},  # likewise, as other writers leave it
        {"data_size": 0xFFFF_FFF0},  # says 37 hours, holds 5 s: FFmpeg measures by what is there
    ],
    ids=["streamed-sizes-unknown", "streamed-data-size-0", "data-size-huge"],
)
def test_a_wav_whose_sizes_are_not_filled_in_is_transcribed_from_what_it_holds(
    header: dict[str, int], engine: SpeechEngine
) -> None:
    transcript = run(wav(**header), engine)
    assert abs(transcript.duration_s - 5.0) < 0.1
    words = re.findall(r"[a-z]+", " ".join(s.text for s in transcript.segments).lower())  # Whisper punctuates
    assert {"lecture", "testing", "effect"} <= set(words)


def test_a_tag_in_latin_1_is_no_reason_to_refuse_the_audio(engine: SpeechEngine) -> None:
    title = "Leçon 3 : l'effet de test".encode("latin-1") + b"\x00"  # not UTF-8: was internal_error
    info = b"INFO" + b"INAM" + struct.pack("<I", len(title)) + title
    data = wav(extra_chunks=b"LIST" + struct.pack("<I", len(info)) + info)
    transcript = run(data, engine)
    assert "lecture" in " ".join(segment.text for segment in transcript.segments)


@pytest.mark.parametrize("name", sorted(media.FORMATS))
def test_no_damaged_header_byte_fails_the_decoder_otherwise_than_with_a_recording_code(name: str) -> None:
    """Each of the first 64 bytes of a file set to 0x00, then to 0xFF: the decoder yields audio or
    refuses with one of the recording codes; any other exception would fail the job `internal_error`."""
    original = media.encode(media.sample_pcm()[:8_000], name)
    unexpected = []
    for at in range(min(64, len(original))):
        for value in (0x00, 0xFF):
            damaged = original[:at] + bytes([value]) + original[at + 1 :]
            try:
                for _ in decode.pcm_pieces(damaged, max_seconds=600):
                    pass
            except DocumentError as error:
                assert error.code in RECORDING_CODES, error
            except Exception as error:  # noqa: BLE001 - what the test looks for
                unexpected.append(f"byte {at} = {value:#04x}: {type(error).__name__}: {error}")
    assert not unexpected, unexpected[:5]


def long_lecture(times: int) -> bytes:
    """The bundled lecture said `times` times over (about 22 s each), as Opus."""
    return media.encode(np.tile(media.sample_pcm(), times), "opus")


def transcribing(client: ApiClient, job_id: str) -> bool:
    progress = client.get(f"/v1/jobs/{job_id}").json().get("progress") or {}
    return progress.get("stage") == "transcribing" and (progress.get("fraction") or 0) > 0.05


@pytest.mark.slow
def test_a_worker_killed_mid_transcription_leaves_one_transcript_made_by_the_next(
    client: ApiClient, stack: Stack
) -> None:
    # The stack's own 3 s stale window: the worker's pulse beats from a process of its own
    # (workers/pulse.py), so only the kill stops the beat. These workers waited 15 s before, when
    # PocketSphinx held the GIL for seconds at a time and silenced the job's watcher thread.
    with default_worker_stopped(stack):
        stack.start_worker("victim")
        # 44 s: two of the engine's 30 s stretches, so the kill lands mid-stretch or between them.
        result = upload(client, [("long-lecture.ogg", long_lecture(2), None)])
        item = result["body"]["items"][0]
        job_id, document_id = item["job"]["id"], item["document"]["id"]
        wait_until(lambda: transcribing(client, job_id), timeout=120, message="transcribing")
        stack.kill("victim")  # SIGKILL to the worker and its children, mid-recording
        stack.start_worker()  # the stack's own: it stays for the tests after
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
    # running attempt for lost (PocketSphinx is gone since issue 60; CTranslate2 releases the GIL).
    timeline = stack.sql(
        "SELECT type, coalesce(data->>'stage', data->>'worker', data->>'reason', '') "
        "FROM job_events WHERE job_id = %s ORDER BY id",
        job_id,
    )
    assert started == [(2,)], "; ".join(f"{kind} {what[:40]}" for kind, what in timeline)
    assert stack.sql("SELECT count(*) FROM transcripts WHERE document_id = %s", document_id) == [(1,)]
    body = client.get(f"/v1/documents/{document_id}/transcript").json()
    assert 43 < body["duration_s"] < 44.5 and body["segments"][-1]["end_s"] > 38


# A busy loop that ends by itself, should a test's own stop never come.
BUSY_LOOP = "import time\nend = time.monotonic() + 900\nwhile time.monotonic() < end:\n    pass\n"


@pytest.mark.slow
@pytest.mark.timeout(600)  # two workers' start and three transcriptions on cores taken by others
def test_transcriptions_while_every_core_is_busy_each_run_once(client: ApiClient, stack: Stack) -> None:
    """Every core busy with another process at the normal priority, and the recordings on a worker
    of the transcription lane alone, which lowers its own priority (workers/signals.py), under the
    stack's 3 s stale window: the worker gets a small share of the CPU. On a saturated machine
    PocketSphinx's transcriptions were taken over after 95-180 s (it held the GIL while it decoded,
    and the job's watcher thread beat the heartbeat) and one failed `worker_lost` though no worker
    died. All succeed now, and no stage of any runs twice. The worker's pulse (workers/pulse.py)
    beats them from a process of its own; Whisper's engine also lets go of the GIL while it decodes,
    so this passes without the pulse too: a body that keeps the GIL is tests/test_faults.py's."""
    others = ",".join(queue for queue in ALL_QUEUES.split(",") if queue != lanes.TRANSCRIBE)
    with default_worker_stopped(stack):
        stack.start_worker("transcriber", queues=lanes.TRANSCRIBE, concurrency=2)
        stack.start_worker("others", queues=others)
        busy = [
            subprocess.Popen([sys.executable, "-c", BUSY_LOOP], stdin=subprocess.DEVNULL)
            for _ in range(os.cpu_count() or 2)
        ]
        try:
            # Short, so the cores are taken from the rest of a suite running beside for little long.
            opening = media.encode(media.sample_pcm()[: 16_000 * 8], "opus")
            items = [upload(client, [(f"busy-{n}.ogg", opening, None)])["body"]["items"][0] for n in range(3)]
            documents = [wait_document(client, item["document"]["id"], timeout=480) for item in items]
        finally:
            for process in busy:
                process.kill()
                process.wait()
            stack.stop("transcriber")
            stack.stop("others")
    for item, document in zip(items, documents, strict=True):
        job_id = item["job"]["id"]
        timeline = stack.sql(
            "SELECT type, coalesce(data->>'stage', data->>'reason', '') FROM job_events "
            "WHERE job_id = %s ORDER BY id",
            job_id,
        )
        assert document["status"] == "ready", (document["error"], timeline)
        assert not [event for event in timeline if event[0] == "retried"], timeline
        assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "succeeded"
        assert stack.sql("SELECT count(*) FROM transcripts WHERE document_id = %s", document["id"]) == [(1,)]


@pytest.mark.slow
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


@pytest.mark.slow
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
