"""Real human speech (tests/recordings/data/, sources and licences in NOTICE.md there): the platform
(decode, Silero VAD, the engine adapter) hears each kept clip as well as PocketSphinx itself does on
the same audio, and a file's transcript does not depend on what the engine transcribed before.

Both failed before the adapter measured each stretch's cepstral mean and reset its front end: JFK's
sentence came out as unrelated words (WER 1.00 against the engine's 0.23), and a LibriVox sentence
differently after another one ("how much there might be prickly" became "our watch there might be
pretty late")."""

from __future__ import annotations

import pytest

from tests.recordings import real_speech
from tests.recordings.real_speech import Clip
from workers.recordings.engines import PocketSphinxEngine
from workers.recordings.pipeline import Transcript, transcribe

pytestmark = pytest.mark.slow

# The platform's word error rate may exceed the engine's own by this much (the aim of issue 42).
WITHIN = 0.05
CLIPS = real_speech.clips()
SPEECH, SENTENCE = CLIPS[1], CLIPS[2]  # two LibriVox sentences, 7 s and 3 s (JFK's 11 s cost more)


@pytest.fixture(scope="module")
def engine() -> PocketSphinxEngine:
    return PocketSphinxEngine()


def run(clip: Clip, engine: PocketSphinxEngine) -> Transcript:
    return transcribe(clip.data(), engine=engine, max_seconds=600, on_progress=lambda done, total: None)


def heard(transcript: Transcript) -> str:
    return " ".join(segment.text for segment in transcript.segments)


@pytest.mark.parametrize("clip", CLIPS, ids=[clip.name for clip in CLIPS])
def test_the_platform_hears_a_real_voice_as_well_as_the_engine_alone(
    clip: Clip, engine: PocketSphinxEngine
) -> None:
    alone = real_speech.engine_alone(clip.samples())
    platform = heard(run(clip, engine))
    alone_wer = real_speech.wer(clip.reference, alone)
    platform_wer = real_speech.wer(clip.reference, platform)
    assert platform_wer <= alone_wer + WITHIN, f"{platform_wer} {platform!r}, alone {alone_wer} {alone!r}"


def test_the_engine_hears_a_stretch_the_same_whatever_it_heard_before() -> None:
    """One engine hears A, then B, then A again (both orders); another hears B first."""
    one = PocketSphinxEngine()
    speech_first = one.recognize(SPEECH.samples())
    sentence_after = one.recognize(SENTENCE.samples())
    speech_after = one.recognize(SPEECH.samples())
    sentence_first = PocketSphinxEngine().recognize(SENTENCE.samples())
    assert speech_first.words and sentence_first.words  # something heard: the comparison means something
    assert speech_after == speech_first, (speech_first.text, speech_after.text)
    assert sentence_after == sentence_first, (sentence_first.text, sentence_after.text)


def test_the_pipeline_transcribes_a_file_the_same_whatever_it_transcribed_before() -> None:
    one = PocketSphinxEngine()
    speech_first = run(SPEECH, one).segments
    sentence_after = run(SENTENCE, one).segments
    speech_after = run(SPEECH, one).segments
    sentence_first = run(SENTENCE, PocketSphinxEngine()).segments
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
