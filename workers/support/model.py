"""The support model: the probability that the passages do NOT state a sentence, from what of the
sentence they hold (workers/support/features.py), by a logistic regression the project trained on
real LLM answers with human-marked hallucinations (training/support_train.py; NOTICE.md says from
what). Its file, `weights/support_model.json`, ships inside the package: nothing is fetched at run
time, and nothing in it is executed (numbers only, no pickle).

MENTORQ_SUPPORT_MODEL may name another file, or a folder holding a Hugging Face classifier that
reads (workers/support/reader.py). A missing or malformed file raises SupportModelUnavailable: the
worker refuses to start rather than fall back to similarity, which is not a support check.
"""

from __future__ import annotations

import json
import math
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from workers.support.features import NAMES

if TYPE_CHECKING:
    from workers.support.reader import ReadingModel

WEIGHTS = Path(__file__).with_name("weights") / "support_model.json"


class SupportModelUnavailable(RuntimeError):
    """The support model's file is missing or cannot be read."""


class SupportModel:
    def __init__(self, path: Path = WEIGHTS) -> None:
        if not path.is_file():
            raise SupportModelUnavailable(
                f"the support model's file is missing: {path}. Reinstall mentorq (it ships inside it) "
                "or point MENTORQ_SUPPORT_MODEL at a copy."
            )
        try:
            data = json.loads(path.read_text())
            self.names = tuple(data["features"])
            self.mean = [float(v) for v in data["mean"]]
            self.scale = [float(v) for v in data["scale"]]
            self.coef = [float(v) for v in data["coef"]]
            self.intercept = float(data["intercept"])
            self.threshold = float(data["threshold"])
            self.training = data["training"]
        except (ValueError, KeyError, TypeError) as error:
            raise SupportModelUnavailable(f"the support model's file {path} is corrupt: {error!r}") from error
        numbers = [*self.mean, *self.scale, *self.coef, self.intercept, self.threshold]
        if (
            self.names != NAMES
            or not len(self.mean) == len(self.scale) == len(self.coef) == len(NAMES)
            or not all(math.isfinite(v) for v in numbers)
            or not all(v > 0 for v in self.scale)
            or not 0 < self.threshold < 1
        ):
            raise SupportModelUnavailable(
                f"the support model's file {path} is corrupt: its features or numbers are not the ones "
                f"this code computes ({', '.join(NAMES)})"
            )

    def unsupported(self, values: list[float]) -> float:
        """The probability that the passages do not state the sentence with these feature values."""
        z = self.intercept + sum(
            c * (v - m) / s for c, v, m, s in zip(self.coef, values, self.mean, self.scale, strict=True)
        )
        return 1 / (1 + math.exp(-max(-50.0, min(50.0, z))))


@lru_cache(maxsize=4096)
def word_pieces(word: str) -> int:
    """How many word pieces the embedding model's tokenizer cuts a word into (1: a common word)."""
    return len(_tokenizer().encode(word, add_special_tokens=False).ids) or 1


@lru_cache(maxsize=1)
def _tokenizer():
    from tokenizers import Tokenizer

    from core.catalog import packaged_minilm_path

    tokenizer = Tokenizer.from_file(str(packaged_minilm_path() / "tokenizer.json"))
    # The packaged file pads every encoding to 128 pieces (for the embedding model's batches):
    # with its padding on, every word counted 128 and "missing_rare" was "missing_words" again.
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


_loaded: SupportModel | ReadingModel | None = None
_load_lock = threading.Lock()


def configured_path() -> Path:
    """The model's file or folder: MENTORQ_SUPPORT_MODEL, else the copy inside the package."""
    from core.settings import get_settings

    configured = get_settings().support_model
    return Path(configured) if configured else WEIGHTS


def load_configured() -> SupportModel | ReadingModel:
    """A folder is a reading model (workers/support/reader.py), on MENTORQ_DEVICE; a file, the
    logistic model."""
    path = configured_path()
    if not path.is_dir():
        return SupportModel(path)
    from core.settings import get_settings
    from workers.devices import DeviceUnavailable, resolve_device
    from workers.support.reader import ReadingModel

    settings = get_settings()
    try:
        device = resolve_device(settings.device)
    except DeviceUnavailable as error:
        raise SupportModelUnavailable(f"the support model cannot run: {error}") from error
    return ReadingModel(
        path, label=settings.support_model_label, pair=settings.support_model_pair, device=device
    )


def support_model() -> SupportModel | ReadingModel:
    """The configured model, read once per process."""
    global _loaded
    with _load_lock:
        if _loaded is None:
            _loaded = load_configured()
        return _loaded
