"""A recording's audio as 16 kHz mono 16-bit samples, decoded a piece at a time through FFmpeg's
libraries (PyAV: its wheel carries them, so no system package is needed).

The decoded audio is never held whole: `pcm_pieces` yields it as FFmpeg's frames come (a tenth of
a second or so each). What the file says about itself is checked before decoding: a file with no
audio stream is `no_audio_track`; one whose header claims more than the limit is
`recording_too_long` at once; one whose header does not say (or lies) is stopped as soon as
the decoded audio passes the limit. Anything FFmpeg cannot read is `corrupt_recording`: a header
FFmpeg rejects, an audio stream in no codec it can decode (a WAV that says 0 bits per sample), a
stream that holds no samples (an empty data chunk). Tags in another encoding than UTF-8 (Latin-1
in a RIFF INFO or ID3 tag) are read with replacement characters: the audio is not at fault.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.documents.errors import DocumentError

# PyAV is imported where a recording is read, not with this module: every worker imports the ingest
# task and through it this module (for SAMPLE_RATE, often), and most never decode a recording.
if TYPE_CHECKING:
    import av

SAMPLE_RATE = 16_000  # what both engines and the VAD take


@dataclass(frozen=True)
class RecordingInfo:
    container: str  # FFmpeg's name for it: "wav", "ogg", "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", ...
    audio_codec: str
    claimed_seconds: float | None  # what the header says, if it says
    has_video: bool


def _open(data: bytes) -> av.container.InputContainer:
    import av

    try:
        # The tags are never used here; undecodable ones are no reason to refuse the audio.
        return av.open(io.BytesIO(data), mode="r", metadata_errors="replace")
    except av.FFmpegError as error:
        raise DocumentError("corrupt_recording", f"the recording cannot be read: {error}") from None


def _claimed_seconds(container: av.container.InputContainer, stream: av.audio.AudioStream) -> float | None:
    import av

    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def probe(data: bytes, *, max_seconds: float) -> RecordingInfo:
    """What the recording says about itself, refused when it has no audio or claims too much."""
    with _open(data) as container:
        return _checked_info(container, max_seconds=max_seconds)


def _checked_info(container: av.container.InputContainer, *, max_seconds: float) -> RecordingInfo:
    if not container.streams.audio:
        what = "a video without an audio track" if container.streams.video else "no audio stream"
        raise DocumentError("no_audio_track", f"the recording has {what}")
    stream = container.streams.audio[0]
    if stream.codec_context is None:  # FFmpeg found no decoder for what the header names
        raise DocumentError(
            "corrupt_recording", "the recording's audio is in no codec that can be decoded (a broken header?)"
        )
    claimed = _claimed_seconds(container, stream)
    if claimed is not None and claimed > max_seconds:
        message = f"the recording says it lasts {claimed:.0f} s; the limit is {max_seconds:.0f} s"
        raise DocumentError("recording_too_long", message)
    return RecordingInfo(
        container=container.format.name,
        audio_codec=stream.codec_context.name,
        claimed_seconds=claimed,
        has_video=bool(container.streams.video),
    )


def pcm_pieces(data: bytes, *, max_seconds: float) -> Iterator[np.ndarray]:
    """The first audio stream, resampled to 16 kHz mono int16, one piece per decoded frame."""
    import av

    with _open(data) as container:
        _checked_info(container, max_seconds=max_seconds)
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        limit = int(max_seconds * SAMPLE_RATE)
        decoded = 0
        try:
            for frame in container.decode(stream):
                for piece in resampler.resample(frame):
                    samples = piece.to_ndarray().reshape(-1)
                    decoded += len(samples)
                    if decoded > limit:
                        message = f"the recording runs past the limit of {max_seconds:.0f} s"
                        raise DocumentError("recording_too_long", message)
                    yield samples
            for piece in resampler.resample(None):
                decoded += piece.samples
                yield piece.to_ndarray().reshape(-1)
        except av.FFmpegError as error:
            if decoded == 0:
                raise DocumentError(
                    "corrupt_recording", f"the recording cannot be decoded: {error}"
                ) from None
            # A damaged tail: what decoded so far is kept (FFmpeg already skips bad packets).
            return
        if decoded == 0:
            raise DocumentError("corrupt_recording", "the recording's audio stream holds no samples")
