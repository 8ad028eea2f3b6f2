"""Conversations with known turns, spoken by Debian's espeak-ng in several voices, for the
diarization tests and benchmarks.diarization. Each turn's reference time is where its voice is
heard (the synthesiser's leading and trailing silence trimmed off)."""

from __future__ import annotations

import functools
import io
import subprocess
import wave
from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, fftconvolve, resample_poly, sosfilt

SAMPLE_RATE = 16_000

# espeak-ng voice (language + variant) and pitch (0-99): apart in sex, pitch and accent.
VOICES: dict[str, tuple[str, int]] = {
    "ann": ("en-us+f4", 70),
    "bob": ("en-gb-scotland+m3", 30),
    "cal": ("en-us+m7", 55),
    "dee": ("en+f2", 85),
}

LINES = [
    "Today we look at how memory works when you study for an exam.",
    "Does reading my notes again help at all?",
    "A little, but testing yourself helps much more than reading.",
    "So I should close the book and try to recall the ideas?",
    "Exactly. Recall is hard work, and that effort is what makes it stick.",
    "How often should I do that before the exam?",
    "Spread it out over several days rather than one long evening.",
    "That sounds like more work, to be honest.",
    "It is the same work, only spaced. The total time stays about the same.",
    "What about flash cards, are they any good?",
    "They are fine, as long as you answer before you turn the card.",
    "And if I get the answer wrong?",
    "Then you have learnt where the gap is, which is useful too.",
    "I had not thought of mistakes as useful.",
    "Most people do not. Let us try a short quiz right now.",
    "All right, I am ready when you are.",
]


@dataclass(frozen=True)
class Turn:
    speaker: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Conversation:
    samples: np.ndarray  # int16, 16 kHz mono
    turns: list[Turn]

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE

    def wav_bytes(self) -> bytes:
        return wav_bytes(self.samples)


