"""The queues, named once: each is a lane of work that waits on one kind of thing.

A lane is a Celery queue plus the way its worker runs, chosen by what the work waits on:

- `llm`: jobs built around LLM calls (chat, ask, tutor, ...): threads, MENTORQ_LLM_PARALLEL of them.
- `embed`: embedding batches (ingestion, re-embedding, `embed`): one process per copy of the model,
  two jobs at once in it (threads): one's vectors go into PostgreSQL's index while the other's pass
  runs on the model (one pass at a time: workers/embeddings/sentence.py).
- `query`: a search's query embedding: a process of its own.
- `cpu` and `maintenance`: parsing, chunking, fetching, sandboxed grading; reconcile, retention.
- `io`: webhook deliveries: threads.
- `transcribe`: recordings to transcripts (workers/recordings/): one process per copy of the speech
  model, so an hour-long lecture never holds up chat, search or ingestion.

An LLM call to a server (Ollama, an OpenAI-compatible server) is I/O for the worker: the GPU
batches requests that arrive together, so `llm` runs as many at once as the server has slots
(OLLAMA_NUM_PARALLEL). An in-process model (sentence-transformers, llama.cpp) runs one call at
a time per process and batches inside the call. A search waits for its query embedding while
its user watches, so that never queues behind a long generation or an ingestion batch.
"""

from __future__ import annotations

from collections.abc import Mapping

LLM = "llm"
EMBED = "embed"
QUERY = "query"
CPU = "cpu"
IO = "io"
MAINTENANCE = "maintenance"
TRANSCRIBE = "transcribe"

ALL = (LLM, EMBED, QUERY, CPU, IO, MAINTENANCE, TRANSCRIBE)

# Lanes whose jobs are admitted per user (db/admission.py): the scarce one is the LLM server's slots.
ADMITTED = frozenset({LLM})
# Lanes of long batch work: a worker that takes only these runs at this niceness (workers/signals.py),
# so that it yields the CPU to interactive work on a shared host.
BACKGROUND = frozenset({TRANSCRIBE})
BACKGROUND_NICENESS = 10
# Jobs an embed worker runs at once, sharing its one copy of the model.
EMBED_THREADS = 2
# Lanes whose worker loads the embedding model and should warm it up at start.
USES_EMBEDDING_MODEL = frozenset({LLM, EMBED, QUERY})
# Lanes whose jobs check a model's answer against passages (ask, tutor: workers/support).
CHECKS_SUPPORT = frozenset({LLM})
# Lanes whose jobs run code in the sandbox (workers/sandbox): grading on cpu, the exercise gate on
# llm. Only their workers probe the host's layers at start and report them.
RUNS_CODE = frozenset({CPU, LLM})


# An llm worker's threads per model-server slot, unless MENTORQ_LLM_THREADS says otherwise.
# Besides its generation, a job holds its thread through about a dozen round trips to PostgreSQL
# and Redis (claim, events, heartbeats, finish, the broker's ack and next fetch), and with one
# thread a slot the slot idles through them: nothing on one host, but with the GPU host 20 ms
# from the data host, 8.2 jobs/s where 8 threads on 4 slots made 14.0 (benchmarks.hosts). One a
# slot stays the default: the fairness and fan-in figures (benchmarks.llm_lanes) assume it.
LLM_THREADS_PER_SLOT = 1


def llm_parallel_in(*environments: Mapping[str, str | None]) -> int:
    """MENTORQ_LLM_PARALLEL from the first environment that sets it, else the setting's default
    (for the processes that start workers, before any Settings exist for them)."""
    from core.settings import Settings

    return _int_in("MENTORQ_LLM_PARALLEL", environments) or int(Settings.model_fields["llm_parallel"].default)


def llm_threads_in(*environments: Mapping[str, str | None]) -> int | None:
    """MENTORQ_LLM_THREADS from the first environment that sets it, else None (the lane's default)."""
    return _int_in("MENTORQ_LLM_THREADS", environments)


def _int_in(variable: str, environments: tuple[Mapping[str, str | None], ...]) -> int | None:
    for environment in environments:
        if value := environment.get(variable):
            return int(value)
    return None


def worker_arguments(lane: str, *, llm_parallel: int, llm_threads: int | None = None) -> list[str]:
    """The `celery worker` arguments that run one lane the way it waits (queue, pool, concurrency)."""
    if lane == LLM:
        threads = llm_threads or LLM_THREADS_PER_SLOT * llm_parallel
        return ["-Q", LLM, "--pool", "threads", "--concurrency", str(threads)]
    if lane == EMBED:
        # Two: with one, the index inserts (the platform's bound on a fast model) waited on each
        # job's bookkeeping and model pass; 0.72 of a bare COPY's rate then, 0.9 with two
        # (benchmarks.ingestion). More add nothing on one PostgreSQL core per insert stream.
        return ["-Q", EMBED, "--pool", "threads", "--concurrency", str(EMBED_THREADS)]
    if lane in (QUERY, TRANSCRIBE):
        return ["-Q", lane, "--concurrency", "1"]
    if lane == IO:
        return ["-Q", IO, "--pool", "threads", "--concurrency", "32"]
    if lane in (CPU, MAINTENANCE):
        return ["-Q", f"{CPU},{MAINTENANCE}"]
    raise ValueError(f"unknown lane {lane!r}; lanes are {', '.join(ALL)}")
