"""A speaker's name is one a request can name back: voice profiles refuse what would end a WebVTT
voice tag or an SRT name (`:`, `<`, `>`, a line break), and names a file gives are made such
names, so that a rename or a search's `speakers` never answers 422 for a name the platform made
(issue 51, finding 8)."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from core.recordings import SpeakerName, speaker_label, split_speaker
from tasks.voice_enrol.spec import VoiceEnrolInput
from workers.documents.formats_transcript import parse_srt, parse_vtt

SPEAKER = TypeAdapter(SpeakerName)
CLIP = {"filename": "a.wav", "content_type": "audio/wav", "bytes": 10}


@pytest.mark.parametrize("name", ["Dr: Lee", "Ana <b>", "Ana > Ben", "Ana\nLee", "Ana\x00", "S2"])
def test_a_voice_profile_refuses_a_name_a_transcript_could_not_carry(name: str) -> None:
    with pytest.raises(ValidationError):
        VoiceEnrolInput(name=name, role="host", clips=[CLIP])


def test_a_plain_name_is_a_voice_profiles_name() -> None:
    assert (
        VoiceEnrolInput(name="  Dr. Ana Lee-Smith ", role="guest", clips=[CLIP]).name == "Dr. Ana Lee-Smith"
    )


@pytest.mark.parametrize(
    ("cue", "speaker"),
    [
        ("<v Dr: Who>Hello there", "Dr Who"),
        ("<v Ana<i>Lee>Hello there", "Ana i"),  # the tag ends at the first ">"
        ("<v.loud Ana\x01Lee>Hello there", "AnaLee"),  # control characters never reach a name
    ],
)
def test_a_webvtt_voice_tag_becomes_a_name_a_request_can_use(cue: str, speaker: str) -> None:
    parsed = parse_vtt(f"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n{cue}\n".encode())
    (section,) = parsed.sections
    assert section.speaker == speaker
    assert SPEAKER.validate_python(section.speaker) == speaker


def test_a_voice_tag_of_nothing_but_separators_names_nobody() -> None:
    assert speaker_label(":::<<") is None and speaker_label(None) is None
    assert speaker_label("x" * 300) == "x" * 100


def test_an_srt_name_is_one_too() -> None:
    parsed = parse_srt(b"1\n00:00:01,000 --> 00:00:02,000\nAna Lee: Hello there\n")
    (section,) = parsed.sections
    assert section.speaker == "Ana Lee" and SPEAKER.validate_python(section.speaker)
    assert split_speaker("Ana: hi") == ("Ana", "hi")
