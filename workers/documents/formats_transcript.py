"""SRT and WebVTT transcripts: one section per cue, with its start and end in seconds."""

from __future__ import annotations

import html
import re

from core.documents.errors import DocumentError
from core.recordings import speaker_label, split_speaker
from workers.documents.model import ParsedDocument, Section, clean_text, decode_text

# HH:MM:SS,mmm in SRT, [HH:]MM:SS.mmm in WebVTT; both separators are accepted in both.
_TIMESTAMP = re.compile(r"^(?:(\d{1,3}):)?(\d{1,2}):(\d{1,2})[,.](\d{1,3})$")
_TIMING = re.compile(r"^\s*(\S+)\s*-->\s*(\S+)(?:\s+(.*))?$")
_BLOCK_SEPARATOR = re.compile(r"\n[ \t]*\n+")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]{1,100})>", re.I)  # a longer "name" names nobody
_TAG = re.compile(r"</?[^>\n]*>")
_ASS_OVERRIDE = re.compile(r"\{\\[^}]*\}")  # {\an8} and friends, common in SRT files
_WEBVTT_HEADER = re.compile(r"^WEBVTT(?:[ \t](.*))?$")


def parse_srt(data: bytes, *, charset: str | None = None) -> ParsedDocument:
    """SRT: index line (optional), timing line, text lines; a block without timing continues the last cue."""
    text = clean_text(decode_text(data, declared=charset))
    cues: list[Section] = []
    for number, block in enumerate(_blocks(text), start=1):
        lines = block.split("\n")
        timing_at = _timing_line_index(lines)
        if timing_at is None:
            if cues and not lines[0].strip().isdigit():
                # A blank line inside a cue's text: the block belongs to the cue before it.
                cues[-1].text = f"{cues[-1].text} {_cue_text(lines)}".strip()
                continue
            message = f"SRT block {number} has no timing line: {lines[0][:60]!r}"
            raise DocumentError("corrupt_document", message)
        _add_cue(cues, lines, timing_at, where=f"SRT block {number}")
    return _transcript("srt", cues, metadata={})


def parse_vtt(data: bytes, *, charset: str | None = None) -> ParsedDocument:
    """WebVTT: skips the header, NOTE, STYLE and REGION blocks; cue settings are ignored."""
    text = clean_text(decode_text(data, declared=charset))
    blocks = _blocks(text)
    header = _WEBVTT_HEADER.match(blocks[0].split("\n", 1)[0]) if blocks else None
    if header is None:
        raise DocumentError("corrupt_document", "a WebVTT file must start with the line 'WEBVTT'")
    metadata: dict[str, object] = {}
    if header.group(1):
        metadata["header"] = header.group(1).strip()
    header_lines = blocks[0].split("\n")
    for index, line in enumerate(header_lines[1:], start=1):
        if "-->" in line:  # no blank line after the header: the first cue starts here
            blocks[0:1] = ["\n".join(header_lines[index:])]
            break
    else:
        blocks = blocks[1:]
    cues: list[Section] = []
    for number, block in enumerate(blocks, start=2):
        lines = block.split("\n")
        first = lines[0].strip()
        if first.split(" ", 1)[0].split("\t", 1)[0] in ("NOTE", "STYLE", "REGION"):
            continue
        timing_at = _timing_line_index(lines)
        if timing_at is None:
            continue  # the WebVTT parser skips blocks that are not cues
        _add_cue(cues, lines, timing_at, where=f"WebVTT block {number}")
    return _transcript("vtt", cues, metadata=metadata)


def _blocks(text: str) -> list[str]:
    return [block for block in _BLOCK_SEPARATOR.split(text.strip()) if block.strip()]


def _timing_line_index(lines: list[str]) -> int | None:
    """0 or 1: where the "-->" line is (after an optional cue identifier), else None."""
    for index in (0, 1):
        if index < len(lines) and "-->" in lines[index]:
            return index
    return None


def _add_cue(cues: list[Section], lines: list[str], timing_at: int, *, where: str) -> None:
    match = _TIMING.match(lines[timing_at])
    if match is None:
        raise DocumentError("corrupt_document", f"{where}: malformed timing line {lines[timing_at][:80]!r}")
    start, end = _seconds(match.group(1), where), _seconds(match.group(2), where)
    if end < start:
        raise DocumentError("corrupt_document", f"{where}: the cue ends ({end}s) before it starts ({start}s)")
    text = _cue_text(lines[timing_at + 1 :])
    if text:
        voice = _VOICE.search(" ".join(lines[timing_at + 1 :]))
        speaker = speaker_label(voice.group(1)) if voice else split_speaker(text)[0]
        cues.append(Section(text=text, heading_path=[], start_s=start, end_s=end, speaker=speaker))


def _seconds(stamp: str, where: str) -> float:
    match = _TIMESTAMP.match(stamp)
    if match is None:
        raise DocumentError("corrupt_document", f"{where}: malformed timestamp {stamp[:40]!r}")
    hours, minutes, seconds, fraction = match.groups()
    if int(minutes) >= 60 or int(seconds) >= 60:
        raise DocumentError("corrupt_document", f"{where}: timestamp out of range {stamp!r}")
    millis = int(fraction.ljust(3, "0"))
    return round(int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + millis / 1000, 3)


def _cue_text(lines: list[str]) -> str:
    """A cue's lines as one line of text, markup removed: "<v Ana>Hi" reads "Ana: Hi" (the cue's
    speaker is Ana too: the name stays in the text, where search finds it)."""
    text = " ".join(line.strip() for line in lines if line.strip())
    text = _VOICE.sub(lambda m: f"{m.group(1).strip()}: ", text)
    text = _ASS_OVERRIDE.sub("", _TAG.sub("", text))
    return " ".join(html.unescape(text).split())


def _transcript(fmt: str, cues: list[Section], *, metadata: dict[str, object]) -> ParsedDocument:
    if cues:
        metadata["cues"] = len(cues)
        metadata["duration_s"] = max(cue.end_s or 0.0 for cue in cues)
    return ParsedDocument(format=fmt, title=None, sections=cues, metadata=metadata)
