"""A recording's transcript as stored and served: segments with times, and the same as WebVTT and
SRT files. Shared by the worker that writes it (workers/recordings/) and the API that serves it
(GET /v1/documents/{id}/transcript)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import Field, StrictInt, StringConstraints

# A speaker as a request names one (a search's or a question's `speakers`, a rename): a transcript's
# label (S1) or a name; one line, and nothing that would end a WebVTT voice tag or an SRT name.
SPEAKER_NAME_CHARS = 100
# The number of speakers an uploader may give for a recording (a class is more, but then nobody
# counts), and where a document's metadata keeps it for the transcribe stage.
MAX_SPEAKERS = 20
SPEAKERS_KEY = "speakers"


# A JSON integer only: `true` read as 1 before. A form's field is text, checked as digits and turned
# into one by its route (api/documents/routes.py).
SpeakerCount = Annotated[StrictInt, Field(ge=1, le=MAX_SPEAKERS)]
_NOT_IN_A_NAME = r"<>:\x00-\x1f\x7f"
SpeakerName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=SPEAKER_NAME_CHARS, pattern=rf"^[^{_NOT_IN_A_NAME}]+$"
    ),
]
_NOT_IN_A_NAME_RUN = re.compile(rf"[{_NOT_IN_A_NAME}]+")


def speaker_label(raw: str | None) -> str | None:
    """A name as a file gives it (a WebVTT voice tag, a subtitle's "Ana:"), made one a request can
    name back (SpeakerName): what would end a voice tag or an SRT name becomes a space, runs of
    space one, and at most SPEAKER_NAME_CHARS are kept; None when nothing is left."""
    if raw is None:
        return None
    name = " ".join(_NOT_IN_A_NAME_RUN.sub(" ", raw).split())[:SPEAKER_NAME_CHARS].strip()
    return name or None


@dataclass(frozen=True)
class TranscriptSegment:
    start_s: float
    end_s: float
    text: str
    # (word, start_s, end_s), where the engine gives word times.
    words: list[tuple[str, float, float]] = field(default_factory=list)
    speaker: str | None = None  # S1, S2, ... (diarization) or a name; None: not known

    def as_json(self) -> dict[str, Any]:
        data = {
            "start_s": self.start_s,
            "end_s": self.end_s,
            "text": self.text,
            "words": [{"word": word, "start_s": start, "end_s": end} for word, start, end in self.words],
        }
        if self.speaker is not None:
            data["speaker"] = self.speaker
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TranscriptSegment:
        words = [(word["word"], word["start_s"], word["end_s"]) for word in data.get("words") or []]
        return cls(data["start_s"], data["end_s"], data["text"], words, data.get("speaker"))


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


def _speaker_name(speaker: str) -> str:
    # One line, and nothing that would end the voice tag or read as a name's end in SRT.
    return " ".join(speaker.replace(">", " ").replace("<", " ").replace(":", " ").split())


def _vtt_text(segment: TranscriptSegment) -> str:
    text = _cue_text(segment.text)
    if not segment.speaker or not _speaker_name(segment.speaker):
        return text
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<v {_speaker_name(segment.speaker)}>{escaped}</v>"


def _srt_text(segment: TranscriptSegment) -> str:
    text = _cue_text(segment.text)
    name = _speaker_name(segment.speaker or "")
    return f"{name}: {text}" if name else text


def to_vtt(segments: list[TranscriptSegment]) -> str:
    """WebVTT; a cue with a speaker is a voice span, `<v S1>...</v>`."""
    cues = [
        f"{clock(segment.start_s)} --> {clock(segment.end_s)}\n{_vtt_text(segment)}" for segment in segments
    ]
    return "WEBVTT\n\n" + "\n\n".join(cues) + ("\n" if cues else "")


def to_srt(segments: list[TranscriptSegment]) -> str:
    """SRT; a cue with a speaker starts with its name, `S1: ...`."""
    cues = [
        f"{number}\n{clock(segment.start_s, separator=',')} --> {clock(segment.end_s, separator=',')}\n"
        f"{_srt_text(segment)}"
        for number, segment in enumerate(segments, start=1)
    ]
    return "\n\n".join(cues) + ("\n" if cues else "")


# How subtitle files name who speaks at the start of a cue's text: "NAME: ", ">> NAME: " (TV
# captions) or "[NAME] ". A name is one to four words, at most 40 characters, capitalised (a name,
# S1): "note: see above" and "[laughs] yes" stay text.
_NAMED = re.compile(
    r"^(?:>>\s*)?(?:\[(?P<bracket>[^\]\n]{1,40})\]|"
    r"(?P<colon>[^\W\d][\w.'\-]*(?:\s[\w.'\-]+){0,3}):)\s+(?P<text>\S.*)$",
    re.S,
)


def split_speaker(text: str) -> tuple[str | None, str]:
    """The speaker a subtitle's text names at its start, and the text without it: "Ana: Hi" ->
    ("Ana", "Hi"); ">> ANA: Hi" and "[Ana] Hi" alike; (None, text) when it names nobody."""
    match = _NAMED.match(text.strip())
    name = (match.group("bracket") or match.group("colon")).strip() if match else ""
    if not name or not name[0].isupper():
        return None, text
    return speaker_label(name), match.group("text").strip()
