"""What a diarization session keeps between stretches, measured by size: the bounded-memory check
of the test (tests/recordings/test_real_diarization.py) and benchmarks.diarization."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np


def kept_bytes(state: Any) -> int:
    """The bytes an object's data holds: numpy arrays by their buffers, lists, tuples, dicts and
    numbers by their own size and their items'. Anything else (a loaded model, a lock) counts 0:
    a session borrows those, it does not grow them."""
    if isinstance(state, np.ndarray):
        return state.nbytes + sys.getsizeof(np.empty(0))
    if isinstance(state, list | tuple | set):
        return sys.getsizeof(state) + sum(kept_bytes(item) for item in state)
    if isinstance(state, dict):
        return sys.getsizeof(state) + sum(kept_bytes(key) + kept_bytes(value) for key, value in state.items())
    if isinstance(state, int | float | str | bytes | bool | np.generic):
        return sys.getsizeof(state)
    return 0


def session_bytes(session: object) -> int:
    """What a session object keeps (its attributes' data, as kept_bytes counts it)."""
    return kept_bytes(dict(vars(session)))


def window_count(session: object) -> int:
    """The voice windows a session holds: the rows of the (n, 256) embedding blocks it keeps."""
    return sum(
        len(value)
        for attribute in vars(session).values()
        if isinstance(attribute, list)
        for value in attribute
        if isinstance(value, np.ndarray) and value.ndim == 2
    )
