"""Speakers in subtitles (core/recordings.py writes them, workers/documents/formats_transcript.py
reads them back): pure functions, no stack."""

from __future__ import annotations

from core.recordings import TranscriptSegment, split_speaker, to_srt, to_vtt
from workers.documents.formats_transcript import parse_srt, parse_vtt

SEGMENTS = [
    TranscriptSegment(0.5, 2.0, "Does reading help?", speaker="S1"),
    TranscriptSegment(2.4, 4.0, "A little, <but> testing & more", speaker="S2"),
    TranscriptSegment(4.5, 5.0, "no speaker known"),
]


def test_webvtt_writes_voice_spans_and_reads_them_back() -> None:
    vtt = to_vtt(SEGMENTS)
    assert "<v S1>Does reading help?</v>" in vtt
    assert "<v S2>A little, &lt;but&gt; testing &amp; more</v>" in vtt
    assert "\nno speaker known\n" in vtt
    cues = parse_vtt(vtt.encode()).sections
    assert [cue.speaker for cue in cues] == ["S1", "S2", None]
    assert cues[1].text == "S2: A little, <but> testing & more"  # the name stays searchable
    assert (cues[0].start_s, cues[0].end_s) == (0.5, 2.0)


def test_srt_writes_a_name_prefix_and_reads_it_back() -> None:
    srt = to_srt(SEGMENTS)
    assert "S1: Does reading help?" in srt and "\nno speaker known\n" in srt
    assert [cue.speaker for cue in parse_srt(srt.encode()).sections] == ["S1", "S2", None]


def test_speaker_forms_of_other_subtitle_files() -> None:
    assert split_speaker("Ana: Hi there") == ("Ana", "Hi there")
    assert split_speaker(">> DR. LEE: Welcome back") == ("DR. LEE", "Welcome back")
    assert split_speaker("[Prof Smith] So today") == ("Prof Smith", "So today")
    assert split_speaker("note: see above") == (None, "note: see above")
    assert split_speaker("[laughs] yes") == (None, "[laughs] yes")
    assert split_speaker("At 10:30 we start") == (None, "At 10:30 we start")
    assert split_speaker("Plain text") == (None, "Plain text")
    vtt = b"WEBVTT\n\n00:01.000 --> 00:02.000\n<v.loud Mary Jones>Hello</v>\n"
    assert parse_vtt(vtt).sections[0].speaker == "Mary Jones"


def test_a_segment_keeps_its_speaker_through_json() -> None:
    for segment in SEGMENTS:
        assert TranscriptSegment.from_json(segment.as_json()) == segment
    assert "speaker" not in SEGMENTS[2].as_json()
