"""Where people speak in a recording: Silero VAD (its model ships inside the `silero-vad` wheel)
run over the audio as it is decoded, yielding each stretch of speech with its samples.

Only speech reaches the recognizer: silence and music cost nothing there, and a recording with no
speech at all is known as such. Memory stays bounded: the audio kept is the open stretch (at most
`max_segment_s`; a longer one is cut there and goes on as the next) and a second before it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from workers.recordings.decode import SAMPLE_RATE

WINDOW = 512  # the samples Silero VAD takes at a time at 16 kHz (32 ms)
THRESHOLD = 0.5
MIN_SILENCE_MS = 400  # a pause shorter than this does not end a stretch of speech
SPEECH_PAD_MS = 100
MAX_SEGMENT_S = 30.0
_KEPT_BEFORE = SAMPLE_RATE  # samples kept before the open stretch: the VAD dates a start back a little


@dataclass(frozen=True)
class Speech:
    start_s: float
    end_s: float
    samples: np.ndarray  # int16, 16 kHz mono


@functools.cache
def _model():  # noqa: ANN202 - silero's own type
    import torch

    threads = torch.get_num_threads()
    from silero_vad import load_silero_vad  # importing it sets torch to one thread for the process

    torch.set_num_threads(threads)
    return load_silero_vad()


class _Stretches:
    """The VAD's start and end events turned into stretches of samples."""

    def __init__(self, max_segment_s: float):
        from silero_vad import VADIterator

        model = _model()
        model.reset_states()
        self.vad = VADIterator(
            model,
            threshold=THRESHOLD,
            sampling_rate=SAMPLE_RATE,
            min_silence_duration_ms=MIN_SILENCE_MS,
            speech_pad_ms=SPEECH_PAD_MS,
        )
        self.max_samples = int(max_segment_s * SAMPLE_RATE)
        self.kept: list[np.ndarray] = []  # the windows from sample `kept_from` on
        self.kept_from = 0
        self.heard = 0  # samples fed so far
        self.start: int | None = None  # the open stretch's first sample

    def feed(self, window: np.ndarray) -> Iterator[Speech]:
        import torch

        self.kept.append(window)
        self.heard += len(window)
        event = self.vad(torch.from_numpy(window.astype(np.float32) / 32768.0))
        if event and "start" in event and self.start is None:
            self.start = max(event["start"], self.kept_from)
        elif event and "end" in event and self.start is not None:
            yield self._cut(min(event["end"], self.heard))
            self.start = None
        elif self.start is not None and self.heard - self.start >= self.max_samples:
            yield self._cut(self.heard)
            self.start = self.heard  # still speaking: the next stretch starts here
        self._forget_before(self.start if self.start is not None else self.heard - _KEPT_BEFORE)

    def finish(self) -> Iterator[Speech]:
        if self.start is not None and self.heard > self.start:
            yield self._cut(self.heard)
        self.start = None

    def _cut(self, end: int) -> Speech:
        assert self.start is not None
        audio = np.concatenate(self.kept)
        samples = audio[self.start - self.kept_from : end - self.kept_from].copy()
        return Speech(self.start / SAMPLE_RATE, end / SAMPLE_RATE, samples)

    def _forget_before(self, sample: int) -> None:
        """Drop whole windows that end before `sample`."""
        while self.kept and self.kept_from + len(self.kept[0]) <= sample:
            self.kept_from += len(self.kept.pop(0))


def speech_segments(
    pieces: Iterable[np.ndarray], *, max_segment_s: float = MAX_SEGMENT_S
) -> Iterator[Speech]:
    """Each stretch of speech in the audio, in order, as soon as it ends."""
    stretches = _Stretches(max_segment_s)
    pending = np.empty(0, dtype=np.int16)
    for piece in pieces:
        pending = np.concatenate([pending, piece]) if len(pending) else piece
        whole = len(pending) - len(pending) % WINDOW
        for at in range(0, whole, WINDOW):
            yield from stretches.feed(pending[at : at + WINDOW])
        pending = pending[whole:]
    if len(pending):
        yield from stretches.feed(np.pad(pending, (0, WINDOW - len(pending))))
    yield from stretches.finish()
