"""Recordings to transcripts without the stack: every container the platform takes, detected by
content, decoded and transcribed by the embedded engine (Whisper tiny.en) after the VAD; and each bad
recording refused with its code, before decoding where its header tells."""

from __future__ import annotations

import time

import jiwer
import numpy as np
import pytest
from prometheus_client import REGISTRY

from core.documents.detect import detect_format
from core.documents.errors import DocumentError
from core.recordings import to_srt, to_vtt
from core.settings import Settings
from tests.recordings import media
from tests.support.site import Site
from workers.documents.formats_transcript import parse_srt, parse_vtt
from workers.recordings import decode, transcript_document
from workers.recordings.engines import MIN_WORD_S, Heard, SpeechEngine, Word, get_engine, placed
from workers.recordings.pipeline import MAX_CUE_S, _cues, transcribe
from workers.recordings.speech import speech_segments

# On clean synthesised speech PocketSphinx gets about one word in twelve wrong (0.08 on the bundled
# lecture here); the bound leaves room for other machines' floating point, not for a broken path.
CLEAN_WER_BOUND = 0.15


@pytest.fixture(scope="module")
def engine() -> SpeechEngine:
    return get_engine(Settings(MENTORQ_ENV="test"))  # Whisper tiny.en, bundled


def words_of(text: str) -> str:
    return jiwer.RemovePunctuation()(text.lower())


def run(data: bytes, engine: SpeechEngine, *, max_seconds: float = 3600, on_progress=None):
    return transcribe(
        data, engine=engine, max_seconds=max_seconds, on_progress=on_progress or (lambda done, total: None)
    )


def test_the_bundled_lecture_is_transcribed_with_cues_in_order_and_few_errors(
    engine: SpeechEngine,
) -> None:
    progress: list[tuple[float, float | None]] = []
    counted = REGISTRY.get_sample_value(
        "mentorq_transcribed_audio_seconds_total", {"engine": "faster_whisper"}
    )
    transcript = run(
        media.sample_bytes(), engine, on_progress=lambda done, total: progress.append((done, total))
    )
    # The metric counts the seconds heard (core/metrics/catalog.py).
    now = REGISTRY.get_sample_value("mentorq_transcribed_audio_seconds_total", {"engine": "faster_whisper"})
    assert abs(now - (counted or 0) - transcript.duration_s) < 0.01
    text = " ".join(segment.text for segment in transcript.segments)
    error_rate = jiwer.wer(words_of(media.SAMPLE_TEXT), words_of(text))
    assert error_rate <= CLEAN_WER_BOUND, (error_rate, text)
    assert 21 < transcript.duration_s < 23 and transcript.engine == "faster-whisper"
    starts = [segment.start_s for segment in transcript.segments]
    assert starts == sorted(starts) and len(starts) >= 3  # cut into cues of at most MAX_CUE_S
    for segment in transcript.segments:
        assert 0 <= segment.start_s < segment.end_s <= transcript.duration_s + 0.2
        assert segment.end_s - segment.start_s <= MAX_CUE_S + 0.5
        assert segment.words and segment.text == " ".join(word for word, _, _ in segment.words)
        assert all(segment.start_s <= start < end <= segment.end_s for _, start, end in segment.words)
    assert progress[-1] == (transcript.duration_s, transcript.duration_s)
    # The knowledge store takes it like an SRT: one section per cue, with its times.
    parsed = transcript_document(transcript)
    assert parsed.format == "recording"
    assert [(s.start_s, s.end_s) for s in parsed.sections] == [
        (c.start_s, c.end_s) for c in transcript.segments
    ]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (1.0, 1.5, (1.0, 1.5)),  # as timed
        (1.2, 1.2, (1.2, 1.2 + MIN_WORD_S)),  # no length (once in CI: a cue's word with start == end)
        (2.6, 2.8, (2.5 - MIN_WORD_S, 2.5)),  # past the stretch's end: clamped, it had no length
        (-0.3, -0.1, (0.0, MIN_WORD_S)),  # before the stretch (its padding)
    ],
)
def test_a_word_is_placed_inside_its_stretch_with_a_length(start, end, expected) -> None:
    word = placed("word", start, end, seconds=2.5)
    assert (word.start_s, word.end_s) == pytest.approx(expected, abs=0.001)
    assert 0 <= word.start_s < word.end_s <= 2.5


