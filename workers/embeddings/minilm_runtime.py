"""all-MiniLM-L6-v2 on a CPU through ONNX Runtime: sentence-transformers' encode() for the packaged
model (its tokenizer, the 256 tokens it keeps, mean pooling over the real tokens, unit length), on
the file minilm_export.py made. The libraries import in 0.3 s, against 10-11 s for
sentence-transformers and torch; the vectors are sentence-transformers' to within 3e-7
(tests/workers/test_minilm_runtime.py)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from core.catalog import packaged_minilm_path
from workers.devices import CPU


class OnnxMiniLM:
    """Loaded once per process; `encode` as SentenceTransformer.encode(normalize_embeddings=True)."""

    device = CPU

    def __init__(self, exported: Path, folder: Path | None = None) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        from workers.embeddings.minilm_export import INPUTS, packaged_pipeline

        folder = folder or packaged_minilm_path()
        max_tokens, _ = packaged_pipeline(folder)
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_tokens)  # longest first, as sentence-transformers
        pad = self._tokenizer.token_to_id("[PAD]")
        self._tokenizer.enable_padding(pad_id=pad, pad_token="[PAD]")  # to each pass's longest
        self._inputs = INPUTS
        options = onnxruntime.SessionOptions()
        # A thread a core, as torch used. Idle threads sleep (ONNX Runtime spins them by default):
        # spinning bought no speed here (15.8 against 15.7 passages/s on 2 cores) and would hold a
        # core the API and PostgreSQL share between passes.
        options.intra_op_num_threads = len(os.sched_getaffinity(0))
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            str(exported), options, providers=["CPUExecutionProvider"]
        )

    def encode(self, texts: list[str], *, batch_size: int, **_: object) -> np.ndarray:
        """Unit vectors for `texts`, in order, computed in passes of `batch_size` texts taken longest
        first (each pass is padded to its longest text: sorted, it pads little)."""
        order = sorted(range(len(texts)), key=lambda index: -len(texts[index]))
        vectors = np.empty((len(texts), 0), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            taken = order[start : start + batch_size]
            computed = self._pass([texts[index] for index in taken])
            if vectors.shape[1] == 0:
                vectors = np.empty((len(texts), computed.shape[1]), dtype=np.float32)
            vectors[taken] = computed
        return vectors

    def _pass(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        feed = {
            "input_ids": np.array([encoding.ids for encoding in encodings], dtype=np.int64),
            "attention_mask": np.array([encoding.attention_mask for encoding in encodings], dtype=np.int64),
            "token_type_ids": np.array([encoding.type_ids for encoding in encodings], dtype=np.int64),
        }
        (hidden,) = self._session.run(None, {name: feed[name] for name in self._inputs})
        mask = feed["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
