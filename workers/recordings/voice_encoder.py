"""Resemblyzer's voice encoder: 1.6 s of speech in, a 256-number voice embedding out.

The `resemblyzer` wheel (Apache-2.0) carries the pretrained weights (`resemblyzer/pretrained.pt`,
a GE2E speaker encoder: three LSTM layers over 40 mel bands, a linear layer, L2-normalised). Its
own Python module is not imported: it needs librosa and webrtcvad at import, and librosa's numba
code took 38 s to compile at the first call here, more than the diarization of ten minutes of
audio. The network (five lines) and its mel front end (a power mel spectrogram, 25 ms windows
every 10 ms, as `librosa.feature.melspectrogram` with Slaney mel bands computes it) are written
here in numpy and torch; the front end agrees with librosa 0.11 to float32 rounding.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from pathlib import Path

import numpy as np

from workers.recordings.decode import SAMPLE_RATE

MEL_BANDS = 40
N_FFT = SAMPLE_RATE * 25 // 1000  # 400 samples: a 25 ms window
HOP = SAMPLE_RATE * 10 // 1000  # 160 samples: a frame every 10 ms
FRAMES_PER_SECOND = SAMPLE_RATE // HOP
WINDOW_FRAMES = 160  # what the encoder was trained on: 1.6 s
EMBEDDING_SIZE = 256
NORM_TARGET_DBFS = -30.0  # Resemblyzer raises quieter audio to this level before embedding it


def weights_path() -> Path | None:
    """Where the `resemblyzer` wheel keeps its weights, found without importing it; None if absent."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    return path if path.is_file() else None


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear to 1 kHz, logarithmic above (librosa's default, htk=False)."""
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / (200.0 / 3)
    log_step = np.log(6.4) / 27.0
    above = hz >= 1000.0
    return np.where(above, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / log_step, mel)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    log_step = np.log(6.4) / 27.0
    return np.where(mel >= 15.0, 1000.0 * np.exp(log_step * (mel - 15.0)), mel * (200.0 / 3))


@functools.cache
def mel_filters() -> np.ndarray:
    """(MEL_BANDS, N_FFT // 2 + 1) triangular filters, area-normalised (Slaney), 0 Hz to Nyquist."""
    fft_hz = np.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    mel_hz = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(SAMPLE_RATE / 2), MEL_BANDS + 2))
    widths = np.diff(mel_hz)
    ramps = mel_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_hz[2:] - mel_hz[:-2]))[:, None]
    return weights.astype(np.float32)


@functools.cache
def _hann() -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)  # periodic


def mel_frames(audio: np.ndarray) -> np.ndarray:
    """(frames, MEL_BANDS) power mel spectrogram of float audio in [-1, 1]: one frame per 10 ms,
    centred (zero-padded by half a window at both ends), as librosa computes it."""
    padded = np.pad(audio.astype(np.float32), N_FFT // 2)
    count = 1 + (len(padded) - N_FFT) // HOP
    if count <= 0:
        return np.zeros((0, MEL_BANDS), dtype=np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:count]
    power = np.abs(np.fft.rfft(frames * _hann(), axis=1)) ** 2
    return (power.astype(np.float32) @ mel_filters().T).astype(np.float32)


def normalised(audio: np.ndarray) -> np.ndarray:
    """int16 samples as floats in [-1, 1], raised (never lowered) to Resemblyzer's -30 dBFS."""
    floats = audio.astype(np.float32) / 32768.0
    rms = float(np.sqrt(np.mean(floats**2))) if len(floats) else 0.0
    if rms <= 1e-6:
        return floats
    gain_db = NORM_TARGET_DBFS - 20 * np.log10(rms)
    return floats * np.float32(10 ** (gain_db / 20)) if gain_db > 0 else floats


class VoiceEncoder:
    """Resemblyzer's network with its bundled weights, on `device` (workers/devices.py). fp32 on a
    GPU too: the network is small, and its voices are compared against thresholds calibrated in
    fp32 (MENTORQ_VOICE_*_THRESHOLD)."""

    def __init__(self, path: Path, device: str = "cpu") -> None:
        import torch
        from torch import nn

        self._torch = torch
        self.device = device
        self.lstm = nn.LSTM(MEL_BANDS, 256, 3, batch_first=True)
        self.linear = nn.Linear(256, EMBEDDING_SIZE)
        state = torch.load(path, map_location="cpu", weights_only=True)["model_state"]
        self.lstm.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("lstm.")})
        self.linear.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("linear.")})
        self.lstm.to(device).eval()
        self.linear.to(device)
        self._lock = threading.Lock()

    def embed(self, windows: np.ndarray) -> np.ndarray:
        """(n, WINDOW_FRAMES, MEL_BANDS) mel windows -> (n, EMBEDDING_SIZE) unit vectors."""
        torch = self._torch
        with self._lock, torch.inference_mode():
            batch = torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32)).to(self.device)
            _, (hidden, _) = self.lstm(batch)
            raw = torch.relu(self.linear(hidden[-1]))
            return (raw / torch.clamp(torch.norm(raw, dim=1, keepdim=True), min=1e-9)).cpu().numpy()


_loaded: dict[tuple[Path, str], VoiceEncoder] = {}
_loading = threading.Lock()


def get_encoder() -> VoiceEncoder:
    """The encoder on MENTORQ_DEVICE, loaded once per process; FileNotFoundError when `resemblyzer`
    is not installed, DeviceUnavailable when the device is a GPU torch does not see."""
    from core.settings import get_settings
    from workers.devices import resolve_device

    path = weights_path()
    if path is None:
        raise FileNotFoundError("resemblyzer's pretrained.pt (pip install --no-deps resemblyzer==0.1.4)")
    device = resolve_device(get_settings().device)
    with _loading:
        if (path, device) not in _loaded:
            _loaded[(path, device)] = VoiceEncoder(path, device)
        return _loaded[(path, device)]
