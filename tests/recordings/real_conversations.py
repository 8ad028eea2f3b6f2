"""Real conversations with reference speaker turns, kept for the diarization test and
benchmarks.diarization (tests/recordings/data/; sources, commits and licences in NOTICE.md there).

- `recordings()`: three excerpts of AMI meetings that pyannote.audio keeps in its repository. The
  embedded diarizer's MERGE_DISTANCE and MIN_SPEAKER_S were tuned on them: they are development
  material, not a held-out check.
- `more_recordings()` (issue 53): a real two-person sales call (gong-io/gecko's demo, its first
  270 s), cut into three 90 s windows, each also as heard through a telephone band; and a fourth
  AMI meeting (EN2002a, far-field, four people, heavy overlap). Only the call's first window is
  development material (`held_out=False`); nothing is tuned on the others.

Each recording is a FLAC or MP3 file beside an RTTM file of the same stem."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from scipy.optimize import linear_sum_assignment

from tests.recordings.conversations import Turn, telephone
from workers.recordings.decode import SAMPLE_RATE, pcm_pieces
from workers.recordings.diarization import KnownVoice

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class RealConversation:
    name: str  # the FLAC and RTTM files' stem, unless `stem` says otherwise
    what: str
    # Reference speakers heard for less than this many seconds in all (a "mm-hmm"): the embedded
    # diarizer drops voices under MIN_SPEAKER_S by design, so they are counted apart.
    minor_below_s: float = 2.0
    kind: str = "meeting"  # meeting, call, lecture
    stem: str | None = None  # the files, when several windows share them
    suffix: str = "flac"
    start_s: float = 0.0  # the window of the file this recording is
    end_s: float | None = None
    telephone: bool = False  # heard through a telephone band (300-3400 Hz at 8 kHz, noise at 20 dB)
    held_out: bool = False  # never looked at while choosing the diarizer's settings

    def samples(self) -> np.ndarray:
        """The recording as the platform decodes it: 16 kHz mono int16."""
        data = (DATA / f"{self.stem or self.name}.{self.suffix}").read_bytes()
        samples = np.concatenate(list(pcm_pieces(data, max_seconds=600)))
        end = None if self.end_s is None else int(self.end_s * SAMPLE_RATE)
        samples = samples[int(self.start_s * SAMPLE_RATE) : end]
        return telephone(samples) if self.telephone else samples

    def turns(self) -> list[Turn]:
        """The reference turns (overlapping where two speak at once), from the RTTM file, within the
        window and timed from its start."""
        turns = read_rttm((DATA / f"{self.stem or self.name}.rttm").read_text())
        end = math.inf if self.end_s is None else self.end_s
        return [
            Turn(
                turn.speaker,
                max(turn.start_s, self.start_s) - self.start_s,
                min(turn.end_s, end) - self.start_s,
            )
            for turn in turns
            if turn.end_s > self.start_s and turn.start_s < end
        ]

    def speakers(self) -> dict[str, float]:
        """Each reference speaker's seconds of speech."""
        seconds: dict[str, float] = {}
        for turn in self.turns():
            seconds[turn.speaker] = seconds.get(turn.speaker, 0.0) + turn.end_s - turn.start_s
        return seconds

    def main_speakers(self) -> list[str]:
        """The reference speakers heard for at least `minor_below_s` in all."""
        return sorted(name for name, seconds in self.speakers().items() if seconds >= self.minor_below_s)


def read_rttm(text: str) -> list[Turn]:
    """SPEAKER lines of an RTTM file as turns (onset and duration in fields 4 and 5, name in 8)."""
    turns = []
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "SPEAKER":
            start, duration = float(fields[3]), float(fields[4])
            turns.append(Turn(fields[7], start, start + duration))
    return sorted(turns, key=lambda turn: (turn.start_s, turn.end_s))


class Timed(Protocol):  # a reference turn or a found one: a speaker and a time range
    speaker: str
    start_s: float
    end_s: float


