"""Who speaks when (workers/recordings/diarization.py) on conversations with known turns, spoken
by espeak-ng in different voices (tests/recordings/conversations.py): real audio through the real
VAD and Resemblyzer's bundled encoder, nothing mocked."""

from __future__ import annotations

import numpy as np
import pytest

from core.settings import Settings
from tests.recordings import conversations
from tests.recordings.conversations import Conversation
from workers.errors import JobFailure
from workers.recordings import speaker_diarizer
from workers.recordings.diarization import ResemblyzerDiarizer, SpeakerTurn, diarize, diarizer_problem
from workers.recordings.speech import speech_segments

BOUNDARY_TOLERANCE_S = 0.6  # a window every 0.5 s places a change to within about that


def speakers_of(samples: np.ndarray) -> list[SpeakerTurn]:
    pieces = (samples[at : at + 1600] for at in range(0, len(samples), 1600))
    return diarize(ResemblyzerDiarizer(), speech_segments(pieces))


def changes(turns) -> list[float]:  # noqa: ANN001 - reference or found turns
    """Where the speaker changes: the middle of the gap between two speakers' turns."""
    return [(a.end_s + b.start_s) / 2 for a, b in zip(turns, turns[1:]) if a.speaker != b.speaker]


def assert_matches(found: list[SpeakerTurn], reference: Conversation) -> None:
    names = {turn.speaker for turn in reference.turns}
    assert len({turn.speaker for turn in found}) == len(names), found
    # S1, S2, ... in order of first speech.
    first_seen = list(dict.fromkeys(turn.speaker for turn in found))
    assert first_seen == [f"S{n}" for n in range(1, len(names) + 1)]
    expected = changes(reference.turns)
    got = changes(found)
    assert len(got) == len(expected), (got, expected)
    assert max(abs(a - b) for a, b in zip(got, expected)) <= BOUNDARY_TOLERANCE_S, (got, expected)
    # The same person is the same label throughout.
    label_of: dict[str, str] = {}
    for turn in reference.turns:
        middle = (turn.start_s + turn.end_s) / 2
        label = next(f.speaker for f in found if f.start_s <= middle <= f.end_s)
        assert label_of.setdefault(turn.speaker, label) == label, (turn, found)


def test_two_voices_are_two_speakers_with_their_turns() -> None:
    conversation = conversations.dialogue(["ann", "bob"], 8, seed=1)
    assert_matches(speakers_of(conversation.samples), conversation)


def test_three_voices_are_three_speakers_with_their_turns() -> None:
    conversation = conversations.dialogue(["ann", "bob", "cal"], 10, seed=1)
    assert_matches(speakers_of(conversation.samples), conversation)


def test_one_voice_with_a_cough_and_a_noise_burst_is_one_speaker() -> None:
    monologue = conversations.conversation([("cal", line) for line in conversations.LINES[:6]], seed=2)
    samples = monologue.samples.copy()
    for at_s, seed in ((monologue.turns[1].end_s + 0.05, 1), (monologue.turns[3].start_s + 1.0, 2)):
        burst = conversations.noise_burst(0.35, seed=seed)
        at = int(at_s * conversations.SAMPLE_RATE)
        samples[at : at + len(burst)] = np.clip(
            samples[at : at + len(burst)].astype(np.int32) + burst, -32768, 32767
        )
    found = speakers_of(samples)
    assert {turn.speaker for turn in found} == {"S1"}, found
    assert found[0].start_s < 1.0 and found[-1].end_s > monologue.turns[-1].end_s - 0.5


def test_music_and_silence_have_no_speakers() -> None:
    assert speakers_of(conversations.music(12.0)) == []
    assert speakers_of(np.zeros(10 * conversations.SAMPLE_RATE, dtype=np.int16)) == []


def test_pyannote_without_its_pipeline_is_a_clear_retryable_failure(tmp_path) -> None:  # noqa: ANN001
    unset = Settings(MENTORQ_ENV="test", MENTORQ_DIARIZATION_ENGINE="pyannote")
    assert "MENTORQ_DIARIZATION_MODEL is not set" in diarizer_problem(unset)
    missing = Settings(
        MENTORQ_ENV="test", MENTORQ_DIARIZATION_ENGINE="pyannote", MENTORQ_DIARIZATION_MODEL=str(tmp_path)
    )
    assert f"{tmp_path}/config.yaml is not on this host" in diarizer_problem(missing)
    with pytest.raises(JobFailure) as failure:
        speaker_diarizer(missing)
    assert failure.value.code == "diarizer_unavailable" and failure.value.retryable
    assert str(tmp_path) in failure.value.message
    assert diarizer_problem(Settings(MENTORQ_ENV="test")) is None  # campplus (the default): bundled
    assert speaker_diarizer(Settings(MENTORQ_ENV="test", MENTORQ_DIARIZATION_ENGINE="off")) is None
