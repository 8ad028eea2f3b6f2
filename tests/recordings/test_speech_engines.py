"""The speech engine, Whisper through faster-whisper: `base` chosen by name (joined from its wheels
into the model cache) transcribes the lecture, an operator's folder or model name that is not on
the host is named and never downloaded, what a transcribe worker reports when its engine cannot
run (/readyz, the console's overview), and the job's code then."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import jiwer
import psutil
import pytest

from core.settings import Settings
from tests.conftest import ApiClient, make_admin
from tests.recordings import media
from tests.support.stack import Stack, wait_until
from workers.errors import JobFailure
from workers.recordings import engine_problem, speech_engine, transcribe

MISSING_MODEL = "/nonexistent/faster-whisper-small"


def whisper_settings(model: str, state_dir: str = ".mentorq") -> Settings:
    return Settings(
        MENTORQ_ENV="test",
        MENTORQ_STATE_DIR=state_dir,
        MENTORQ_ASR_ENGINE="faster-whisper",
        MENTORQ_ASR_MODEL=model,
        MENTORQ_ASR_DEVICE="cpu",
        MENTORQ_ASR_COMPUTE_TYPE="int8",
    )


@pytest.mark.slow
def test_whisper_base_chosen_by_name_transcribes_the_lecture(tmp_path: Path) -> None:
    """`base` (multilingual, bundled in two halves), or the checkpoint MENTORQ_TEST_WHISPER_MODEL
    names (an operator's folder, `small`), as a worker would load it: nothing downloaded."""
    settings = whisper_settings(os.environ.get("MENTORQ_TEST_WHISPER_MODEL", "base"), str(tmp_path))
    assert engine_problem(settings) is None
    from workers.recordings.engines import WhisperEngine

    transcript = transcribe(
        media.sample_bytes(),
        engine=WhisperEngine(settings),
        max_seconds=3600,
        on_progress=lambda done, total: None,
    )
    heard = " ".join(segment.text for segment in transcript.segments)
    assert jiwer.wer(media.SAMPLE_TEXT.lower(), heard.lower()) < 0.3, heard
    assert transcript.language == "en"  # detected: base is multilingual


def test_missing_faster_whisper_weights_are_named_not_downloaded() -> None:
    assert "lacks model.bin, config.json" in engine_problem(whisper_settings(os.path.dirname(__file__)))
    problem = engine_problem(whisper_settings("small"))
    if problem is None:
        pytest.skip("a faster-whisper `small` model is cached on this machine")
    assert "'small' is not on this host" in problem
    assert engine_problem(Settings(MENTORQ_ENV="test")) is None  # tiny.en: bundled


def test_a_recording_meets_a_missing_engine_as_a_retryable_speech_engine_unavailable() -> None:
    with pytest.raises(JobFailure) as failure:
        speech_engine(whisper_settings(MISSING_MODEL))
    assert failure.value.code == "speech_engine_unavailable" and failure.value.retryable
    assert MISSING_MODEL in failure.value.message


def test_a_transcribe_worker_says_what_keeps_its_engine_from_running_and_yields_the_cpu(
    stack: Stack, client: ApiClient
) -> None:
    env = {"MENTORQ_ASR_ENGINE": "faster-whisper", "MENTORQ_ASR_MODEL": MISSING_MODEL}
    stack.start_worker("worker-whisper", queues="transcribe", concurrency=1, extra_env=env)
    try:
        host = "worker-whisper@test"
        admin = make_admin(stack, client)
        speech = admin.get("/v1/admin/health").json()["checks"]["workers"]["speech"]
        # The public probe names neither the host nor the missing model's path.
        public = httpx.get(f"{stack.api_url}/readyz").text
        assert MISSING_MODEL not in public and host not in public, public
        assert speech[host]["engine"] == "faster-whisper" and MISSING_MODEL in speech[host]["problem"]
        assert speech["worker@test"] == {
            "engine": "faster-whisper",
            "problem": None,
            "diarizer": "off",
            "diarizer_problem": None,
        }
        # A worker on background lanes alone yields the CPU (niceness 10, its pool's children too);
        # the worker that also takes the interactive lanes does not. Its pulse, which beats its
        # jobs' heartbeats (workers/pulse.py), keeps the normal priority: it must beat on a busy host.
        whisper_worker = psutil.Process(stack.processes["worker-whisper"].pid)
        children = whisper_worker.children(recursive=True)
        pulses = [child for child in children if "workers.pulse" in child.cmdline()]
        niceness = {process.nice() for process in [whisper_worker, *children] if process not in pulses}
        assert niceness == {10}, niceness
        assert [pulse.nice() for pulse in pulses] == [0]
        autogroup = Path(f"/proc/{whisper_worker.pid}/autogroup")  # where the kernel groups by session
        if autogroup.exists():
            assert autogroup.read_text().rstrip().endswith("nice 10"), autogroup.read_text()
        assert psutil.Process(stack.processes["worker"].pid).nice() == 0
        stats = admin.get("/v1/admin/stats").json()
        assert MISSING_MODEL in stats["workers"]["speech"][host]["problem"]
    finally:
        stack.stop("worker-whisper")
    wait_until(
        lambda: host not in admin.get("/v1/admin/health").json()["checks"]["workers"]["speech"],
        timeout=30,
        message="the stopped worker's announcement gone",
    )