def frame_der(reference: Sequence[Timed], found: Sequence[Timed], *, collar_s: float = 0.25) -> float:
    """The diarization error rate counted over 10 ms frames, as NIST's md-eval counts it (for the
    test, which cannot count on pyannote.metrics, a benchmark extra): frames within `collar_s` of a
    reference boundary are not scored, overlapped speech counts each voice, and the found speakers
    are mapped one to one onto the reference's to agree the most. Over the scored frames: (each
    frame's larger count of reference or found voices, less those found and mapped right) over the
    reference voices. On the benchmark's recordings it agrees with pyannote.metrics to 1e-4."""
    step = 0.01
    frames = math.ceil(max(turn.end_s for turn in [*reference, *found]) / step) + 1

    def activity(turns: Sequence[Timed]) -> np.ndarray:
        names = sorted({turn.speaker for turn in turns})
        active = np.zeros((len(names), frames), dtype=np.int64)
        for turn in turns:
            active[names.index(turn.speaker), round(turn.start_s / step) : round(turn.end_s / step)] = 1
        return active

    scored = np.ones(frames, dtype=bool)
    for turn in reference:
        for edge in (turn.start_s, turn.end_s):
            scored[max(0, round((edge - collar_s) / step)) : round((edge + collar_s) / step)] = False
    truth, hypothesis = activity(reference)[:, scored], activity(found)[:, scored]
    together = truth @ hypothesis.T  # frames each reference speaker shares with each found one
    rows, columns = linear_sum_assignment(-together)
    voices = np.maximum(truth.sum(axis=0), hypothesis.sum(axis=0)).sum()
    return float((voices - together[rows, columns].sum()) / max(truth.sum(), 1))


@functools.cache
def recordings() -> tuple[RealConversation, ...]:
    """The kept real conversations."""
    return (
        RealConversation(
            "pyannote-debug-dev00", "AMI meeting excerpt, two men (headset mix), 30 s, little overlap"
        ),
        RealConversation("pyannote-debug-dev01", "AMI meeting excerpt, the same two men, 30 s"),
        RealConversation(
            "pyannote-seriously-mixture",
            "AMI meeting ES2004 excerpt, four people (two women, two men; one says only 'mm, yeah'), 60 s",
        ),
    )


CALL = "a real two-person sales call (gong-io/gecko's demo: a web call, 16 kHz MP3)"


@functools.cache
def more_recordings() -> tuple[RealConversation, ...]:
    """Issue 53's real material beyond the three tuned-on meetings (see the module's docstring)."""
    windows = [
        RealConversation(
            f"gecko-call-{start}-{start + 90}{'-telephone' if band else ''}",
            f"{CALL}, {start}-{start + 90} s{', through a telephone band' if band else ''}",
            kind="call",
            stem="gecko-call-270s",
            suffix="mp3",
            start_s=float(start),
            end_s=float(start + 90),
            telephone=band,
            held_out=start > 0,
        )
        for start in (0, 90, 180)
        for band in (False, True)
    ]
    meeting = RealConversation(
        "ami-en2002a-30s",
        "AMI meeting EN2002a, its first 30 s (far-field mix, via DiariZen): four people talking "
        "over each other",
        held_out=True,
    )
    return (*windows, meeting)


def alone(recording: RealConversation, speaker: str, *, until_s: float) -> np.ndarray:
    """The recording's samples where `speaker` alone speaks (no one over them) before `until_s`,
    one turn after another: a clip of their voice, as they would record one to enrol it."""
    samples, turns = recording.samples(), recording.turns()
    pieces = []
    for turn in turns:
        if turn.speaker != speaker or turn.start_s >= until_s:
            continue
        others = [
            t for t in turns if t.speaker != speaker and t.start_s < turn.end_s and turn.start_s < t.end_s
        ]
        if not others:
            end = min(turn.end_s, until_s)
            pieces.append(samples[int(turn.start_s * SAMPLE_RATE) : int(end * SAMPLE_RATE)])
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int16)


def enrolled_call_voices(*, telephone: bool) -> list[KnownVoice]:
    """Roger and Virgil as the platform enrols them (voices.clip_voice), each from what they say
    alone in the first 45 s of the call's development window, as recorded or banded (the held-out
    windows are never heard in enrolling); Roger as the host, Virgil as a guest, at the default
    thresholds."""
    from core.settings import Settings
    from tests.recordings.conversations import wav_bytes
    from workers.recordings.voices import clip_voice

    defaults = Settings(MENTORQ_ENV="test")
    window = next(r for r in more_recordings() if not r.held_out and r.telephone == telephone)
    return [
        KnownVoice(
            clip_voice(
                wav_bytes(alone(window, person, until_s=45.0)), max_seconds=120, min_voiced_s=5.0
            ).embedding,
            threshold,
        )
        for person, threshold in (
            ("Roger", defaults.voice_host_threshold),
            ("Virgil", defaults.voice_guest_threshold),
        )
    ]
