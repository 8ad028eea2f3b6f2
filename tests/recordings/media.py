"""Recordings for the tests, made here with FFmpeg's encoders (PyAV) from the bundled lecture
(samples/knowledge/lecture-testing-effect.ogg, spoken by Flite), so no media file but that one is
kept in the repository."""

from __future__ import annotations

import functools
import io
import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "knowledge" / "lecture-testing-effect.ogg"
# What the sample says (samples/knowledge/make_recording.py).
SAMPLE_TEXT = (
    "Welcome to the lecture on the testing effect. When you test yourself, you remember more than "
    "when you read your notes again. In one study, students who took a practice test remembered "
    "about half of the material a week later, while students who only reread it remembered much "
    "less. So close your notes, and try to recall the main ideas from memory."
)

# name -> (FFmpeg container, audio codec, sample rate, with a video track)
FORMATS: dict[str, tuple[str, str, int, bool]] = {
    "wav": ("wav", "pcm_s16le", 16_000, False),
    "flac": ("flac", "flac", 16_000, False),
    "mp3": ("mp3", "libmp3lame", 22_050, False),
    "m4a": ("ipod", "aac", 22_050, False),
    "opus": ("ogg", "libopus", 48_000, False),
    "webm": ("webm", "libopus", 48_000, True),
    "mp4": ("mp4", "aac", 22_050, True),
    "mkv": ("matroska", "libmp3lame", 22_050, True),
}


def sample_bytes() -> bytes:
    return SAMPLE.read_bytes()


@functools.cache
def sample_pcm() -> np.ndarray:
    """The sample's audio: mono int16 at 16 kHz."""
    with av.open(str(SAMPLE)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=16_000)
        pieces = [
            p.to_ndarray().reshape(-1) for f in container.decode(audio=0) for p in resampler.resample(f)
        ]
    return np.concatenate(pieces)


def encode(pcm: np.ndarray, name: str, *, bit_rate: int | None = None) -> bytes:
    """16 kHz mono int16 samples in one of FORMATS (a video track of grey frames where it has one)."""
    container_name, codec, rate, with_video = FORMATS[name]
    out_buffer = io.BytesIO()
    with av.open(out_buffer, "w", format=container_name) as out:
        audio = out.add_stream(codec, rate=rate, layout="mono")
        if bit_rate:
            audio.bit_rate = bit_rate
        video = _video_stream(out) if with_video else None
        resampler = av.AudioResampler(format=audio.codec_context.format.name, layout="mono", rate=rate)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 16_000
        for piece in [*resampler.resample(frame), *resampler.resample(None)]:
            out.mux(audio.encode(piece))
        out.mux(audio.encode(None))
        if video is not None:
            _grey_frames(out, video, seconds=len(pcm) / 16_000)
    return out_buffer.getvalue()


def _video_stream(out: av.container.OutputContainer) -> av.video.VideoStream:
    codec = "libvpx" if out.format.name == "webm" else "mpeg4"
    video = out.add_stream(codec, rate=5)
    video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
    return video


def _grey_frames(out: av.container.OutputContainer, video: av.video.VideoStream, *, seconds: float) -> None:
    for index in range(max(1, int(seconds * 5))):
        frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 128, dtype=np.uint8), format="rgb24")
        frame.pts, frame.time_base = index, Fraction(1, 5)
        out.mux(video.encode(frame))
    out.mux(video.encode(None))


def video_without_audio(seconds: float = 2.0) -> bytes:
    out_buffer = io.BytesIO()
    with av.open(out_buffer, "w", format="mp4") as out:
        _grey_frames(out, _video_stream(out), seconds=seconds)
    return out_buffer.getvalue()


def wav(pcm: np.ndarray) -> bytes:
    """A 16 kHz mono 16-bit WAV."""
    return wav_with(pcm.astype("<i2").tobytes())


def wav_with(
    data: bytes,
    *,
    format_tag: int = 1,
    channels: int = 1,
    sample_rate: int = 16_000,
    bits: int = 16,
    data_size: int | None = None,
    riff_size: int | None = None,
    extra_chunks: bytes = b"",
) -> bytes:
    """A WAV whose header says what it is told to (a broken one, for the decoder's faults): `fmt `
    with those fields, then `extra_chunks`, then `data` (its size as `data_size` says)."""
    block_align = channels * ((bits + 7) // 8)
    byte_rate = sample_rate * block_align
    fmt = struct.pack("<HHIIHH", format_tag, channels, sample_rate, byte_rate, block_align, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra_chunks
    body += b"data" + struct.pack("<I", len(data) if data_size is None else data_size) + data
    return b"RIFF" + struct.pack("<I", len(body) if riff_size is None else riff_size) + body


def flac_claiming(pcm: np.ndarray, seconds: float) -> bytes:
    """A FLAC file whose STREAMINFO header says it holds `seconds` of audio, whatever it holds.
    (FFmpeg measures a WAV by its size, so a WAV cannot lie about its length; FLAC's header can.)"""
    data = bytearray(encode(pcm, "flac"))
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0, "STREAMINFO comes first"
    # STREAMINFO's bytes 10-17: sample rate (20 bits), channels (3), bits per sample (5), total samples (36).
    packed = int.from_bytes(data[18:26], "big")
    packed = (packed & ~((1 << 36) - 1)) | int(seconds * 16_000)
    data[18:26] = packed.to_bytes(8, "big")
    return bytes(data)


def silence(seconds: float) -> np.ndarray:
    """Near silence: a faint hiss, as a quiet room records (digital zeros are too easy)."""
    rng = np.random.default_rng(7)
    return (rng.normal(0, 30, int(seconds * 16_000))).astype(np.int16)
