"""MENTORQ_SUPPORT_MODEL naming a folder: a Hugging Face sequence-classification model read by
verify() claim by claim against its evidence window (workers/support/reader.py).

The folder is made here the way training/support_cross_encoder.py saves its model and an operator's
checker comes (`save_pretrained`: config.json, safetensors, tokenizer), small (two layers over the
packaged all-MiniLM-L6-v2 tokenizer) so it loads in a second. What is checked: verify()'s scores are
the model's own probabilities for (evidence window, claim) in the configured order and label,
batched; a folder that would run its own code, names no supported label, or holds no weights is
refused by name, and a worker that checks answers will not start with it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.catalog import packaged_minilm_path
from core.settings import get_settings
from workers import signals
from workers.support import model as support
from workers.support.evidence import evidence_window, passage_sentences
from workers.support.model import SupportModelUnavailable, load_configured
from workers.support.reader import ReadingModel
from workers.support.verify import verify

PASSAGES = [
    "The Treaty of Utrecht was signed in 1713. It ended the War of the Spanish Succession.",
    "Photosynthesis turns light into chemical energy. Chlorophyll absorbs mostly blue and red light.",
]
CLAIMS = [
    "The Treaty of Utrecht was signed in 1713.",
    "Chlorophyll absorbs mostly green light.",
    "The war ended because both sides ran out of money.",
]


def _save_model(folder: Path, labels: dict[int, str]) -> Path:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(61)
    tokenizer = AutoTokenizer.from_pretrained(packaged_minilm_path())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        num_labels=len(labels),
        id2label=labels,
        label2id={v: k for k, v in labels.items()},
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def two_labels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _save_model(tmp_path_factory.mktemp("reader") / "trained", {0: "supported", 1: "not stated"})


@pytest.fixture(scope="module")
def nli(tmp_path_factory: pytest.TempPathFactory) -> Path:
    labels = {0: "contradiction", 1: "entailment", 2: "neutral"}
    return _save_model(tmp_path_factory.mktemp("reader") / "nli", labels)


def _direct(folder: Path, firsts: list[str], seconds: list[str], index: int) -> list[float]:
    """The model's probabilities computed here by hand, without the reader."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    with torch.inference_mode():
        encoded = tokenizer(firsts, seconds, padding=True, truncation=True, return_tensors="pt")
        return torch.softmax(model(**encoded).logits, -1)[:, index].tolist()


def _windows() -> list[str]:
    texts = [p.text for p in passage_sentences(PASSAGES)]
    return [evidence_window(claim, texts, ReadingModel.window) for claim in CLAIMS]


@pytest.mark.parametrize("pair", ["evidence-claim", "claim-evidence"])
def test_verify_scores_each_claim_by_the_models_own_probability(two_labels: Path, pair: str) -> None:
    reader = ReadingModel(two_labels, pair=pair)
    verdicts = verify(CLAIMS, PASSAGES, model=reader, min_score=0.0)
    windows = _windows()
    firsts, seconds = (CLAIMS, windows) if pair == "claim-evidence" else (windows, CLAIMS)
    expected = _direct(two_labels, firsts, seconds, index=0)
    assert [v.score for v in verdicts] == pytest.approx([round(p, 4) for p in expected], abs=1e-4)
    # The window holds the sentence that shares the claim's rare words, not the whole library.
    assert "1713" in windows[0] and "Chlorophyll" in windows[1]


def test_the_order_of_the_pair_is_the_configured_one(two_labels: Path) -> None:
    """A cross-encoder reads the two texts differently: the order is a setting, not a guess."""
    first = [v.score for v in verify(CLAIMS, PASSAGES, model=ReadingModel(two_labels), min_score=0.0)]
    swapped = ReadingModel(two_labels, pair="claim-evidence")
    second = [v.score for v in verify(CLAIMS, PASSAGES, model=swapped, min_score=0.0)]
    assert first != second


