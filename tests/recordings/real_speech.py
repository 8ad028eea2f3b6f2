"""Real human speech kept for the tests and the benchmark (tests/recordings/data/: JFK's inaugural
address, two LibriVox sentences, and the real call's three 90 s windows, each also through a
telephone band; sources, commits and licences in NOTICE.md there): the clips and windows with their
reference transcripts, Whisper alone on the whole audio as the platform's yardstick, and the word
error rate as both count it."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import jiwer
import numpy as np

from workers.recordings.decode import SAMPLE_RATE, pcm_pieces

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Clip:
    file: str
    speaker: str
    reference: str
    source: str
    licence: str

    @property
    def name(self) -> str:
        return self.file.removesuffix(".flac")

    def data(self) -> bytes:
        return (DATA / self.file).read_bytes()

    def samples(self) -> np.ndarray:
        """The clip as the platform decodes it: 16 kHz mono int16."""
        return np.concatenate(list(pcm_pieces(self.data(), max_seconds=600)))

    def seconds(self) -> float:
        return len(self.samples()) / SAMPLE_RATE


@functools.cache
def clips() -> tuple[Clip, ...]:
    """The kept clips, as tests/recordings/data/clips.json lists them."""
    return tuple(Clip(**entry) for entry in json.loads((DATA / "clips.json").read_text()))


def words(text: str) -> str:
    """Lower case, no punctuation: what a word error rate compares."""
    return jiwer.RemovePunctuation()(text.lower()).strip()


def wer(reference: str | list[str], heard: str | list[str]) -> float:
    """The word error rate of `heard` against `reference` (texts paired one by one, if lists)."""
    if isinstance(reference, str):
        return round(jiwer.wer(words(reference), words(heard)), 3)
    return round(jiwer.wer([words(text) for text in reference], [words(text) for text in heard]), 3)


@dataclass(frozen=True)
class CallWindow:
    """One 90 s window of the real call (tests/recordings/real_conversations.py), its reference the
    words of Gong's transcript whose middle falls in it. That transcript is the call's own, made by
    Gong's recognizer and not corrected by hand (NOTICE.md): a few of its words are wrong, so a WER
    against it is an upper bound."""

    name: str
    start_s: float
    end_s: float
    telephone: bool
    held_out: bool

    @property
    def reference(self) -> str:
        return " ".join(
            word
            for start, end, _, word in json.loads((DATA / "gecko-call-270s.words.json").read_text())
            if self.start_s <= (start + end) / 2 < self.end_s
        )

    def samples(self) -> np.ndarray:
        from tests.recordings.real_conversations import more_recordings

        return next(r for r in more_recordings() if r.name == self.name).samples()

    def data(self) -> bytes:
        from tests.recordings.conversations import wav_bytes

        return wav_bytes(self.samples())

    def seconds(self) -> float:
        return self.end_s - self.start_s


@functools.cache
def call_windows() -> tuple[CallWindow, ...]:
    """The real call's windows as recorded and through a telephone band; the first (0-90 s) is the
    development window, the others held out (real_conversations.more_recordings)."""
    from tests.recordings.real_conversations import more_recordings

    return tuple(
        CallWindow(r.name, r.start_s, r.end_s or 0.0, r.telephone, r.held_out)
        for r in more_recordings()
        if r.kind == "call"
    )


def whisper_model():  # noqa: ANN201 - faster-whisper's own type
    """The platform's engine's loaded model (the bundled tiny.en, as the defaults say)."""
    from core.settings import Settings
    from workers.recordings.engines import get_engine

    return get_engine(Settings(MENTORQ_ENV="test"))._model  # noqa: SLF001 - the same model, used alone


def engine_alone(samples: np.ndarray, model=None) -> str:  # noqa: ANN001 - faster-whisper's own type
    """What Whisper itself hears in the audio: faster-whisper (the bundled tiny.en unless `model`)
    given the whole recording at once, its own 30 s windows and their context, no VAD of ours, at
    the platform's beam size."""
    segments, _ = (model or whisper_model()).transcribe(
        samples.astype(np.float32) / 32768.0, beam_size=5, language="en", vad_filter=False
    )
    return " ".join(segment.text.strip() for segment in segments)
