"""Where people speak in a recording: Silero VAD (its model ships inside the `silero-vad` wheel)
run over the audio as it is decoded, yielding each stretch of speech with its samples.

Only speech, and the short pauses within it, reaches the recognizer: long silences and music cost
nothing there, and a recording with no speech at all is known as such. A stretch runs on across
pauses shorter than `JOIN_PAUSE_S` (up to `max_segment_s`), so the recognizer hears a sentence
whole with its context, as it would the whole file: cut at each pause, JFK's 11 s sentence reached
PocketSphinx as four phrases and came out with a WER of 0.36 against 0.23 whole (its normalisation
over two seconds of audio, its language model with no phrase before). Memory stays bounded: the
audio kept is the open stretch (at most `max_segment_s`; a longer one ends at its last pause, or
is cut there when it has none) and a second before it.

The model is the `silero-vad` wheel's ONNX file, run by onnxruntime and checked against its pinned
sha256 before it is loaded (`vad_weights`; a transcribe worker checks it at start, as it does
Whisper's and the diarizer's files): a missing or altered file is a clear error, never a download.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workers.recordings.decode import SAMPLE_RATE
from workers.recordings.whisper_weights import check_pinned, package_path

VAD_WHEEL = "silero-vad==6.2.3"
VAD_FILE = "data/silero_vad.onnx"
# The file as that wheel installs it (NOTICE.md); Silero's repository keeps the same model at
# src/silero_vad/data/silero_vad.onnx.
VAD_SHA256 = "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"

WINDOW = 512  # the samples Silero VAD takes at a time at 16 kHz (32 ms)
THRESHOLD = 0.5
MIN_SILENCE_MS = 400  # a pause shorter than this is not a pause to the VAD
# Silence kept on either side of speech: at 100 ms PocketSphinx lost quiet first and last words
# (WER 0.25 against its own 0.12 on a 3 s LibriVox sentence); at 300 ms it hears its own words.
SPEECH_PAD_MS = 300
JOIN_PAUSE_S = 2.0  # a pause shorter than this does not end a stretch
MAX_SEGMENT_S = 30.0
_KEPT_BEFORE = SAMPLE_RATE  # samples kept before the open stretch: the VAD dates a start back a little


@dataclass(frozen=True)
class Speech:
    start_s: float
    end_s: float
    samples: np.ndarray  # int16, 16 kHz mono


def vad_weights() -> Path:
    """The speech detector's ONNX file once its sha256 is the pinned one; WeightsUnavailable naming
    the file, both hashes and the wheel to reinstall otherwise (a checked file is remembered)."""
    path = package_path("silero_vad") / VAD_FILE
    check_pinned(path, VAD_SHA256, what="Silero VAD's model", source=VAD_WHEEL, reinstall=VAD_WHEEL)
    return path


@functools.cache
def _model():  # noqa: ANN202 - silero's own type
    path = vad_weights()
    import torch

    threads = torch.get_num_threads()
    from silero_vad.utils_vad import OnnxWrapper  # importing silero_vad sets torch to one thread

    torch.set_num_threads(threads)
    # The ONNX file of the model, run by onnxruntime (faster-whisper's dependency, pinned with it):
    # half the CPU of the TorchScript one over the real recordings kept in the tests (4.5 s against
    # 9.2 s for 733 s of audio, one 32 ms window a call), the very same stretches in each. Loaded
    # from the checked path, as load_silero_vad(onnx=True) would load it from the package.
    return OnnxWrapper(str(path), force_onnx_cpu=True)


class _Stretches:
    """The VAD's start and end events turned into stretches of samples, joined across short pauses."""

    def __init__(self, max_segment_s: float):
        model = _model()  # first: it undoes what importing silero_vad does to torch's threads
        from silero_vad import VADIterator

        model.reset_states()
        self.vad = VADIterator(
            model,
            threshold=THRESHOLD,
            sampling_rate=SAMPLE_RATE,
            min_silence_duration_ms=MIN_SILENCE_MS,
            speech_pad_ms=SPEECH_PAD_MS,
        )
        self.max_samples = int(max_segment_s * SAMPLE_RATE)
        self.join_samples = int(JOIN_PAUSE_S * SAMPLE_RATE)
        self.kept: list[np.ndarray] = []  # the windows from sample `kept_from` on
        self.kept_from = 0
        self.heard = 0  # samples fed so far
        self.start: int | None = None  # the open stretch's first sample
        self.speaking_from: int | None = None  # where the speech going on now began (None: a pause)
        self.spoke_until: int | None = None  # where the open stretch's last finished speech ended

    def feed(self, window: np.ndarray) -> Iterator[Speech]:
        import torch

        self.kept.append(window)
        self.heard += len(window)
        event = self.vad(torch.from_numpy(window.astype(np.float32) / 32768.0))
        if event and "start" in event and self.speaking_from is None:
            self.speaking_from = max(event["start"], self.kept_from)
            self.start = self.speaking_from if self.start is None else self.start
        elif event and "end" in event and self.speaking_from is not None:
            self.spoke_until, self.speaking_from = min(event["end"], self.heard), None
        yield from self._cut_when_due()
        self._forget_before(self.start if self.start is not None else self.heard - _KEPT_BEFORE)

    def _cut_when_due(self) -> Iterator[Speech]:
        if self.start is None:
            return
        in_pause = self.speaking_from is None and self.spoke_until is not None
        if in_pause and self.heard - self.spoke_until >= self.join_samples:
            yield self._cut(self.spoke_until)  # a long pause: the stretch ended where speech did
            self.start = self.spoke_until = None
        elif self.heard - self.start >= self.max_samples:
            if in_pause:
                yield self._cut(self.spoke_until)
                self.start = self.spoke_until = None
            elif self.spoke_until is not None:  # at its last pause; what is said now goes on next
                yield self._cut(self.spoke_until)
                self.start, self.spoke_until = max(self.speaking_from, self.spoke_until), None
            else:  # one breath longer than the longest stretch: cut here, and go on
                yield self._cut(self.heard)
                self.start = self.speaking_from = self.heard

    def finish(self) -> Iterator[Speech]:
        if self.start is not None:
            end = self.heard if self.speaking_from is not None else self.spoke_until
            if end is not None and end > self.start:
                yield self._cut(end)
        self.start = self.speaking_from = self.spoke_until = None

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