@functools.cache
def say(speaker: str, text: str, *, pitch: int | None = None) -> np.ndarray:
    """The text in the speaker's voice (at another pitch if given: a near voice), int16 16 kHz, its
    leading and trailing silence trimmed."""
    voice, own_pitch = VOICES[speaker]
    out = subprocess.run(
        ["espeak-ng", "-v", voice, "-p", str(pitch or own_pitch), "-s", "160", "--stdout", text],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    with wave.open(io.BytesIO(out)) as reader:
        rate = reader.getframerate()
        audio = np.frombuffer(reader.readframes(reader.getnframes()), dtype=np.int16).astype(np.float32)
    audio = resample_poly(audio, SAMPLE_RATE, rate).astype(np.float32)
    loud = np.flatnonzero(np.abs(audio) > 300)
    return np.clip(audio[loud[0] : loud[-1] + 1], -32768, 32767).astype(np.int16)


def conversation(
    script: list[tuple[str, str]], *, gap_s: float = 0.4, lead_s: float = 0.5, seed: int = 0
) -> Conversation:
    """The script's lines one after another, `gap_s` apart (varied by up to ±40 %)."""
    rng = np.random.default_rng(seed)
    pieces = [np.zeros(int(lead_s * SAMPLE_RATE), dtype=np.int16)]
    turns: list[Turn] = []
    at = len(pieces[0])
    for speaker, text in script:
        speech = say(speaker, text)
        turns.append(Turn(speaker, at / SAMPLE_RATE, (at + len(speech)) / SAMPLE_RATE))
        gap = np.zeros(int(gap_s * rng.uniform(0.6, 1.4) * SAMPLE_RATE), dtype=np.int16)
        pieces += [speech, gap]
        at += len(speech) + len(gap)
    pieces.append(np.zeros(int(lead_s * SAMPLE_RATE), dtype=np.int16))
    return Conversation(np.concatenate(pieces), turns)


def dialogue(speakers: list[str], lines: int, *, seed: int = 0, gap_s: float = 0.4) -> Conversation:
    """`lines` of LINES, the speakers taking turns in order (one to several lines each turn)."""
    rng = np.random.default_rng(seed)
    script: list[tuple[str, str]] = []
    who = 0
    while len(script) < lines:
        for _ in range(int(rng.integers(1, 3))):
            if len(script) < lines:
                script.append((speakers[who % len(speakers)], LINES[len(script) % len(LINES)]))
        who += 1
    return conversation(script, gap_s=gap_s, seed=seed)


def seconds_by_label(reference: list[Turn], found: list) -> dict[str, dict[str, float]]:
    """For each reference speaker, how many of their seconds each found label holds (`found`: turns
    with `speaker`, `start_s` and `end_s`, as a diarizer gives them)."""
    held: dict[str, dict[str, float]] = {}
    for truth in reference:
        for turn in found:
            shared = min(truth.end_s, turn.end_s) - max(truth.start_s, turn.start_s)
            if shared > 0:
                row = held.setdefault(truth.speaker, {})
                row[turn.speaker] = row.get(turn.speaker, 0.0) + shared
    return held


def with_question(lecture: np.ndarray, question: np.ndarray, *, at_s: float) -> tuple[np.ndarray, Turn]:
    """Office hours: `question` put into `lecture` at `at_s`, between half-second pauses. The audio,
    and the question's turn (speaker "question")."""
    pause = np.zeros(SAMPLE_RATE // 2, dtype=np.int16)
    cut = int(at_s * SAMPLE_RATE)
    start_s = (cut + len(pause)) / SAMPLE_RATE
    samples = np.concatenate([lecture[:cut], pause, question, pause, lecture[cut:]])
    return samples, Turn("question", start_s, start_s + len(question) / SAMPLE_RATE)


def telephone(samples: np.ndarray, *, snr_db: float = 20.0, seed: int = 0) -> np.ndarray:
    """As heard on a telephone line: 300-3400 Hz at 8 kHz (back at 16 kHz) with white noise."""
    audio = samples.astype(np.float64)
    band = butter(6, [300, 3400], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    audio = resample_poly(resample_poly(sosfilt(band, audio), 1, 2), 2, 1)[: len(samples)]
    speech_power = np.mean(audio[np.abs(audio) > 100] ** 2)
    noise = np.random.default_rng(seed).normal(0, np.sqrt(speech_power / 10 ** (snr_db / 10)), len(audio))
    return np.clip(audio + noise, -32768, 32767).astype(np.int16)


def distant(
    samples: np.ndarray, *, rt60_s: float, direct_to_reverberant_db: float, snr_db: float, seed: int = 0
) -> np.ndarray:
    """As a microphone across a room might hear it: the speech convolved with a room's response (the
    direct sound, then a tail of noise decaying 60 dB in `rt60_s`, holding `direct_to_reverberant_db`
    less energy than the direct sound), at the same loudness, with white noise at `snr_db`. Every
    voice of the recording goes through the same room from the same place: a stand-in for far-field
    audio, not a recording of one (AMI's far-field channels are kept apart, held out)."""
    rng = np.random.default_rng(seed)
    times = np.arange(int(rt60_s * 1.2 * SAMPLE_RATE)) / SAMPLE_RATE
    tail = rng.normal(0, 1, len(times)) * np.exp(-6.9 * times / rt60_s)  # e^-6.9 = -60 dB
    tail[: int(0.003 * SAMPLE_RATE)] = 0  # the first reflections come a few milliseconds late
    response = tail * np.sqrt(10 ** (-direct_to_reverberant_db / 10) / np.sum(tail**2))
    response[0] = 1.0
    audio = samples.astype(np.float64)
    heard = fftconvolve(audio, response)[: len(audio)]
    heard *= np.sqrt(np.mean(audio**2) / max(np.mean(heard**2), 1e-9))
    speech_power = np.mean(heard[np.abs(heard) > 100] ** 2)
    noise = rng.normal(0, np.sqrt(speech_power / 10 ** (snr_db / 10)), len(heard))
    return np.clip(heard + noise, -32768, 32767).astype(np.int16)


def noise_burst(duration_s: float, *, level: float = 6000.0, seed: int = 0) -> np.ndarray:
    """A cough-like burst: band-passed noise with a fast attack and decay."""
    n = int(duration_s * SAMPLE_RATE)
    noise = np.random.default_rng(seed).normal(0, 1, n)
    noise = sosfilt(butter(4, [300, 3000], btype="bandpass", fs=SAMPLE_RATE, output="sos"), noise)
    envelope = np.exp(-np.linspace(0, 6, n)) * np.minimum(1, np.linspace(0, 20, n))
    return np.clip(noise / np.std(noise) * level * envelope, -32768, 32767).astype(np.int16)


def music(duration_s: float) -> np.ndarray:
    """Chords of sine tones with a beat: no voice in it."""
    t = np.arange(int(duration_s * SAMPLE_RATE)) / SAMPLE_RATE
    chords = [(261.6, 329.6, 392.0), (220.0, 261.6, 329.6), (174.6, 220.0, 261.6), (196.0, 246.9, 293.7)]
    audio = np.zeros_like(t)
    for index, chord in enumerate(chords * int(duration_s // 2 + 1)):
        part = (t >= index * 0.5) & (t < (index + 1) * 0.5)
        for hz in chord:
            audio[part] += np.sin(2 * np.pi * hz * t[part]) * np.exp(-3 * (t[part] - index * 0.5))
    return (audio / np.max(np.abs(audio)) * 8000).astype(np.int16)


def wav_bytes(samples: np.ndarray) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes(samples.astype(np.int16).tobytes())
    return out.getvalue()
