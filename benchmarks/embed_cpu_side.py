"""The CPU side of a GPU's embedding passes, measured on a CPU: what sentence-transformers' `encode`
costs around the model (sorting, tokenizing, turning the token lists into tensors, normalizing, the
vectors back to lists), with the model's forward pass and pooling replaced by views of their
outputs' shapes (on a GPU both are the GPU's work).

Why (issue 63, the GPU lane): on a lent H100 the embed lane reached 0.71 of raw sentence-transformers'
rate, and a cProfile of its calls put 1.5 s of 2.5 s in `transformers`' conversion of the tokenizer's
lists to tensors (`convert_to_tensors` -> `flatten`, a Python walk over every padded token), against
0.56 s in the forward passes. That machine's image had its own `transformers`. `flatten` is gone from
the conversion in later releases (`_is_empty` looks at one element). This script runs here under
whichever `transformers` is on the path, so two runs, one per version, show what that walk costs
each feeding:

    .venv/bin/python -m benchmarks.embed_cpu_side                       # the project's transformers
    PYTHONPATH=/tmp/tf500 .venv/bin/python -m benchmarks.embed_cpu_side # e.g. transformers 5.0.0
    # (pip install --no-deps --target /tmp/tf500 transformers==5.0.0 tokenizers==0.22.2
    #  huggingface-hub==1.3.0)

Feedings, each over the same chunks (benchmarks.ingestion's notes, as benchmarks.gpu_embed carries
them):
- raw: one `encode` of every chunk, sorted by length all together, in batches of 512 and 1,024 (the
  raw rate's best batches on the H100);
- the lane, as workers/devices.py feeds a GPU: calls of 2,048 chunks, each sorted only among its
  own texts, in passes of 1,024, and the vectors turned into the lists the worker stores;
- the lane as issue 52 first fed it: calls of 512 in passes of 256.
It prints chunks/s of the CPU side alone and the padded tokens a chunk (each pass is padded to its
longest text). The CPU side's rate is a ceiling on the GPU's rate for that feeding: a GPU that
computes faster than it waits for it. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time
from collections.abc import Callable
from typing import Any

from benchmarks.gpu_embed import CHUNKS, note_chunks

DIMS = 384
REPEATS = 3  # the best of three runs of each feeding (after one warm-up)


def chunks(docs: int) -> list[str]:
    """The chunks benchmarks.gpu_embed carries, or the same notes made here."""
    groups = json.loads(gzip.decompress(CHUNKS.read_bytes())) if CHUNKS.exists() else note_chunks(docs)
    return [text for group in groups[:docs] for text in group]


def model_without_forward(shapes: list[tuple[int, int]]) -> Any:
    """The packaged all-MiniLM-L6-v2 with its transformer's forward and its pooling replaced by ones
    of their outputs' shapes (views, nothing computed: on a GPU both run on the GPU, so here they
    must cost nothing); each pass's (texts, tokens) is appended to `shapes`."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.modeling_outputs import BaseModelOutput

    from core.catalog import packaged_minilm_path

    model = SentenceTransformer(str(packaged_minilm_path()), device="cpu")

    one = torch.ones(1, 1, DIMS)

    def hidden_states(input_ids: Any = None, **kwargs: Any) -> Any:
        shapes.append(tuple(input_ids.shape))
        hidden = one.expand(*input_ids.shape, DIMS)
        return BaseModelOutput(last_hidden_state=hidden) if kwargs.get("return_dict", True) else (hidden,)

    def pooled(features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        features["sentence_embedding"] = one[0].expand(features["input_ids"].shape[0], DIMS)
        return features

    model[0].auto_model.forward = hidden_states
    model[1].forward = pooled
    return model


def encode(model: Any, texts: list[str], batch_size: int) -> Any:
    return model.encode(
        texts,
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )


def raw(model: Any, texts: list[str], batch_size: int) -> Callable[[], None]:
    return lambda: encode(model, texts, batch_size)


def lane(model: Any, texts: list[str], per_call: int, per_pass: int) -> Callable[[], None]:
    """As workers/embeddings/sentence.py embeds a call on a GPU: encode, then float32 lists."""
    calls = [texts[i : i + per_call] for i in range(0, len(texts), per_call)]

    def run() -> None:
        for call in calls:
            encode(model, call, per_pass).astype("float32").tolist()

    return run


def measure(step: Callable[[], None], shapes: list[tuple[int, int]], count: int) -> tuple[float, float]:
    """(chunks/s of the best run, padded tokens a chunk) of `step`, after a warm-up."""
    step()
    best = float("inf")
    for _ in range(REPEATS):
        shapes.clear()
        started = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - started)
    padded = sum(texts * tokens for texts, tokens in shapes)
    return count / best, padded / count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.embed_cpu_side", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--docs", type=int, default=60, help="documents' chunks to feed (default 60)")
    args = parser.parse_args(argv)
    os.environ.setdefault("MENTORQ_ENV", "dev")
    import tokenizers
    import torch
    import transformers

    texts = chunks(args.docs)
    shapes: list[tuple[int, int]] = []
    model = model_without_forward(shapes)
    feedings = {
        "raw, batch 512": raw(model, texts, 512),
        "raw, batch 1,024": raw(model, texts, 1024),
        "the lane: calls of 2,048, passes of 1,024": lane(model, texts, 2048, 1024),
        "the lane as first fed: calls of 512, passes of 256": lane(model, texts, 512, 256),
    }
    print(
        f"{len(texts)} chunks; transformers {transformers.__version__}, tokenizers {tokenizers.__version__}, "
        f"torch {torch.__version__}; the forward pass and the pooling replaced by views"
    )
    rows = {name: measure(step, shapes, len(texts)) for name, step in feedings.items()}
    width = max(map(len, rows))
    print(f"{'feeding':<{width}}  {'CPU side, chunks/s':>18}  {'padded tokens a chunk':>21}")
    for name, (rate, padded) in rows.items():
        print(f"{name:<{width}}  {rate:>18,.0f}  {padded:>21.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
