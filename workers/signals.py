"""Worker lifecycle hooks: the log lines' format (core/logs.py), fresh connections after fork,
traces in each process that runs tasks (core/tracing.py), the pulse that beats running jobs'
heartbeats (workers/pulse.py), the embedding model warmed, a liveness key for /readyz, and the
host's metrics endpoint (workers/metrics_endpoint.py)."""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import threading
import time
from collections.abc import Iterator

from celery.signals import (
    celeryd_init,
    setup_logging,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)

from core import lanes, logs, tracing
from core.catalog import OLLAMA_PREFIX
from core.channels import worker_key
from core.metrics import processes
from core.redis_clients import get_broker_redis, reset_redis
from core.settings import Settings, get_settings
from db.session import reset_engines
from workers import metrics_endpoint, pulse

log = logging.getLogger(__name__)

LIVENESS_EVERY_S = 5
LIVENESS_TTL_S = 15
_stop_liveness = threading.Event()


def _consumed_queues(worker: object | None) -> set[str]:
    """The queues a starting worker (worker_init's sender) consumes."""
    return {queue.name for queue in worker.app.amqp.queues.consume_from.values()} if worker else set()


@contextlib.contextmanager
def _or_the_worker_stops(errors: type[Exception], saying: str) -> Iterator[None]:
    """A start-up check: one of these errors stops the worker here, logged as critical with what it
    cannot do (`saying`: "cannot embed") and why. A worker that cannot do its lane's work must not
    take that lane's jobs, where each would fail one by one (or, worse, run on a wrong model)."""
    try:
        yield
    except errors as error:
        log.critical("the worker %s: %s", saying, error)
        raise SystemExit(f"mentorq worker: {error}") from error


@worker_init.connect
def _start_the_pulse(sender=None, **_: object) -> None:
    """The process that beats this worker's running jobs (workers/pulse.py). Connected first, so it
    starts before a background lane lowers this process's priority below."""
    pulse.start()


@worker_shutdown.connect
def _stop_the_pulse(**_: object) -> None:
    pulse.stop()


@worker_init.connect
def _background_lanes_yield_the_cpu(sender=None, **_: object) -> None:
    """A worker that consumes only background lanes (transcription) runs at a lower CPU priority,
    set before its pool forks so its children and their threads inherit it: on a host it shares
    with the API, the query worker or PostgreSQL, a long recording slows a search as little as it
    can (benchmarks.transcription). A worker that also takes other lanes keeps its priority."""
    queues = _consumed_queues(sender)
    if queues and queues <= lanes.BACKGROUND:
        os.nice(lanes.BACKGROUND_NICENESS)
        # With autogroup scheduling (most distributions' default) a process's niceness weighs only
        # against its own session's processes; the session's group has a niceness of its own.
        with contextlib.suppress(OSError):
            with open("/proc/self/autogroup", "w") as autogroup:
                autogroup.write(str(lanes.BACKGROUND_NICENESS))
        log.info("background lanes %s: running at niceness %d", sorted(queues), os.nice(0))
        from workers.recordings.speaker_models import one_thread_per_recording

        one_thread_per_recording()


@worker_init.connect
def _the_configured_device_is_there(sender=None, **_: object) -> None:
    """A worker of a lane that runs a torch model (embeddings, voices, pyannote) stops at start when
    MENTORQ_DEVICE (or MENTORQ_DIARIZATION_DEVICE) names a GPU torch does not see: the GPU host's
    embed lane running on its CPU beside an idle GPU is the failure an operator would not notice."""
    device = _device_of(_consumed_queues(sender))
    if device is not None:
        log.info("models run on %s", device)


def _device_of(queues: set[str]) -> str | None:
    """The device this worker's torch models run on, or None for a worker that runs none; stops
    the process (SystemExit) when a configured GPU is not there."""
    settings = get_settings()
    embeds_here = lanes.USES_EMBEDDING_MODEL & queues and not settings.embed_model.startswith(OLLAMA_PREFIX)
    hears_voices = lanes.TRANSCRIBE in queues  # Whisper, and the diarizer when it is on
    if not (embeds_here or hears_voices):
        return None
    from workers.devices import DeviceUnavailable, resolve_device

    # Ask NVML, not the CUDA runtime: a prefork parent that initialised CUDA would leave its
    # children unable to use it (PyTorch's fork-safety note).
    os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    with _or_the_worker_stops(DeviceUnavailable, "cannot run its models"):
        device = resolve_device(settings.device)
        if hears_voices and settings.diarization_engine == "pyannote" and settings.diarization_device:
            resolve_device(settings.diarization_device)
        if hears_voices and settings.asr_device:
            resolve_device(settings.asr_device)
    return device


