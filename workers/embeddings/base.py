"""The embedding provider interface and its result type."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from workers.devices import EmbedPasses


@dataclass
class EmbedResult:
    """Vectors for a batch of texts, in input order; `model` is the name to store with them."""

    model: str
    dim: int
    vectors: list[list[float]]


@runtime_checkable
class EmbeddingProvider(Protocol):
    """What every embedding backend offers to tasks."""

    def embed(self, texts: list[str], *, model: str | None = None) -> EmbedResult:
        """L2-normalized vectors for `texts`."""
        ...

    def feeding(self) -> EmbedPasses:
        """How a caller with many texts should hand them over: texts per call, and whether to fill
        a call with other documents' (workers/devices.py)."""
        ...


def l2_normalize(vector: Sequence[float]) -> list[float]:
    """`vector` scaled to unit length, as plain floats (a zero vector stays zero)."""
    norm = math.sqrt(sum(x * x for x in vector))
    if norm == 0.0:
        return [float(x) for x in vector]
    return [float(x) / norm for x in vector]


def batches(texts: list[str], size: int) -> Iterable[list[str]]:
    """Consecutive slices of at most `size` texts."""
    for start in range(0, len(texts), size):
        yield texts[start : start + size]
