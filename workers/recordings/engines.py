"""Speech recognition engines behind one interface: a stretch of speech in, its words with times out.

- `pocketsphinx` (the embedded default): CMU PocketSphinx, whose wheel carries a US English
  acoustic model, dictionary and language model, so the demo and the tests transcribe with
  nothing to download (Vosk's, sherpa-onnx's and pywhispercpp's wheels carry no model). Small and
  fast (6-7 s of audio a second on two cores here), and it hears clear
  speech well; accents, noise and vocabulary outside its dictionary cost it dearly.
- `faster-whisper` (production, on the GPU host): Whisper through CTranslate2. The model is named
  (`small`, `large-v3`, ...) or given as a local folder in MENTORQ_ASR_MODEL; its weights are the
  operator's to place, as Ollama's models are: this engine never downloads them
  (`local_files_only`), and `engine_problem` says when they are missing.

The VAD (workers/recordings/speech.py) has already cut the audio into stretches of speech, so an
engine sees at most half a minute at a time; times are seconds from the stretch's start.
"""

from __future__ import annotations

import os
import re
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


# PocketSphinx's markers and fillers, and its alternative pronunciations' suffix: "the(2)".
_NOT_WORDS = re.compile(r"^(?:<s>|</s>|<sil>|\[[A-Za-z_]+\]|\+\+?[A-Za-z_]+\+\+?)$")
_VARIANT = re.compile(r"\(\d+\)$")
_FRAMES_PER_SECOND = 100  # PocketSphinx's default frame rate
_PIECE_SAMPLES = SAMPLE_RATE // 4  # a quarter second of audio per call (see recognize)
# The search of the pass that measures a stretch's cepstral mean: it must search something, and
# one word is the least it can.
_MEAN_PASS = "cepstral-mean"
_ONE_WORD_GRAMMAR = "#JSGF V1.0; grammar mean; public <any> = a;"


class PocketSphinxEngine:
    """PocketSphinx, each stretch decoded as a fresh decoder would decode it, whatever came before.

    PocketSphinx normalises its features by their cepstral mean (CMN). Given a whole utterance at
    once (`full_utt=True`) it takes the mean over that utterance; fed in pieces, it starts from a
    prior mean, moves it only after three seconds, and carries what it learnt into the next
    utterance, as it does its noise estimate. Fed in pieces from that prior, an 11 s real speech
    came out as unrelated words (WER 1.00 against 0.23 as one utterance), and a file's transcript
    depended on what the decoder had heard before. It is fed in pieces all the same (the GIL,
    below), so each stretch starts from a fresh front end (`reinit_feat`: noise estimate and CMN
    as at load) whose CMN starts at the stretch's own mean, measured by a first pass that only
    computes features and searches a one-word grammar (0.4 % of the decoding's CPU,
    benchmarks.transcription).
    """

    name = "pocketsphinx"

    def __init__(self) -> None:
        from pocketsphinx import Decoder

        # The bundled en-us model; no log file of its own (it writes a great deal to stderr).
        self._decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
        self._language_model = self._decoder.current_search()
        self._decoder.add_jsgf_string(_MEAN_PASS, _ONE_WORD_GRAMMAR)
        self._lock = threading.Lock()  # one utterance at a time per decoder

    def recognize(self, samples: np.ndarray) -> Heard:
        audio = samples.astype(np.int16)
        if len(audio) < _PIECE_SAMPLES // 10:  # under 25 ms: not one word
            return Heard("", [], "en")
        with self._lock:
            decoder = self._decoder
            self._start_from(self._cepstral_mean(audio))
            decoder.start_utt()
            # In pieces: PocketSphinx holds the GIL while it decodes, and half a minute in one
            # call starved the job's heartbeat thread for seconds (the reconciler then took the
            # job for lost). Between pieces the other threads run. end_utt's second pass over the
            # stretch (fwdflat) still holds it: through a 30 s stretch a thread waited 2.4 s at
            # most, against 26 s for the stretch in one call (benchmarks.transcription).
            for at in range(0, len(audio), _PIECE_SAMPLES):
                decoder.process_raw(audio[at : at + _PIECE_SAMPLES].tobytes(), full_utt=False)
            decoder.end_utt()
            words = [
                Word(
                    _VARIANT.sub("", segment.word),
                    segment.start_frame / _FRAMES_PER_SECOND,
                    (segment.end_frame + 1) / _FRAMES_PER_SECOND,
                )
                for segment in decoder.seg()
                if not _NOT_WORDS.match(segment.word)
            ]
        return Heard(" ".join(word.text for word in words), words, "en")

    def _cepstral_mean(self, audio: np.ndarray) -> str:
        """The stretch's cepstral mean, as PocketSphinx computes it over a whole utterance."""
        decoder = self._decoder
        decoder.reinit_feat()  # batch CMN again (one call in pieces turns the front end to live CMN)
        decoder.activate_search(_MEAN_PASS)
        decoder.start_utt()
        decoder.process_raw(audio.tobytes(), no_search=True, full_utt=True)  # features only: fast
        mean = decoder.get_cmn()
        decoder.end_utt()  # searches those frames, but for one word: cheap
        decoder.activate_search(self._language_model)
        return mean

    def _start_from(self, mean: str) -> None:
        """A fresh front end (no noise estimate, no CMN history) whose CMN starts at `mean`."""
        self._decoder.reinit_feat()
        self._decoder.set_cmn(mean)


class FasterWhisperEngine:
    name = "faster-whisper"

    def __init__(self, settings: Settings) -> None:
        from faster_whisper import WhisperModel

        self._settings = settings
        self._model = WhisperModel(
            settings.asr_model,
            device=settings.asr_device,
            compute_type=settings.asr_compute_type,
            local_files_only=True,  # the operator places the weights; a worker never downloads them
        )

    def recognize(self, samples: np.ndarray) -> Heard:
        audio = samples.astype(np.float32) / 32768.0
        segments, info = self._model.transcribe(
            audio,
            beam_size=self._settings.asr_beam_size,
            language=self._settings.asr_language,
            word_timestamps=True,
            vad_filter=False,  # the stretch is speech already (workers/recordings/speech.py)
            condition_on_previous_text=False,
        )
        segments = list(segments)  # a generator: the decoding happens here
        words = [
            Word(word.word.strip(), float(word.start), float(word.end))
            for segment in segments
            for word in (segment.words or [])
            if word.word.strip()
        ]
        text = " ".join(segment.text.strip() for segment in segments if segment.text.strip())
        return Heard(text, words, info.language)


def engine_problem(settings: Settings) -> str | None:
    """Why the configured engine cannot run on this host, or None (for /readyz and the console)."""
    if settings.asr_engine == "pocketsphinx":
        try:
            import pocketsphinx  # noqa: F401
        except ImportError:
            return "pocketsphinx is not installed on this host (pip install .[worker])"
        return None
    try:
        from faster_whisper.utils import download_model
    except ImportError:
        return "faster-whisper is not installed on this host (pip install .[whisper])"
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


_loaded: dict[tuple[str, ...], SpeechEngine] = {}
_loading = threading.Lock()


def get_engine(settings: Settings) -> SpeechEngine:
    """The configured engine, loaded once per process (and again if its settings change)."""
    key = (settings.asr_engine, settings.asr_model, settings.asr_device, settings.asr_compute_type)
    with _loading:
        if key not in _loaded:
            _loaded[key] = (
                FasterWhisperEngine(settings)
                if settings.asr_engine == "faster-whisper"
                else PocketSphinxEngine()
            )
        return _loaded[key]
