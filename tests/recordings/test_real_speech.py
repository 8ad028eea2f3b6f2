"""Real human speech (tests/recordings/data/, sources and licences in NOTICE.md there): the platform
(decode, Silero VAD, the engine adapter) hears each kept clip within its aim with Whisper tiny.en,
and as well as faster-whisper itself does on the same audio; and a file's transcript does not
depend on what the engine transcribed before.

Aims (issue 60): JFK <= 0.05, each LibriVox sentence <= 0.08; the platform within 0.01 of the engine
alone. PocketSphinx, the engine before, heard them with 0.23, 0.36 and 0.12; Whisper tiny.en with
0.00, 0.045 ("mister" is written "Mr." and counted wrong) and 0.00 (benchmarks.transcription)."""

from __future__ import annotations

import pytest

from core.settings import Settings
from tests.recordings import real_speech
from tests.recordings.real_speech import Clip
from workers.recordings.engines import SpeechEngine, WhisperEngine, get_engine
from workers.recordings.pipeline import Transcript, transcribe

pytestmark = pytest.mark.slow

# The platform's word error rate may exceed the engine's own by this much (issue 60).
WITHIN = 0.01
AIM = {"jfk-inaugural-1961": 0.05}  # each LibriVox sentence: AIM_OTHERWISE
AIM_OTHERWISE = 0.08
CLIPS = real_speech.clips()
SPEECH, SENTENCE = CLIPS[1], CLIPS[2]  # two LibriVox sentences, 7 s and 3 s (JFK's 11 s cost more)


@pytest.fixture(scope="module")
def engine() -> SpeechEngine:
    return get_engine(Settings(MENTORQ_ENV="test"))


def run(clip: Clip, engine: SpeechEngine) -> Transcript:
    return transcribe(clip.data(), engine=engine, max_seconds=600, on_progress=lambda done, total: None)


def heard(transcript: Transcript) -> str:
    return " ".join(segment.text for segment in transcript.segments)


@pytest.mark.parametrize("clip", CLIPS, ids=[clip.name for clip in CLIPS])
def test_the_platform_hears_a_real_voice_as_well_as_the_engine_alone(
    clip: Clip, engine: SpeechEngine
) -> None:
    alone = real_speech.engine_alone(clip.samples())
    platform = heard(run(clip, engine))
    alone_wer = real_speech.wer(clip.reference, alone)
    platform_wer = real_speech.wer(clip.reference, platform)
    assert platform_wer <= AIM.get(clip.name, AIM_OTHERWISE), f"{platform_wer} {platform!r}"
    # One-sided, as the aim is (WITHIN above): the platform must not hear worse, and may hear better.
    # In one CI run the engine alone, given the bare clip, dropped a sentence's first word ("And",
    # 0.091) that the platform, which pads each stretch with half a second of silence, kept (0.045).
    assert platform_wer <= alone_wer + WITHIN, f"{platform_wer} {platform!r}, alone {alone_wer} {alone!r}"


def test_the_engine_hears_a_stretch_the_same_whatever_it_heard_before() -> None:
    """One engine hears A, then B, then A again (both orders); another hears B first."""
    one = WhisperEngine(Settings(MENTORQ_ENV="test"))
    speech_first = one.recognize(SPEECH.samples())
    sentence_after = one.recognize(SENTENCE.samples())
    speech_after = one.recognize(SPEECH.samples())
    sentence_first = WhisperEngine(Settings(MENTORQ_ENV="test")).recognize(SENTENCE.samples())
    assert speech_first.words and sentence_first.words  # something heard: the comparison means something
    assert speech_after == speech_first, (speech_first.text, speech_after.text)
    assert sentence_after == sentence_first, (sentence_first.text, sentence_after.text)


def test_the_pipeline_transcribes_a_file_the_same_whatever_it_transcribed_before() -> None:
    one = WhisperEngine(Settings(MENTORQ_ENV="test"))
    speech_first = run(SPEECH, one).segments
    sentence_after = run(SENTENCE, one).segments
    speech_after = run(SPEECH, one).segments
    sentence_first = run(SENTENCE, WhisperEngine(Settings(MENTORQ_ENV="test"))).segments
    assert speech_first and sentence_first
    assert speech_after == speech_first, (speech_first, speech_after)
    assert sentence_after == sentence_first, (sentence_first, sentence_after)


def test_every_kept_clip_is_there_with_its_source_and_licence_in_the_notice() -> None:
    notice = (real_speech.DATA / "NOTICE.md").read_text()
    for clip in CLIPS:
        repository, path, commit = clip.source.replace(" @ ", " ").split()
        assert (real_speech.DATA / clip.file).is_file()
        assert clip.file in notice and repository in notice and path.rsplit("/", 1)[-1] in notice
        assert commit in notice and clip.licence.split(" (")[0] in notice.lower()
        assert 2 < clip.seconds() < 15