def test_a_cue_holds_every_word_it_is_made_of_even_out_of_order() -> None:
    heard = Heard("a b c", [Word("a", 0.1, 0.5), Word("b", 0.4, 0.9), Word("c", 0.6, 0.8)])
    (cue,) = _cues(10.0, 12.0, heard)
    assert (cue.start_s, cue.end_s) == (10.1, 10.9)
    assert all(cue.start_s <= start < end <= cue.end_s for _, start, end in cue.words)


def test_a_stretch_of_speech_runs_on_across_short_pauses_and_ends_at_a_long_one() -> None:
    """Cut at every pause, JFK's sentence reached the engine as four phrases (WER 0.36, not 0.23)."""
    phrase = media.sample_pcm()[: 16_000 * 5]  # "Welcome to the lecture on the testing effect."
    audio = np.concatenate([phrase, media.silence(1.0), phrase, media.silence(3.0), phrase])
    stretches = [(round(s.start_s, 1), round(s.end_s, 1)) for s in speech_segments([audio])]
    assert len(stretches) == 2, stretches
    (first_start, first_end), (second_start, second_end) = stretches
    assert first_start < 0.5 and 10.5 < first_end < 12  # both phrases and the second between
    assert 13 < second_start < 14.5 and second_end == 19.0


def test_a_stretch_at_its_longest_ends_at_its_last_pause_not_mid_word() -> None:
    phrase = media.sample_pcm()[: 16_000 * 5]
    audio = np.concatenate([phrase, media.silence(1.0)] * 3 + [phrase])  # 23 s, pauses of 1 s
    stretches = list(speech_segments([audio], max_segment_s=8))
    assert len(stretches) == 4, [(s.start_s, s.end_s) for s in stretches]
    for stretch in stretches:
        assert stretch.end_s - stretch.start_s <= 8
    for stretch in stretches[:-1]:  # each ends in the pause after its phrase: its last 0.2 s quiet
        tail, whole = stretch.samples[-3_200:].astype(float), stretch.samples.astype(float)
        assert np.sqrt(np.mean(tail**2)) < 0.05 * np.sqrt(np.mean(whole**2)), (stretch.start_s, stretch.end_s)


@pytest.mark.parametrize("name", sorted(media.FORMATS))
def test_each_container_is_known_by_its_content_and_transcribed(name: str, engine: SpeechEngine) -> None:
    opening = media.sample_pcm()[: 16_000 * 5]  # "Welcome to the lecture on the testing effect."
    data = media.encode(opening, name)
    assert detect_format("notes.txt", "text/plain", data[:8192]) == "recording"
    transcript = run(data, engine)
    assert abs(transcript.duration_s - 5.0) < 0.2, transcript.duration_s
    heard = " ".join(segment.text for segment in transcript.segments)
    assert {"lecture", "testing", "effect"} <= set(words_of(heard).split()), heard
    assert transcript.info.has_video == media.FORMATS[name][3]


def test_a_video_without_sound_is_no_audio_track(engine: SpeechEngine) -> None:
    data = media.video_without_audio()
    assert detect_format(None, None, data[:8192]) == "recording"
    with pytest.raises(DocumentError) as refused:
        run(data, engine)
    assert refused.value.code == "no_audio_track" and "video without an audio track" in refused.value.message


@pytest.mark.parametrize(
    "data",
    [
        b"OggS" + bytes(range(256)) * 40,  # an Ogg signature, then nothing Ogg
        media.encode(media.sample_pcm()[:16_000], "mp4")[:600],  # an MP4 cut off in its header
        b"\xff\xfb" + b"\x00" * 5000,  # an MPEG frame sync, then zeros
    ],
    ids=["ogg-garbage", "truncated-mp4", "mp3-sync-zeros"],
)
def test_a_corrupt_recording_is_corrupt_recording(data: bytes, engine: SpeechEngine) -> None:
    assert detect_format(None, None, data[:8192]) == "recording"
    with pytest.raises(DocumentError) as refused:
        run(data, engine)
    assert refused.value.code == "corrupt_recording", refused.value