@worker_init.connect
def _embedding_model_files_are_the_upstream_ones(sender=None, **_: object) -> None:
    """A worker of a lane that embeds with the packaged model checks its files against the upstream
    checkpoint's identifiers before anything loads them: a missing or altered file (weights,
    tokenizer, pooling) stops it here with the reason (workers/embeddings/minilm_weights.py). An
    install without the package goes on: the next receiver says it cannot embed."""
    queues = _consumed_queues(sender)
    if not lanes.USES_EMBEDDING_MODEL & queues or get_settings().embed_model.startswith(OLLAMA_PREFIX):
        return
    from workers.embeddings.minilm_weights import EmbeddingWeightsAltered, verify_packaged_model

    try:
        with _or_the_worker_stops(EmbeddingWeightsAltered, "cannot embed"):
            verify_packaged_model()
    except RuntimeError:  # not installed (core.catalog)
        return


@worker_init.connect
def _embedding_libraries_imported_before_the_fork(sender=None, **_: object) -> None:
    """A worker of a lane that embeds imports what its prefork children embed with once, in the
    parent, so they start with the modules in memory. On a CPU that is ONNX Runtime and tokenizers
    (0.3 s), the model's export checked first (made here, once per host, when it is missing:
    workers/embeddings/minilm_export.py); elsewhere, or without an export, sentence-transformers
    and torch, 10-11 s of a core (transformers, scikit-learn, SciPy) that each child paid again and
    most of a worker's start. Modules only: no model is loaded and no thread pool started before
    the fork (the children load the model, _warm_embedding_model)."""
    queues = _consumed_queues(sender)
    settings = get_settings()
    if not lanes.USES_EMBEDDING_MODEL & queues or settings.embed_model.startswith(OLLAMA_PREFIX):
        return
    began = time.monotonic()
    from workers.devices import is_cuda, resolve_device

    if not is_cuda(resolve_device(settings.device)):
        from workers.embeddings.minilm_export import ExportUnavailable, cache_folder, exported_model

        try:
            exported = exported_model(cache_folder(settings.model_cache))
            import onnxruntime  # noqa: F401 - imported for its children
            import tokenizers  # noqa: F401 - likewise
        except (ExportUnavailable, ImportError) as error:
            log.warning("the embedding model's ONNX export is unavailable (%s)", error)
        else:
            log.info("embedding on ONNX Runtime from %s, ready in %.1f s", exported, time.monotonic() - began)
            return
    try:
        import sentence_transformers  # noqa: F401 - imported for its children
    except ImportError:  # an API-only install: the first job that embeds reports it with a code
        log.warning("sentence-transformers is not installed; this worker cannot embed")
        return
    log.info("sentence-transformers imported for the pool's processes in %.1f s", time.monotonic() - began)


@worker_init.connect
def _support_model_loads_or_the_worker_stops(sender=None, **_: object) -> None:
    """A worker of a lane that checks answers (ask, tutor) reads the support model's file before it
    takes a job: a missing or corrupt file stops it here with the reason, never a silent fallback to
    similarity (workers/support/model.py). The shipped file is numbers only; a folder named by
    MENTORQ_SUPPORT_MODEL is a classifier loaded here, once, on MENTORQ_DEVICE (reader.py)."""
    if not lanes.CHECKS_SUPPORT & _consumed_queues(sender):
        return
    from workers.support.model import SupportModelUnavailable, support_model

    with _or_the_worker_stops(SupportModelUnavailable, "cannot check answers"):
        support_model()


@worker_init.connect
def _diarizer_weights_are_the_pinned_ones(sender=None, **_: object) -> None:
    """A transcribe worker whose diarizer is the overlap-aware one (`campplus`) checks its two weight
    files' sha256 against the pinned upstream hashes before it takes a recording: a missing or
    altered file stops it here with the reason (workers/recordings/speaker_models.py)."""
    if lanes.TRANSCRIBE not in _consumed_queues(sender) or get_settings().diarization_engine != "campplus":
        return
    from workers.recordings.speaker_models import SpeakerModelsUnavailable, verify_weights

    with _or_the_worker_stops(SpeakerModelsUnavailable, "cannot diarize"):
        verify_weights()