def test_an_nli_model_is_read_by_its_entailment_label(nli: Path) -> None:
    reader = ReadingModel(nli)
    assert reader.supported_index == 1
    expected = _direct(nli, _windows(), CLAIMS, index=1)
    assert reader.supported(CLAIMS, _windows()) == pytest.approx(expected, abs=1e-5)
    assert ReadingModel(nli, label="neutral").supported_index == 2
    assert ReadingModel(nli, label="0").supported_index == 0


def test_a_claim_under_the_threshold_is_removed_and_the_other_checks_still_apply(two_labels: Path) -> None:
    reader = ReadingModel(two_labels)
    scores = [v.score for v in verify(CLAIMS, PASSAGES, model=reader, min_score=0.0)]
    cut = sorted(scores)[1]
    kept = [v.kept for v in verify(CLAIMS, PASSAGES, model=reader, min_score=cut)]
    assert kept == [s >= cut for s in scores]
    # An amount no passage states is never let through, whatever the model says.
    number = verify(["The Treaty of Utrecht was signed in 1714."], PASSAGES, model=reader, min_score=0.0)
    assert number[0].reason == "number"
    # Not a claim: never sent to the model.
    assert verify(["Was it signed in 1713?"], PASSAGES, model=reader)[0].kind == "question"


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda f: (f / "config.json").unlink(), "without config.json"),
        (lambda f: _edit_config(f, auto_map={"AutoModel": "custom.Model"}), "needs its own code"),
        (lambda f: _edit_config(f, id2label={"0": "LABEL_0", "1": "LABEL_1"}), "which label"),
        (lambda f: (f / "model.safetensors").unlink(), "cannot be loaded"),
        (lambda f: (f / "config.json").write_text("{cut"), "corrupt"),
    ],
    ids=["no-config", "remote-code", "no-supported-label", "no-weights", "corrupt-config"],
)
def test_a_folder_it_cannot_use_is_refused_by_name(two_labels: Path, tmp_path: Path, damage, message) -> None:
    folder = Path(shutil.copytree(two_labels, tmp_path / "model"))
    damage(folder)
    with pytest.raises(SupportModelUnavailable, match=message):
        ReadingModel(folder)


def test_a_label_or_pair_the_model_lacks_is_refused(nli: Path) -> None:
    with pytest.raises(SupportModelUnavailable, match="MENTORQ_SUPPORT_MODEL_LABEL is 'supported'"):
        ReadingModel(nli, label="supported")
    with pytest.raises(SupportModelUnavailable, match="MENTORQ_SUPPORT_MODEL_PAIR"):
        ReadingModel(nli, pair="hypothesis-first")


def _edit_config(folder: Path, **changes: object) -> None:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | changes))


def test_the_setting_picks_the_reader_and_a_worker_will_not_start_on_a_bad_one(
    two_labels: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MENTORQ_SUPPORT_MODEL", str(two_labels))
    monkeypatch.setenv("MENTORQ_DEVICE", "cpu")
    get_settings.cache_clear()
    try:
        loaded = load_configured()
        assert isinstance(loaded, ReadingModel) and loaded.name == "trained"
        broken = Path(shutil.copytree(two_labels, tmp_path / "broken"))
        _edit_config(broken, id2label={"0": "yes", "1": "no"})
        monkeypatch.setenv("MENTORQ_SUPPORT_MODEL", str(broken))
        get_settings.cache_clear()
        monkeypatch.setattr(support, "_loaded", None)
        llm_worker = SimpleNamespace(
            app=SimpleNamespace(
                amqp=SimpleNamespace(
                    queues=SimpleNamespace(consume_from={"llm": SimpleNamespace(name="llm")})
                )
            )
        )
        with pytest.raises(SystemExit, match="which label"):
            signals._support_model_loads_or_the_worker_stops(sender=llm_worker)
    finally:
        monkeypatch.setattr(support, "_loaded", None)
        get_settings.cache_clear()
