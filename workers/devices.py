"""Where the in-process torch models run (the embedding model, the voice encoder, pyannote), and how
large the embedding model's passes are there.

MENTORQ_DEVICE is `auto` (CUDA when torch sees a GPU, else the CPU), `cpu`, `cuda` or `cuda:N`. A
worker told `cuda` on a host where torch sees none stops at start (workers/signals.py): an embed
lane quietly running on the GPU host's CPU is 29 times slower than the GPU it reserved (issue 52).

Pass sizes, measured: on a CPU small passes waste less on padding (encode() pads each pass to its
longest text: one document's 68 chunks embedded 90 chunks/s in passes of 16 and 62/s in one pass of
128, on 2 cores); on an H100, all-MiniLM-L6-v2 in fp16 embedded 927 chunks/s in passes of 16, 2,996
in passes of 256 and 3,004 in passes of 1,024. An embed job on a GPU therefore gathers chunks across
documents into calls of two passes (tasks/ingest/task.py); on a CPU it embeds its own document's.
The GPU's sizes are the best of issue 63's sweep through the lane's own code (H100, 4,084 chunks):
passes of 256 in calls of 512 ran 2,181 chunks/s, passes of 1,024 in calls of 2,048 ran 3,191
(raw sentence-transformers' best: 4,503 at batch 512); a call sorts only its own texts by length,
so a larger call pads less.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

CPU = "cpu"
CUDA = "cuda"


class DeviceUnavailable(RuntimeError):
    """The configured device is not on this host (`cuda` where torch sees no GPU)."""


@dataclass(frozen=True)
class EmbedPasses:
    """How the embedding model is fed on one device: texts per forward pass, texts per call, and
    whether an embed job fills a call with other documents' pending chunks (tasks/ingest/task.py).

    Only a GPU gathers: it embeds one document's 68 chunks at a fraction of its rate in calls of
    hundreds. A CPU gains nothing from larger calls, and the query that gathers costs PostgreSQL
    time the index inserts need: on 2 cores, with an encoder that costs nothing, the platform ran
    at 0.70 of a bare COPY gathering and 0.88 without (benchmarks.ingestion)."""

    texts_per_pass: int
    texts_per_call: int
    gathers: bool = False


_PASSES = {
    CPU: EmbedPasses(texts_per_pass=16, texts_per_call=128, gathers=False),
    CUDA: EmbedPasses(texts_per_pass=1024, texts_per_call=2048, gathers=True),
}


def resolve_device(requested: str | None) -> str:
    """The torch device to load models on: `cpu`, or `cuda`/`cuda:N` when torch sees that GPU.

    `auto` (or nothing) picks CUDA when there is one; an explicit `cuda` without one raises
    DeviceUnavailable with what torch reports, never a silent fall back to the CPU."""
    wanted = (requested or "auto").strip().lower()
    if wanted == CPU:
        return CPU
    if wanted == "auto":
        return "cuda:0" if cuda_device_count() else CPU
    if wanted != CUDA and not wanted.startswith(f"{CUDA}:"):
        raise DeviceUnavailable(f"unknown device {requested!r}: use auto, cpu, cuda or cuda:N")
    index = 0 if wanted == CUDA else _index(wanted, requested)
    count = cuda_device_count()
    if count == 0:
        raise DeviceUnavailable(f"the device is {requested!r} but {_why_no_cuda()}")
    if index >= count:
        raise DeviceUnavailable(f"the device is {requested!r} but torch sees {count} GPU(s), numbered from 0")
    return f"{CUDA}:{index}"


def is_cuda(device: str) -> bool:
    return device.startswith(CUDA)


def embed_passes(device: str, *, pass_size: int = 0) -> EmbedPasses:
    """The embedding model's feeding on `device`; `pass_size` (MENTORQ_EMBED_PASS_SIZE) overrides
    the texts per pass, and a call then holds at least one pass."""
    passes = _PASSES[CUDA if is_cuda(device) else CPU]
    if pass_size > 0:
        return EmbedPasses(pass_size, max(pass_size, passes.texts_per_call), passes.gathers)
    return passes


def describe(device: str) -> str:
    """What admins read (/v1/admin/health, the console): `cpu`, or `cuda:0 (NVIDIA H100 80GB HBM3)`."""
    if not is_cuda(device):
        return CPU
    import torch

    return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"


# A GPU torch can use shows as one of these (NVIDIA's driver; AMD's, for torch's ROCm build).
GPU_DEVICE_NODES = ("/dev/nvidiactl", "/dev/kfd")


@functools.cache
def cuda_device_count() -> int:
    """GPUs torch sees in this process (0 without torch, or with a CPU-only build of it, or on a
    host without a GPU's device node: there torch is not even imported, 2.3 s of a core that a
    worker of the CPU's embedding runtime does not otherwise need). Cached: the answer does not
    change while the process lives, and asking initialises CUDA once."""
    if not any(os.path.exists(node) for node in GPU_DEVICE_NODES):
        return 0
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _why_no_cuda() -> str:
    try:
        import torch
    except ImportError:
        return "torch is not installed on this host"
    if not torch.version.cuda:
        return (
            f"this torch ({torch.__version__}) is a CPU-only build: the worker image needs a CUDA "
            "build (docs/production/gpu.md)"
        )
    return (
        f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no GPU: check the driver with "
        "`nvidia-smi` (docs/production/gpu.md)"
    )


def _index(wanted: str, requested: str | None) -> int:
    try:
        return int(wanted.split(":", 1)[1])
    except ValueError:
        raise DeviceUnavailable(f"unknown device {requested!r}: use auto, cpu, cuda or cuda:N") from None