def test_a_header_that_claims_ten_hours_is_refused_before_any_decoding(
    engine: SpeechEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = media.flac_claiming(media.sample_pcm()[: 16_000 * 3], seconds=10 * 3600)
    decoded: list[int] = []
    real = decode.pcm_pieces

    def counting(*args, **kwargs):
        for piece in real(*args, **kwargs):
            decoded.append(len(piece))
            yield piece

    monkeypatch.setattr("workers.recordings.pipeline.pcm_pieces", counting)
    started = time.monotonic()
    with pytest.raises(DocumentError) as refused:
        run(data, engine, max_seconds=3 * 3600)
    assert refused.value.code == "recording_too_long" and "36000 s" in refused.value.message
    assert decoded == [] and time.monotonic() - started < 5


def test_a_recording_whose_header_does_not_say_is_stopped_once_decoding_passes_the_limit(
    engine: SpeechEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(decode, "_claimed_seconds", lambda container, stream: None)
    data = media.encode(media.sample_pcm(), "opus")  # 22 s
    decoded: list[int] = []
    with pytest.raises(DocumentError) as refused:
        for piece in decode.pcm_pieces(data, max_seconds=4):
            decoded.append(len(piece))
    assert refused.value.code == "recording_too_long"
    assert 3.5 * 16_000 < sum(decoded) <= 4 * 16_000  # stopped at the limit, not at the end


def test_a_recording_with_nobody_speaking_is_no_speech(engine: SpeechEngine) -> None:
    with pytest.raises(DocumentError) as refused:
        run(media.wav(media.silence(6)), engine)
    assert refused.value.code == "no_speech" and "6 s of audio" in refused.value.message


def test_a_cancel_during_decoding_stops_the_transcription(engine: SpeechEngine) -> None:
    class Canceled(Exception):
        pass

    calls: list[float] = []

    def cancel_at_once(done: float, total: float | None) -> None:
        calls.append(done)
        raise Canceled

    long_recording = media.encode(np.tile(media.sample_pcm(), 10), "opus")  # 3.6 minutes
    started = time.monotonic()
    with pytest.raises(Canceled):
        run(long_recording, engine, on_progress=cancel_at_once)
    assert calls == [0.0] or calls[0] < 1.0
    assert time.monotonic() - started < 5


def test_webvtt_and_srt_files_read_back_as_the_same_cues(engine: SpeechEngine) -> None:
    segments = run(media.sample_bytes(), engine).segments
    for rendered, parse in ((to_vtt(segments).encode(), parse_vtt), (to_srt(segments).encode(), parse_srt)):
        cues = parse(rendered).sections
        assert [(c.start_s, c.end_s, c.text) for c in cues] == [
            (round(s.start_s, 3), round(s.end_s, 3), s.text) for s in segments
        ]


def test_a_playlist_behind_an_mp3_tag_makes_ffmpeg_fetch_nothing(engine: SpeechEngine, site: Site) -> None:
    """A hostile upload: an ID3 tag (so it passes as a recording) in front of an HLS playlist that
    names a URL. FFmpeg skips ID3 tags when it probes; were it to open the playlist, the worker
    would fetch that URL (a server-side request the learner chose). Nothing is fetched."""
    target = site.page("/internal/secret.ts", b"\x47" * 188, "video/mp2t")
    playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{target}\n#EXT-X-ENDLIST\n".encode()
    data = b"ID3\x04\x00\x00\x00\x00\x00\x00" + playlist
    assert detect_format("talk.mp3", None, data[:8192]) == "recording"
    with pytest.raises(DocumentError) as refused:
        run(data, engine)
    assert refused.value.code == "corrupt_recording"
    assert site.hits["/internal/secret.ts"] == 0


def test_hearing_speech_leaves_torchs_threads_as_they_were() -> None:
    """Importing silero_vad sets torch to one thread for the whole process; the VAD must undo it
    (the transcribe lane chooses its own count, workers/signals.py). In a fresh process, since in
    this one silero_vad may be imported already."""
    import subprocess
    import sys

    script = (
        "import numpy, torch; torch.set_num_threads(2)\n"
        "from workers.recordings.speech import speech_segments\n"
        "list(speech_segments([numpy.zeros(16000, dtype=numpy.int16)]))\n"
        "print(torch.get_num_threads())\n"
    )
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert ran.stdout.split()[-1] == "2", ran.stdout
