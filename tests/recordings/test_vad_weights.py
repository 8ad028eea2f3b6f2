"""The speech detector's weights (workers/recordings/speech.py): Silero VAD's ONNX file is loaded
only once its sha256 is the pinned one; a missing or altered file is named by readiness and the job
path (engine_problem), and a transcribe worker that meets one stops at start with the file and both
hashes, before it takes a job."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.settings import Settings
from tests.support.worker_start import worker_refused
from workers.recordings import speech
from workers.recordings.engines import engine_problem
from workers.recordings.speech import VAD_FILE, VAD_SHA256, VAD_WHEEL, vad_weights
from workers.recordings.whisper_weights import WeightsUnavailable, package_path, sha256_of

REPO = Path(__file__).resolve().parents[2]


def _fake_silero(root: Path, *, model: bytes | None) -> Path:
    """A `silero_vad` package holding `model` as its ONNX file (None: none), for a path ahead of the
    real one: the check comes before anything of the package is imported."""
    package = root / "silero_vad"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    if model is not None:
        (package / VAD_FILE).write_bytes(model)
    return root


def _altered() -> bytes:
    real = bytearray((package_path("silero_vad") / VAD_FILE).read_bytes())
    real[len(real) // 2] ^= 0xFF  # one byte changed, the same size
    return bytes(real)


def test_the_installed_detector_is_the_pinned_file_and_is_named_in_the_notice() -> None:
    path = vad_weights()
    assert path == package_path("silero_vad") / VAD_FILE
    assert sha256_of(path) == VAD_SHA256
    notice = (REPO / "NOTICE.md").read_text()
    assert VAD_SHA256 in notice and VAD_WHEEL in notice


@pytest.mark.parametrize("model", [None, "altered"])
def test_a_missing_or_altered_detector_is_refused_by_name_and_by_readiness(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str | None
) -> None:
    root = _fake_silero(tmp_path, model=_altered() if model else None)
    monkeypatch.setattr(speech, "package_path", lambda name: root / name)
    with pytest.raises(WeightsUnavailable) as refused:
        vad_weights()
    said = str(refused.value)
    assert VAD_FILE in said and VAD_WHEEL in said
    if model:
        assert "is altered" in said and VAD_SHA256 in said
        assert sha256_of(root / "silero_vad" / VAD_FILE) in said
    else:
        assert "is missing" in said
    settings = Settings(MENTORQ_ENV="test", MENTORQ_STATE_DIR=str(tmp_path / "state"))
    assert engine_problem(settings) == said  # /readyz, and the job's speech_engine_unavailable


@pytest.mark.slow
def test_a_real_transcribe_worker_with_an_altered_detector_exits_with_the_reason(tmp_path: Path) -> None:
    """The whole start: `celery worker -Q transcribe` finding a Silero VAD file with one byte changed
    stops before it connects to anything, naming the file and both hashes."""
    root = _fake_silero(tmp_path / "path", model=_altered())
    said = worker_refused(
        "transcribe",
        PYTHONPATH=os.pathsep.join([str(root), str(REPO)]),
        MENTORQ_STATE_DIR=str(tmp_path / "state"),
        MENTORQ_DIARIZATION_ENGINE="off",
    )
    assert "cannot hear speech" in said and "is altered" in said, said
    assert VAD_SHA256 in said and VAD_WHEEL in said
