"""The support model's file: a missing or corrupt one is refused with the reason, and a worker that
checks answers will not start without it (workers/support/model.py, workers/signals.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.settings import get_settings
from workers import signals
from workers.support import model as support
from workers.support.features import NAMES, features, passage_words
from workers.support.model import WEIGHTS, SupportModel, SupportModelUnavailable, word_pieces


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    path = tmp_path / "support_model.json"
    shutil.copy(WEIGHTS, path)
    return path


def test_the_shipped_model_reads_the_features_this_code_computes() -> None:
    model = SupportModel(WEIGHTS)
    assert model.names == NAMES and 0 < model.threshold < 1
    assert model.training["data"].startswith("RAGTruth") and model.training["sentences"] > 1000
    # Trained on the rare-word count as it is now: one that counted padding saw the two alike.
    rare, words = NAMES.index("missing_rare"), NAMES.index("missing_words")
    assert model.mean[rare] < model.mean[words] and model.coef[rare] != model.coef[words]


def test_a_rare_word_counts_its_own_word_pieces() -> None:
    # The tokenizer file pads every encoding to 128 pieces; counted with it, every word was "rare"
    # and the model's missing_rare feature was missing_words again (fixed 2026-11-28).
    assert word_pieces("system") == 1
    assert word_pieces("homeostasis") == 3  # home ##osta ##sis
    passages = passage_words(["The system is old."])
    missing = features("Homeostasis regulates the system.", passages, word_pieces)
    assert missing[NAMES.index("missing_words")] == 2  # homeostasis, regulates
    assert missing[NAMES.index("missing_rare")] == 1  # homeostasis alone


def test_a_missing_file_is_refused_by_name(copy: Path) -> None:
    copy.unlink()
    with pytest.raises(SupportModelUnavailable, match="missing: .*support_model.json"):
        SupportModel(copy)


@pytest.mark.parametrize(
    "damage",
    [
        lambda text, data: text[: len(text) // 2],  # cut short
        lambda text, data: json.dumps({**data, "coef": data["coef"][:-1]}),  # a feature short
        lambda text, data: json.dumps({**data, "features": [*data["features"][1:], "other"]}),
        lambda text, data: json.dumps({**data, "scale": [0.0] * len(data["scale"])}),
        lambda text, data: json.dumps({**data, "threshold": "high"}),
        lambda text, data: text.replace(str(data["intercept"]), "NaN", 1),
    ],
    ids=["truncated", "short", "renamed", "zero-scale", "threshold", "nan"],
)
def test_a_corrupt_file_is_refused_not_used(copy: Path, damage) -> None:
    text = copy.read_text()
    copy.write_text(damage(text, json.loads(text)))
    with pytest.raises(SupportModelUnavailable, match="corrupt"):
        SupportModel(copy)


def _worker_consuming(*queues: str) -> SimpleNamespace:
    consume_from = {name: SimpleNamespace(name=name) for name in queues}
    queues_ = SimpleNamespace(consume_from=consume_from)
    return SimpleNamespace(app=SimpleNamespace(amqp=SimpleNamespace(queues=queues_)))


def test_a_worker_that_checks_answers_stops_at_start_without_the_model(
    copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy.write_text("{not json")
    monkeypatch.setenv("MENTORQ_SUPPORT_MODEL", str(copy))
    monkeypatch.setattr(support, "_loaded", None)
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit, match="corrupt"):
            signals._support_model_loads_or_the_worker_stops(sender=_worker_consuming("llm"))
        # A worker of lanes that check no answers starts without it.
        signals._support_model_loads_or_the_worker_stops(sender=_worker_consuming("embed", "io"))
    finally:
        monkeypatch.delenv("MENTORQ_SUPPORT_MODEL")
        get_settings.cache_clear()
    monkeypatch.setattr(support, "_loaded", None)
    signals._support_model_loads_or_the_worker_stops(sender=_worker_consuming("llm"))  # the shipped copy