@worker_init.connect
def _speech_weights_check_or_the_worker_stops(sender=None, **_: object) -> None:
    """A worker of the transcribe lane checks the speech detector's and Whisper's weights before it
    takes a job: Silero VAD's ONNX file and a bundled checkpoint (tiny.en, base) are hashed file by
    file against their pinned sha256 (base joined into the model cache first, once), and a missing or
    altered file stops the worker here with the file and both hashes
    (workers/recordings/speech.py, whisper_weights.py). An operator's own folder is checked as
    before, by /readyz and the job (speech_engine_unavailable)."""
    if lanes.TRANSCRIBE not in _consumed_queues(sender):
        return
    from workers.recordings.speech import vad_weights
    from workers.recordings.whisper_weights import BUNDLED, WeightsUnavailable, bundled_folder

    settings = get_settings()
    with _or_the_worker_stops(WeightsUnavailable, "cannot hear speech"):
        vad_weights()
    if settings.asr_model not in BUNDLED:
        return
    began = time.monotonic()
    with _or_the_worker_stops(WeightsUnavailable, "cannot transcribe"):
        folder = bundled_folder(BUNDLED[settings.asr_model], settings)
    log.info("Whisper %s checked in %.1f s: %s", settings.asr_model, time.monotonic() - began, folder)


@worker_init.connect
def _what_was_loaded_is_kept_out_of_the_collector(**_: object) -> None:
    """The objects the worker's start made (the task code, and on an embedding lane torch and
    sentence-transformers: about 500,000) are moved to the collector's permanent generation, as
    Python's documentation advises before a fork (gc.freeze). A full collection scanned them all,
    0.37 s of a core each time, and a child's collections wrote to the pages it shares with the
    parent; on the way out the interpreter's last collections scanned them again: a stopped worker
    took 3-4 s to exit, nearly all of it in the collector. Connected after the hooks above, which
    import; what a job allocates later is collected as before."""
    gc.freeze()
    log.info("%d objects of the worker's start kept out of the collector", gc.get_freeze_count())


@worker_process_init.connect
def _fresh_connections_after_fork(**_: object) -> None:
    # Connections inherited from the parent must never be shared across processes.
    reset_engines()
    reset_redis()
    _warm_embedding_model()


def _warm_embedding_model() -> None:
    """A worker process of a lane that embeds (core/lanes.py) loads the configured embedding model in
    the background right away, so the first search after a (re)start is not the one that waits for
    it. Still once per process, after the fork, never in a prefork parent."""
    from workers.celery_app import app

    if not lanes.USES_EMBEDDING_MODEL & set(app.amqp.queues.consume_from):
        return

    def load() -> None:
        from core.settings import get_settings
        from workers.embeddings import get_embedding_provider

        try:
            model = get_settings().embed_model
            get_embedding_provider(model).embed(["warm up"], model=model)
        except Exception:  # noqa: BLE001 - the first real job reports the problem with a code
            log.warning("could not warm up the embedding model", exc_info=True)

    threading.Thread(target=load, name="mentorq-warm-embeddings", daemon=True).start()


def _pool_forks(consumer: object) -> bool:
    """Whether the worker whose consumer sent worker_ready runs a prefork pool (its default)."""
    pool = getattr(consumer, "pool", None)
    return pool is None or "prefork" in type(pool).__module__


@worker_ready.connect
def _warm_up_a_pool_without_children(sender=None, **_: object) -> None:
    # A threads (or solo) pool never forks, so worker_process_init never comes: warm up here.
    if not _pool_forks(sender):
        tracing.start("worker")
        _warm_embedding_model()


@worker_process_init.connect
def _trace_a_child(**_: object) -> None:
    # In each prefork child, never the parent: the exporter's thread would not survive the fork.
    tracing.start("worker")


@worker_process_shutdown.connect
def _send_a_childs_spans(**_: object) -> None:
    tracing.flush()


@celeryd_init.connect
def _log_lines_from_the_start(**_: object) -> None:
    # Before Celery's first warnings (running as root, say), which come before its logging setup.
    logs.configure(get_settings())


# Celery's line for each task it receives and each it finishes ("Task … received", "… succeeded in
# …s: None"), both at INFO: two lines a job that say less than the job's own events, most of a busy
# worker's log (619 bytes a job in JSON) and 30-80 µs of its CPU a job (benchmarks.task_lines).
# Above INFO these loggers still write a task's failure, rejection or internal error.
TASK_LINE_LOGGERS = ("celery.worker.strategy", "celery.app.trace")


