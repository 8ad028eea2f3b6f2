"""Who speaks when on real meetings (tests/recordings/real_conversations.py: excerpts of the AMI
Meeting Corpus, CC BY 4.0, as pyannote.audio keeps them under MIT; see data/NOTICE.md), through
the real VAD and Resemblyzer's bundled encoder; and the diarizer's memory: what a session keeps
grows by its windows' embeddings only, not by the audio.

The DER bounds are regression guards set from the measurement (benchmarks.diarization, collar
0.25 s either side), not the issue's aim (DER <= 0.20 on clean two-speaker audio), which the
embedded diarizer misses on these recordings: measured DER 0.214 on the louder two-man excerpt,
0.534 on the quiet one (one voice split into four clusters; not tested here, see the docs), 0.274
on the four-person meeting.
"""

from __future__ import annotations

import gc
import tracemalloc
from dataclasses import replace

import pytest

from tests.recordings.conversations import Turn
from tests.recordings.footprint import session_bytes, window_count
from tests.recordings.real_conversations import (
    RealConversation,
    alone,
    enrolled_call_voices,
    frame_der,
    more_recordings,
    recordings,
)
from workers.recordings.diarization import ResemblyzerDiarizer, SpeakerTurn, diarize
from workers.recordings.speech import Speech, speech_segments

# An embedding is 256 float32 (1 KB); its window's time and the voiced runs, as Python objects,
# about 0.25 KB more (measured 1.26 KB a window in all). Holding the 0.5 s of samples each window
# steps over would add 16 KB a window, its mel frames (50 x 40 float32) 8 KB.
KEPT_PER_WINDOW = 2048


def by_name(name: str) -> RealConversation:
    return next(recording for recording in recordings() if recording.name == name)


def stretches_of(recording: RealConversation) -> list[Speech]:
    samples = recording.samples()
    return list(speech_segments(samples[at : at + 1600] for at in range(0, len(samples), 1600)))


def speakers_in(turns: list[SpeakerTurn]) -> set[str]:
    return {turn.speaker for turn in turns}


def test_the_frame_der_counts_confusion_and_misses_outside_the_collar() -> None:
    reference = [Turn("A", 0.0, 10.0), Turn("B", 10.0, 20.0)]
    # 20 s of speech less the collars (0.25 s at 0 and 20, 0.5 s around the change at 10): 19 s scored.
    assert frame_der(reference, [SpeakerTurn("S1", 0.0, 10.1), SpeakerTurn("S2", 10.1, 20.0)]) == 0.0
    # B's first 1.75 s scored as A's voice: confusion.
    assert frame_der(
        reference, [SpeakerTurn("S1", 0.0, 12.0), SpeakerTurn("S2", 12.0, 20.0)]
    ) == pytest.approx(1.75 / 19)
    # B's last 4.75 scored seconds not found at all: missed; a third voice over A's first 2 s: false alarm.
    found = [SpeakerTurn("S1", 0.0, 10.0), SpeakerTurn("S2", 10.0, 15.0), SpeakerTurn("S3", 0.0, 2.0)]
    assert frame_der(reference, found) == pytest.approx((4.75 + 1.75) / 19)
    # Labels are mapped, not matched by name: swapping them changes nothing.
    assert frame_der(reference, [SpeakerTurn("S2", 0.0, 10.0), SpeakerTurn("S1", 10.0, 20.0)]) == 0.0


@pytest.mark.parametrize("name", ["pyannote-debug-dev00", "pyannote-debug-dev01"])
def test_a_real_two_person_meeting_is_two_voices_with_the_der_aimed_at(name: str) -> None:
    recording = by_name(name)
    found = diarize(ResemblyzerDiarizer(), stretches_of(recording))
    # Two men (20.4 s and 8.1 s of speech in dev00, quiet; 10.5 s and 6.3 s in dev01). Before
    # clusters closer than MERGE_DISTANCE were merged (and MIN_SPEAKER_S was 2 s): 5 and 3 labels,
    # DER 0.534 and 0.214, each voice split; now 2 labels, DER 0.169 and 0.115.
    assert len(speakers_in(found)) == 2, found
    assert frame_der(recording.turns(), found) <= 0.20  # issue 44's aim on clean two-speaker audio


def test_a_real_four_person_meeting_finds_its_three_talkers() -> None:
    recording = by_name("pyannote-seriously-mixture")
    found = diarize(ResemblyzerDiarizer(), stretches_of(recording))
    # Four people, but MEE014 only says "mm, yeah" (1.2 s in all, overlapping the others): a voice
    # under MIN_SPEAKER_S is no speaker by design, so three are expected. Measured: 3 labels (5
    # before the merge), DER 0.138 (missed 0.079, mostly the 7.6 s of overlapped speech).
    assert recording.main_speakers() == ["FEE013", "FEE016", "MEO015"]
    assert len(speakers_in(found)) == 3, found
    assert frame_der(recording.turns(), found) <= 0.20


