"""The peer side of `benchmarks.platform_overhead`: Procrastinate, a durable PostgreSQL-backed Python
job queue, on the same embedded PostgreSQL (fsync and synchronous commit on, as for mentorq), in a
database of its own, running one of two jobs:

- `noop`: nothing; the bar issues 30 and 63 set their aims against (a queue's own cost);
- `chat`: the platform's `chat` job's own work as a Procrastinate user would write it: one
  completion streamed from Ollama through the official client (its async one: Procrastinate's
  tasks are coroutines), the same prompt, model and options, the tokens joined. A team choosing
  between the platform and a bare queue would run this job on either; the platform's path pays
  for the same client. Procrastinate keeps no result, so the answer is not stored anywhere (the
  platform writes it into the job's row): the peer's figure stays a lower bound.

Procrastinate is a benchmark-only dependency: `.venv/bin/pip install -e ".[bench]"`.

- Workers: as many processes as mentorq's worker has prefork slots, one job at a time each
  (`procrastinate worker --concurrency 1`), told of new jobs by LISTEN/NOTIFY: the same number
  of job slots as the platform.
- Clients: C asyncio clients in the benchmark's process defer a job each (`defer_async`, one
  INSERT through a pool of connections) and wait for it to end. Procrastinate has no result
  backend, so one poller in the same process reads the waiting jobs' statuses every
  POLL_INTERVAL_S in one query and wakes their clients: a client's latency runs from its defer
  call to the poll that saw its job end.
- Server side: from the job's `deferred` event to its `succeeded` one (procrastinate_events).
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass

import ollama
import psycopg
from procrastinate import App, PsycopgConnector

from workers.llm.ollama import ollama_options

DSN_ENV = "BENCH_PROCRASTINATE_DSN"
# The `chat` job's Ollama (a fake one in a process of its own, so that answering costs neither
# side: the platform's fake lives in the benchmark's process, whose CPU is not the platform's) and
# the model the platform's stack names.
OLLAMA_ENV = "BENCH_PEER_OLLAMA_HOST"
MODEL_ENV = "BENCH_PEER_OLLAMA_MODEL"
CHAT_PROMPT = "hi"  # platform_overhead's CHAT_BODY
DATABASE = "procrastinate_peer"
QUEUE = "bench"
POLL_INTERVAL_S = 0.005
ENDED = ("succeeded", "failed", "cancelled", "aborted")

# The workers' app: its connector reads the DSN the benchmark gives their environment.
app = App(connector=PsycopgConnector(conninfo=os.environ.get(DSN_ENV, "")))


@app.task(queue=QUEUE, name="noop")
async def noop(index: int) -> int:
    return index


_ollama: ollama.AsyncClient | None = None  # one per worker process, as the platform keeps one per slot


@app.task(queue=QUEUE, name="chat")
async def chat(prompt: str) -> str:
    global _ollama
    if _ollama is None:
        _ollama = ollama.AsyncClient(host=os.environ[OLLAMA_ENV])
    messages = [{"role": "user", "content": prompt}]
    stream = await _ollama.chat(
        model=os.environ[MODEL_ENV], messages=messages, options=ollama_options(None), stream=True
    )
    return "".join([chunk.message.content or "" async for chunk in stream])


# Each job's keyword arguments, by the job's index in the phase.
JOB_ARGUMENTS = {"noop": lambda index: {"index": index}, "chat": lambda index: {"prompt": CHAT_PROMPT}}


@dataclass
class PeerOutcome:
    latency_s: float
    ok: bool
    error: str | None
    job_id: int | None


def prepare_database(database_url: str) -> str:
    """A fresh database on the platform's PostgreSQL with Procrastinate's schema; its DSN."""
    admin = database_url.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        db.execute(f"CREATE DATABASE {DATABASE}")
    dsn = psycopg.conninfo.make_conninfo(admin, dbname=DATABASE)
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute(app.schema_manager.get_schema())
    return dsn


def worker_command(python: str) -> list[str]:
    return [
        python,
        "-m",
        "procrastinate",
        "--app",
        "benchmarks.procrastinate_peer.app",
        "--log-level",
        "warning",
        "worker",
        "--queues",
        QUEUE,
        "--concurrency",
        "1",
    ]


async def _phase(
    dsn: str, *, jobs: int, clients: int, job_timeout_s: float, job: str = "noop"
) -> tuple[list[PeerOutcome], float]:
    waiting: dict[int, asyncio.Future[str]] = {}
    outcomes: list[PeerOutcome] = []
    todo = iter(range(jobs))
    # A producer's app (it knows the task by name only, as a separate service would), with a pool
    # of up to 10 connections for the C clients.
    producer = App(connector=PsycopgConnector(conninfo=dsn, min_size=1, max_size=10))
    deferrer = producer.configure_task(job, queue=QUEUE)
    arguments = JOB_ARGUMENTS[job]

    async def poll(stop: asyncio.Event) -> None:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as db:
            while not stop.is_set():
                if waiting:
                    rows = await (
                        await db.execute(
                            "SELECT id, status::text FROM procrastinate_jobs"
                            " WHERE id = ANY(%s) AND status::text = ANY(%s)",
                            (list(waiting), list(ENDED)),
                        )
                    ).fetchall()
                    for job_id, status in rows:
                        future = waiting.pop(job_id, None)
                        if future is not None and not future.done():
                            future.set_result(status)
                await asyncio.sleep(POLL_INTERVAL_S)

    async def client() -> None:
        loop = asyncio.get_running_loop()
        for index in todo:
            started = time.perf_counter()
            job_id = None
            try:
                job_id = await deferrer.defer_async(**arguments(index))
                future: asyncio.Future[str] = loop.create_future()
                waiting[job_id] = future
                status = await asyncio.wait_for(future, timeout=job_timeout_s)
                ok = status == "succeeded"
                reason = None if ok else f"job {status}"
                outcomes.append(PeerOutcome(time.perf_counter() - started, ok, reason, job_id))
            except Exception as error:  # noqa: BLE001 - counted, not raised
                if job_id is not None:
                    waiting.pop(job_id, None)
                outcomes.append(
                    PeerOutcome(time.perf_counter() - started, False, type(error).__name__, job_id)
                )

    stop = asyncio.Event()
    async with producer.open_async():
        poller = asyncio.create_task(poll(stop))
        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        wall = time.perf_counter() - started
        stop.set()
        await poller
    return outcomes, wall


def run_phase(dsn: str, **kwargs: float | int | str) -> tuple[list[PeerOutcome], float]:
    return asyncio.run(_phase(dsn, **kwargs))  # type: ignore[arg-type]


def server_side_ms(dsn: str, job_ids: list[int]) -> dict[int, float]:
    """Each job's deferred -> succeeded time, from its events, to the microsecond (as the
    platform's is: benchmarks/platform_overhead.py)."""
    with psycopg.connect(dsn) as db:
        rows = db.execute(
            """
            SELECT job_id,
                   extract(epoch FROM max(at) FILTER (WHERE type::text = 'succeeded')
                                    - min(at) FILTER (WHERE type::text = 'deferred')) * 1000
            FROM procrastinate_events WHERE job_id = ANY(%s) GROUP BY job_id
            """,
            (job_ids,),
        ).fetchall()
    return {job_id: float(ms) for job_id, ms in rows if ms is not None}