@setup_logging.connect
def _log_lines(loglevel=None, **_: object) -> None:
    # Connected, so Celery leaves logging to us: the worker's, beat's and their tasks' records go
    # through the root logger in the configured format (core/logs.py).
    settings = get_settings()
    logs.configure(settings, level=loglevel or logging.INFO)
    # Before the worker builds its consumer's strategies and its tasks' tracers, which ask once
    # whether INFO is on (and then skip even building the lines' arguments).
    choose_task_lines(settings)


def choose_task_lines(settings: Settings) -> None:
    """Celery's per-task lines written as the process's level allows (MENTORQ_LOG_EACH_TASK), or
    only from WARNING up."""
    for name in TASK_LINE_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if settings.log_each_task else logging.WARNING)


@worker_ready.connect
def _serve_metrics(sender=None, **_: object) -> None:
    try:
        metrics_endpoint.serve(get_settings(), prefork=_pool_forks(sender))
    except OSError:  # the port is taken: the worker still works, unobserved, and says so
        log.exception("metrics: could not serve on port %d", get_settings().metrics_port)


@worker_process_shutdown.connect
def _forget_child_metrics(pid=None, **_: object) -> None:
    processes.forget_process(pid or os.getpid())


@worker_ready.connect
def _start_liveness(sender=None, **_: object) -> None:
    hostname = getattr(sender, "hostname", None) or "unknown"
    queues = sorted(q.name for q in sender.app.amqp.queues.consume_from.values()) if sender else []

    # The probe runs a sandboxed program (half a second of a core, seconds of wall on a busy host):
    # only where jobs will run code.
    sandbox = _sandbox_report() if lanes.RUNS_CODE & set(queues) else None
    speech = _speech_report() if lanes.TRANSCRIBE in queues else None
    device = _device_of(set(queues))

    def beat() -> None:
        while not _stop_liveness.is_set():
            try:
                info = {
                    "hostname": hostname,
                    "pid": os.getpid(),
                    "queues": queues,
                    "at": time.time(),
                    "sandbox": sandbox,
                    "speech": speech,
                    "device": device,
                }
                get_broker_redis().set(worker_key(hostname), json.dumps(info), ex=LIVENESS_TTL_S)
            except Exception:  # noqa: BLE001 - Redis may be down; keep trying
                log.debug("liveness update failed", exc_info=True)
            _stop_liveness.wait(LIVENESS_EVERY_S)

    threading.Thread(target=beat, name="mentorq-liveness", daemon=True).start()


def _sandbox_report() -> dict:
    """Which sandbox layers this host applies, logged once and shown in /readyz with the worker."""
    from workers.sandbox import probe

    found = probe()
    report = {"active": found["active"], "missing": found["missing"]}
    if found["missing"]:
        log.warning(
            "code sandbox: layers %s active; required %s missing: coding submissions will fail with "
            "sandbox_unavailable (%s)",
            found["active"],
            found["missing"],
            {name: found["layers"].get(name, {}).get("reason") for name in found["missing"]},
        )
    else:
        log.info("code sandbox: layers %s active", ", ".join(found["active"]))
    return report


def _speech_report() -> dict:
    """The speech engine and the diarizer a transcribe worker runs, and why either cannot (its
    model missing), logged once and shown in /readyz and the console's overview with the worker."""
    from workers.recordings import diarizer_problem, engine_problem

    settings = get_settings()
    problem = engine_problem(settings)
    if problem:
        log.warning(
            "speech engine %s cannot run: %s; recordings fail with speech_engine_unavailable",
            settings.asr_engine,
            problem,
        )
    speakers = diarizer_problem(settings)
    if speakers:
        log.warning(
            "diarizer %s cannot run: %s; recordings fail with diarizer_unavailable",
            settings.diarization_engine,
            speakers,
        )
    return {
        "engine": settings.asr_engine,
        "problem": problem,
        "diarizer": settings.diarization_engine,
        "diarizer_problem": speakers,
    }


@worker_shutdown.connect
def _stop_liveness_key(sender=None, **_: object) -> None:
    _stop_liveness.set()
    try:
        get_broker_redis().delete(worker_key(getattr(sender, "hostname", "unknown")))
    except Exception:  # noqa: BLE001
        pass