def test_a_session_keeps_embeddings_not_audio_as_minutes_of_speech_go_by() -> None:
    stretches = stretches_of(by_name("pyannote-seriously-mixture"))
    session = ResemblyzerDiarizer().session()

    def minute(index: int) -> None:  # the real minute again, dated `index` minutes later
        for speech in stretches:
            session.add(replace(speech, start_s=speech.start_s + 60 * index, end_s=speech.end_s + 60 * index))

    minute(0)  # the encoder loaded and warm before anything is counted
    gc.collect()
    tracemalloc.start()
    try:
        before, kept_before = tracemalloc.get_traced_memory()[0], session_bytes(session)
        windows_before = window_count(session)
        for index in (1, 2, 3):
            minute(index)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    added = window_count(session) - windows_before
    assert added >= 3 * 100, added  # about two windows a second of speech: the windows were embedded
    # What the session keeps grows by its windows, at no more than an embedding and its times each.
    assert session_bytes(session) - kept_before <= added * KEPT_PER_WINDOW
    # And nothing else in the process holds on to the audio (numpy's buffers are traced).
    assert grown <= added * KEPT_PER_WINDOW + 64 * 1024, grown
    assert speakers_in(session.finish())  # the kept state still diarizes the four minutes


def test_told_how_many_speakers_the_diarizer_gives_that_many_from_the_voices_it_found() -> None:
    """An uploader may say how many people a recording holds (api/documents `speakers`). Told the
    count it finds anyway, nothing changes; told fewer, the closest voices merge; told more, the
    widest voice splits: never a stray window as a "speaker" (what cutting the clustering to a
    count did: DER 0.53 on dev00)."""
    meeting = by_name("pyannote-seriously-mixture")
    stretches = stretches_of(meeting)
    found = diarize(ResemblyzerDiarizer(), stretches)
    assert diarize(ResemblyzerDiarizer(), stretches, speakers=3) == found
    assert len(speakers_in(diarize(ResemblyzerDiarizer(), stretches, speakers=1))) == 1
    four = diarize(ResemblyzerDiarizer(), stretches, speakers=4)
    assert len(speakers_in(four)) == 4, four
    # The split takes a voice apart, it does not invent one: the DER stays near the three's.
    assert frame_der(meeting.turns(), four) <= frame_der(meeting.turns(), found) + 0.15
    quiet = by_name("pyannote-debug-dev00")
    two = diarize(ResemblyzerDiarizer(), stretches_of(quiet), speakers=2)
    assert frame_der(quiet.turns(), two) <= 0.20


@pytest.mark.parametrize("name", ["gecko-call-90-180", "gecko-call-90-180-telephone"])
def test_a_real_call_told_it_holds_two_people_is_two_voices(name: str) -> None:
    """A real two-person call (issue 53; held out: nothing was tuned on it), as recorded and through
    a telephone band. Told nothing, the embedded diarizer heard one voice in the banded copy (DER
    0.258): its count on calls is issue 53's open problem (docs/limits.md). Told two, as an uploader
    may say, it gives two: DER 0.065 and 0.085 measured (benchmarks.diarization --real-only)."""
    recording = next(r for r in more_recordings() if r.name == name)
    assert recording.held_out and recording.main_speakers() == ["Roger", "Virgil"]
    told = diarize(ResemblyzerDiarizer(), stretches_of(recording), speakers=2)
    assert len(speakers_in(told)) == 2, told
    assert frame_der(recording.turns(), told) <= 0.10


def test_a_real_call_whose_two_people_are_enrolled_is_two_voices_untold() -> None:
    """The held-out call window through a telephone band, told nothing: the two voices are closer
    than MERGE_DISTANCE and were found as one (DER 0.258). With Roger and Virgil enrolled from
    another part of the call (the development window), the one voice holds both and is split
    between them: measured DER 0.072 (benchmarks.diarization --real-only)."""
    recording = next(r for r in more_recordings() if r.name == "gecko-call-90-180-telephone")
    assert recording.held_out
    stretches = stretches_of(recording)
    turns = diarize(ResemblyzerDiarizer(), stretches, voices=enrolled_call_voices(telephone=True))
    assert len(speakers_in(turns)) == 2, turns
    assert frame_der(recording.turns(), turns) <= 0.10


@pytest.mark.parametrize("telephone", [False, True])
def test_enrolled_voices_split_no_one_person_and_change_no_meeting_they_are_not_in(telephone: bool) -> None:
    """Each of the call's people alone (what they say in the development window), both enrolled:
    one speaker each, not two. And the AMI meetings, which neither voice is in, diarize exactly
    as they do with no one enrolled."""
    voices = enrolled_call_voices(telephone=telephone)
    window = next(r for r in more_recordings() if not r.held_out and r.telephone == telephone)
    for person in ("Roger", "Virgil"):
        samples = alone(window, person, until_s=90.0)
        stretches = list(speech_segments(samples[at : at + 1600] for at in range(0, len(samples), 1600)))
        assert len(speakers_in(diarize(ResemblyzerDiarizer(), stretches, voices=voices))) == 1, person
    for meeting in recordings():
        stretches = stretches_of(meeting)
        assert diarize(ResemblyzerDiarizer(), stretches, voices=voices) == diarize(
            ResemblyzerDiarizer(), stretches
        )
