"""Where the torch models run (workers/devices.py): `auto` takes a GPU torch sees and the CPU
otherwise, `cuda` without one stops a model worker at start with the reason, and the embedding
model's passes are sized for the device. These machines have no GPU: CUDA is made visible or not
by replacing the one function that asks torch, and the real CPU-only torch answers the rest."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from core.settings import Settings, get_settings
from tests.conftest import ApiClient, make_admin
from tests.support.stack import Stack
from tests.support.worker_start import worker_refused
from tests.workers.test_support_model import _worker_consuming
from workers import devices, signals
from workers.devices import DeviceUnavailable, EmbedPasses, embed_passes, resolve_device

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def gpus(monkeypatch: pytest.MonkeyPatch):
    """Set how many GPUs torch sees, for the call to resolve_device."""

    def see(count: int) -> None:
        monkeypatch.setattr(devices, "cuda_device_count", lambda: count)

    return see


def test_auto_takes_the_gpu_when_torch_sees_one_and_the_cpu_otherwise(gpus) -> None:
    gpus(0)
    assert resolve_device("auto") == resolve_device(None) == resolve_device(" AUTO ") == "cpu"
    gpus(1)
    assert resolve_device("auto") == "cuda:0"
    assert resolve_device("cpu") == "cpu"  # told the CPU, it stays there


def test_a_named_gpu_must_be_there(gpus) -> None:
    gpus(2)
    assert resolve_device("cuda") == "cuda:0" and resolve_device("cuda:1") == "cuda:1"
    with pytest.raises(DeviceUnavailable, match="sees 2 GPU"):
        resolve_device("cuda:2")
    gpus(0)
    with pytest.raises(DeviceUnavailable, match="'cuda'"):
        resolve_device("cuda")
    with pytest.raises(DeviceUnavailable, match="unknown device"):
        resolve_device("gpu")


def test_this_hosts_cpu_only_torch_is_named_as_the_reason() -> None:
    devices.cuda_device_count.cache_clear()
    assert devices.cuda_device_count() == 0  # the real torch here: a CPU-only build
    with pytest.raises(DeviceUnavailable, match="CPU-only build"):
        resolve_device("cuda")


def test_the_setting_takes_only_devices() -> None:
    assert Settings(MENTORQ_ENV="test", MENTORQ_DEVICE="cuda:1").device == "cuda:1"
    for wrong in ("gpu", "cuda:", "cuda:x", "mps", "cpu;rm"):
        with pytest.raises(ValidationError):
            Settings(MENTORQ_ENV="test", MENTORQ_DEVICE=wrong)


def test_passes_are_small_on_a_cpu_large_on_a_gpu_and_a_call_holds_a_pass() -> None:
    assert embed_passes("cpu") == EmbedPasses(texts_per_pass=16, texts_per_call=128, gathers=False)
    assert embed_passes("cuda:0") == EmbedPasses(texts_per_pass=1024, texts_per_call=2048, gathers=True)
    assert embed_passes("cpu", pass_size=64) == EmbedPasses(64, 128, False)
    assert embed_passes("cuda:0", pass_size=256) == EmbedPasses(256, 2048, True)


def test_a_model_worker_told_cuda_without_one_stops_and_others_start(
    gpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    gpus(0)
    monkeypatch.setenv("MENTORQ_DEVICE", "cuda")
    get_settings.cache_clear()
    monkeypatch.setenv("MENTORQ_DIARIZATION_ENGINE", "resemblyzer")
    try:
        for lane in ("embed", "query", "llm", "transcribe"):
            with pytest.raises(SystemExit, match="'cuda'"):
                signals._the_configured_device_is_there(sender=_worker_consuming(lane))
        signals._the_configured_device_is_there(sender=_worker_consuming("cpu", "io", "maintenance"))
        monkeypatch.setenv("MENTORQ_DEVICE", "auto")
        monkeypatch.setenv("MENTORQ_DIARIZATION_ENGINE", "pyannote")
        monkeypatch.setenv("MENTORQ_DIARIZATION_DEVICE", "cuda")  # pyannote's own device is checked too
        get_settings.cache_clear()
        with pytest.raises(SystemExit, match="'cuda'"):
            signals._the_configured_device_is_there(sender=_worker_consuming("transcribe"))
        signals._the_configured_device_is_there(sender=_worker_consuming("embed"))
        assert signals._device_of({"embed"}) == "cpu" and signals._device_of({"io"}) is None
        monkeypatch.setenv("MENTORQ_EMBED_MODEL", "ollama:nomic-embed-text")  # the server's device
        get_settings.cache_clear()
        assert signals._device_of({"embed", "query"}) is None
    finally:
        get_settings.cache_clear()


def test_a_real_embed_worker_told_cuda_on_this_host_exits_with_the_reason() -> None:
    """The whole start: `celery worker -Q embed` with MENTORQ_DEVICE=cuda on this GPU-less host."""
    assert "CPU-only build" in worker_refused("embed", MENTORQ_DEVICE="cuda")


def test_the_embedded_llm_offloads_every_layer_only_to_a_gpu_it_was_built_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workers.llm.local import gpu_layers

    get_settings.cache_clear()
    try:
        assert gpu_layers(False) == 0  # the registry's wheel: CPU only, whatever the setting
        assert gpu_layers(True) == -1  # a CUDA build, MENTORQ_DEVICE auto
        monkeypatch.setenv("MENTORQ_DEVICE", "cpu")
        get_settings.cache_clear()
        assert gpu_layers(True) == 0
    finally:
        get_settings.cache_clear()


def test_the_embedding_model_runs_where_the_setting_says_with_its_passes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workers.embeddings import sentence

    get_settings.cache_clear()
    try:
        sentence.load_model()
        assert sentence.loaded_device() == "cpu"
        assert str(sentence.load_model().device) == "cpu"
        assert sentence.passes() == EmbedPasses(16, 128, False)
        monkeypatch.setenv("MENTORQ_EMBED_PASS_SIZE", "48")
        get_settings.cache_clear()
        assert sentence.SentenceEmbeddings().feeding() == EmbedPasses(48, 128, False)
    finally:
        get_settings.cache_clear()


def test_readiness_and_the_console_say_where_each_worker_runs_its_models(
    stack: Stack, client: ApiClient
) -> None:
    """The shared stack's worker embeds on this GPU-less host's CPU, and says so (to admins)."""
    admin = make_admin(stack, client)
    devices_seen = admin.get("/v1/admin/health").json()["checks"]["workers"]["devices"]
    assert devices_seen.get("worker@test") == "cpu", devices_seen
    assert admin.get("/v1/admin/stats").json()["workers"]["devices"]["worker@test"] == "cpu"


def test_the_gpu_benchmark_claims_no_figure_on_a_host_without_a_gpu() -> None:
    """benchmarks.gpu_embed is prepared here and run on a lent GPU; here it measures nothing."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu_embed"],
        cwd=REPO,
        env={**os.environ, "MENTORQ_ENV": "test"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "nothing measured" in done.stdout
