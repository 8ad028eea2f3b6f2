"""A recording's transcript as stored and served: segments with times, and the same as WebVTT and
SRT files. Shared by the worker that writes it (workers/recordings/) and the API that serves it
(GET /v1/documents/{id}/transcript)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TranscriptSegment:
    start_s: float
    end_s: float
    text: str
    # (word, start_s, end_s), where the engine gives word times.
    words: list[tuple[str, float, float]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "start_s": self.start_s,
            "end_s": self.end_s,
            "text": self.text,
            "words": [{"word": word, "start_s": start, "end_s": end} for word, start, end in self.words],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TranscriptSegment:
        words = [(word["word"], word["start_s"], word["end_s"]) for word in data.get("words") or []]
        return cls(data["start_s"], data["end_s"], data["text"], words)


def clock(seconds: float, *, separator: str = ".") -> str:
    """HH:MM:SS.mmm (WebVTT) or, with separator ",", HH:MM:SS,mmm (SRT)."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _cue_text(text: str) -> str:
    # A blank line would end the cue, and "-->" would read as a timing line.
    return " ".join(text.split()).replace("-->", "->")


def to_vtt(segments: list[TranscriptSegment]) -> str:
    cues = [
        f"{clock(segment.start_s)} --> {clock(segment.end_s)}\n{_cue_text(segment.text)}"
        for segment in segments
    ]
    return "WEBVTT\n\n" + "\n\n".join(cues) + ("\n" if cues else "")


def to_srt(segments: list[TranscriptSegment]) -> str:
    cues = [
        f"{number}\n{clock(segment.start_s, separator=',')} --> {clock(segment.end_s, separator=',')}\n"
        f"{_cue_text(segment.text)}"
        for number, segment in enumerate(segments, start=1)
    ]
    return "\n\n".join(cues) + ("\n" if cues else "")
