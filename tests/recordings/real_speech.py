"""Real human speech kept for the tests and the benchmark (tests/recordings/data/: JFK's inaugural
address and two LibriVox sentences; sources, commits and licences in NOTICE.md there): the clips
with their reference transcripts, PocketSphinx alone on a clip as the platform's yardstick, and the
word error rate as both count it."""

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


def engine_alone(samples: np.ndarray) -> str:
    """What PocketSphinx itself hears in the audio: a decoder of its own, the whole clip as one
    utterance (`full_utt=True`: its feature normalisation over the whole of it), nothing cut."""
    from pocketsphinx import Decoder

    decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
    decoder.start_utt()
    decoder.process_raw(samples.astype(np.int16).tobytes(), full_utt=True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    return hypothesis.hypstr if hypothesis is not None else ""
