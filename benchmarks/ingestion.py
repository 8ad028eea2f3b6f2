"""Ingestion: chunks/s end to end (upload -> every document `ready`) beside raw SentenceTransformer.encode,
and the platform's own ceiling: an encoder that costs nothing beside a bare COPY of the same rows.

    .venv/bin/python -m benchmarks.ingestion [--docs 40] [--instant-docs 100] [--shaped]

Starts, on loopback only: embedded PostgreSQL + Redis (migrated), the API under uvicorn, and the
workers as the production topology splits them on one small host: `-Q embed` shaped as
core/lanes.py runs the lane (threads, two jobs on one model copy), `-Q cpu,io,maintenance` (prefork,
concurrency 1) and `-Q query`. The script waits until the workers are quiet before measuring.

Corpus: deterministic Markdown notes (seeded, about 68 chunks each with the platform's chunker: a
title, 10 `##` sections of 7 paragraphs of English-like sentences).

Order (nothing competes with what is being timed):
1. (issue 52) instant encoder: an embed worker started from benchmarks/_instant_encoder.py (the real
   app, the model's pass replaced by a unit vector per text) takes `--instant-docs` documents;
   chunks/s from the POST to the last document ready.
2. bare COPY: those documents' chunk and vector rows copied out, deleted, vacuumed, and copied back
   into the same tables and indexes in one transaction (the floor under the platform).
3. raw encode, before: a child process loads `SentenceTransformer(packaged_minilm_path())`, encodes
   16 texts to warm up, then times `encode(texts, batch_size=--batch-size)` over the `--docs`
   corpus's chunk texts as this process chunks them (checked identical to what the platform stores).
4. warm-up: one small document through the platform (uncounted).
5. platform, real encoder: one multipart POST /v1/documents with every file (collection `bench`),
   then polling PostgreSQL every 0.25 s until every document is `ready`.
6. raw encode, after: the same child program on the chunk texts read back from the chunks table,
   with the heading prefix the platform embeds (db.embeddings.embedding_text). The primary baseline.
7. (--shaped) raw encode the way the worker calls it on a CPU: per document, calls of at most 128
   texts (workers/devices.py), in the worker's forward passes of 16.

Also: where the time goes, from each ingest job's recorded events (cpu queue wait, parse+chunk,
embed queue wait, embed stage), CPU seconds per process, and one hybrid search at the end.
Aims: platform chunks/s >= 0.85 x raw encode (issue 4); the instant encoder >= 3,000 chunks/s or
>= 0.8 x the bare COPY (issue 52). Printed PASS/MISS; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks._harness import (
    CpuMeter,
    argument_parser,
    begin_run,
    bench_stack,
    fmt,
    latency_summary_ms,
    percentile,
    print_table,
    python,
    ratio,
    register_token,
    spawn,
    verdict,
    wait_for_quiet,
    write_results,
)
from tests.support.stack import Stack
from workers.devices import CPU, embed_passes
from workers.embeddings.sentence import BATCH_SIZE as WORKER_BATCH_SIZE

NAME = "ingestion"
AIM_RATIO = 0.85
CEILING_AIM_CHUNKS_S = 3000  # an H100's all-MiniLM-L6-v2 rate in fp16, passes of 256 (issue 52)
CEILING_AIM_RATIO = 0.8
STAGE_LABELS = (
    ("cpu_queue_s", "cpu queue wait (upload -> parse starts)"),
    ("parse_chunk_s", "parse + chunk + store chunks (cpu worker)"),
    ("gpu_queue_s", "embed queue wait (hand-off -> embed starts)"),
    ("embed_stage_s", "embed stage: encode + store vectors + activate (embed worker)"),
)
COLLECTION = "bench"
READY_TIMEOUT_S = 1200.0
RAW_TIMEOUT_S = 900.0

WORDS = """system data model process queue worker task result event stream token latency throughput memory
storage index vector search query document chunk embedding network server client request response
learning student lesson practice exercise question answer feedback progress review concept example
theory method analysis design pattern function variable argument value type structure object class
interface module package library framework runtime compiler interpreter thread lock schedule timer
signal message channel buffer cache layer format parser grammar syntax semantic context window batch
training inference gradient weight bias activation neuron matrix tensor dimension cosine distance
graph node edge tree path cycle sort merge split join filter map reduce count sum average median
history culture language writing reading speaking listening vocabulary sentence paragraph chapter
mountain river ocean forest weather climate energy water carbon planet orbit gravity light sound
careful quick simple complex robust fragile early late small large common rare useful important
measure compare explain describe improve reduce increase observe predict verify retry recover""".split()  # noqa: SIM905
CONNECT = "the a of to and in for with on that is by as from at this which can when each".split()  # noqa: SIM905


# --------------------------------------------------------------------------- corpus


def _sentence(rng: random.Random) -> str:
    words = [
        rng.choice(CONNECT) if rng.random() < 0.35 else rng.choice(WORDS) for _ in range(rng.randint(8, 20))
    ]
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


def markdown_document(index: int, *, sections: int = 10, paragraphs: int = 7) -> str:
    """A deterministic Markdown note (seeded by its index)."""
    rng = random.Random(1000 + index)
    lines = [f"# Notes {index}: {rng.choice(WORDS)} and {rng.choice(WORDS)}", ""]
    for section in range(sections):
        lines += [f"## {rng.choice(WORDS).title()} {rng.choice(WORDS)} {section + 1}", ""]
        for _ in range(paragraphs):
            lines += [" ".join(_sentence(rng) for _ in range(rng.randint(4, 8))), ""]
    return "\n".join(lines)


def platform_chunk_texts(documents: list[tuple[str, bytes]]) -> list[list[str]]:
    """Per document, the texts the platform will embed (its parser, chunker and heading prefix)."""
    from db.embeddings import embedding_text
    from workers.documents import MINILM_OVERLAP_TOKENS, MINILM_TARGET_TOKENS, chunk_document, parse_document

    out = []
    for filename, content in documents:
        parsed = parse_document(content, filename=filename, content_type="text/markdown")
        chunks = chunk_document(
            parsed, target_tokens=MINILM_TARGET_TOKENS, overlap_tokens=MINILM_OVERLAP_TOKENS
        )
        out.append([embedding_text(chunk.text, chunk.heading_path) for chunk in chunks])
    return out


# --------------------------------------------------------------------------- raw encode (child)


def raw_encode_child(spec_path: str, out_path: str) -> None:
    """Child mode: load the packaged model, warm up, time encode() over the texts in the spec."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    spec = json.loads(Path(spec_path).read_text())
    import torch
    from sentence_transformers import SentenceTransformer

    from core.catalog import packaged_minilm_path

    model = SentenceTransformer(str(packaged_minilm_path()), device="cpu")
    groups: list[list[str]] = spec["groups"]
    flat = [text for group in groups for text in group]
    model.encode(flat[:16], batch_size=16, normalize_embeddings=True, show_progress_bar=False)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if spec["mode"] == "bulk":
        vectors = model.encode(
            flat,
            batch_size=spec["batch_size"],
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        rows = vectors.shape[0]
    else:  # shaped: one call per group, as the worker calls it
        rows = 0
        for group in groups:
            rows += model.encode(
                group,
                batch_size=spec["batch_size"],
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ).shape[0]
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    Path(out_path).write_text(
        json.dumps(
            {
                "texts": rows,
                "wall_s": wall,
                "cpu_s": cpu,
                "chunks_per_s": rows / wall,
                "torch_threads": torch.get_num_threads(),
                "mode": spec["mode"],
                "batch_size": spec["batch_size"],
            }
        )
    )


def run_raw(
    stack: Stack, name: str, groups: list[list[str]], *, mode: str, batch_size: int
) -> dict[str, Any]:
    spec = stack.root / f"{name}.spec.json"
    out = stack.root / f"{name}.out.json"
    spec.write_text(json.dumps({"groups": groups, "mode": mode, "batch_size": batch_size}))
    process = spawn(
        stack, name, [python(), "-m", "benchmarks.ingestion", "--raw-encode-child", str(spec), str(out)]
    )
    try:
        process.wait(RAW_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        stack.stop(name)
        return {"error": "timeout"}
    stack.processes.pop(name, None)
    if process.returncode != 0 or not out.exists():
        log = (stack.root / f"{name}.log").read_text()[-2000:]
        return {"error": f"exit {process.returncode}: {log}"}
    return json.loads(out.read_text())


# --------------------------------------------------------------------------- platform side


def upload(http: httpx.Client, documents: list[tuple[str, bytes]], *, collection: str) -> dict[str, Any]:
    files = [("files", (name, content, "text/markdown")) for name, content in documents]
    response = http.post("/v1/documents", files=files, data={"collection": collection}, timeout=300)
    response.raise_for_status()
    return response.json()


def wait_ready(stack: Stack, names: list[str], timeout_s: float) -> tuple[dict[str, int], float]:
    started = time.monotonic()
    counts: dict[str, int] = {}
    while time.monotonic() - started < timeout_s:
        rows = stack.sql(
            "SELECT status, count(*) FROM documents WHERE filename = ANY(%s) GROUP BY status", names
        )
        counts = {status: count for status, count in rows}
        if counts.get("ready", 0) + counts.get("failed", 0) >= len(names):
            break
        time.sleep(0.25)
    return counts, time.monotonic() - started


def stage_times(stack: Stack, names: list[str]) -> list[dict[str, float | None]]:
    """Per ingest job, from its recorded events: queue waits and stage durations (seconds)."""
    rows = stack.sql(
        "SELECT d.id, e.type, e.data, e.created_at FROM documents d JOIN job_events e ON "
        "e.job_id = d.ingest_job_id "
        "WHERE d.filename = ANY(%s) ORDER BY d.id, e.id",
        names,
    )
    jobs: dict[Any, list[tuple[str, Any, datetime]]] = {}
    for doc_id, type_, data, at in rows:
        jobs.setdefault(doc_id, []).append((type_, data, at))
    out = []
    for events in jobs.values():

        def at(pred, events=events) -> datetime | None:
            return next((e[2] for e in events if pred(e)), None)

        queued = at(lambda e: e[0] == "queued")
        started = [e[2] for e in events if e[0] == "started"]
        handoff = at(lambda e: e[0] == "progress" and (e[1] or {}).get("stage") == "embed")
        done = at(lambda e: e[0] == "succeeded")

        def secs(a: datetime | None, b: datetime | None) -> float | None:
            return (b - a).total_seconds() if a and b else None

        out.append(
            {
                "cpu_queue_s": secs(queued, started[0] if started else None),
                "parse_chunk_s": secs(started[0] if started else None, handoff),
                "gpu_queue_s": secs(handoff, started[1] if len(started) > 1 else None),
                "embed_stage_s": secs(started[1] if len(started) > 1 else None, done),
                "first_start": started[0] if started else None,
                "embed_start": started[1] if len(started) > 1 else None,
                "done": done,
            }
        )
    return out


def read_back_texts(stack: Stack, names: list[str]) -> list[list[str]]:
    from db.embeddings import embedding_text

    rows = stack.sql(
        "SELECT d.filename, c.text, c.heading_path FROM chunks c JOIN documents d ON d.id = c.document_id "
        "AND c.generation = d.active_generation WHERE d.filename = ANY(%s) ORDER BY d.filename, c.position",
        names,
    )
    groups: dict[str, list[str]] = {}
    for filename, text, heading_path in rows:
        groups.setdefault(filename, []).append(embedding_text(text, heading_path))
    return [groups[name] for name in sorted(groups)]


# --------------------------------------------------------------------------- platform runs


def embed_lane_shape() -> tuple[str, int]:
    """(pool, concurrency) the embed lane runs with (core/lanes.py), as `mentorq worker --lane embed`."""
    from core import lanes

    arguments = lanes.worker_arguments(lanes.EMBED, llm_parallel=1)
    pool = arguments[arguments.index("--pool") + 1] if "--pool" in arguments else "prefork"
    return pool, int(arguments[arguments.index("--concurrency") + 1])


def start_embed_worker(stack: Stack, name: str, *, app: str = "workers.celery_app") -> None:
    pool, concurrency = embed_lane_shape()
    stack.start_worker(name, queues="embed", concurrency=concurrency, pool=pool, app=app)


def platform_run(
    stack: Stack,
    http: httpx.Client,
    documents: list[tuple[str, bytes]],
    roots: dict[str, int],
    *,
    collection: str,
) -> dict[str, Any]:
    """One warm-up document, then every document in one upload; timed until the last is ready."""
    quiet_roots = {k: v for k, v in roots.items() if k != "bench_process"}
    warm_name = f"warmup-{collection}.md"
    http.post(
        "/v1/documents",
        files=[("files", (warm_name, markdown_document(99999, sections=2).encode(), "text/markdown"))],
        data={"collection": f"warmup-{collection}"},
    )
    warm_counts, _ = wait_ready(stack, [warm_name], 300)
    if warm_counts.get("ready") != 1:
        print(f"warning: warm-up document: {warm_counts}", flush=True)
    wait_for_quiet(quiet_roots, timeout_s=60)

    names = [name for name, _ in documents]
    meter = CpuMeter(roots, self_only=["bench_process"])
    meter.start()
    sent_wall = time.time()
    started = time.perf_counter()
    submitted = upload(http, documents, collection=collection)
    upload_s = time.perf_counter() - started
    counts, _ = wait_ready(stack, names, READY_TIMEOUT_S)
    poll_wall_s = time.perf_counter() - started
    cpu = meter.stop()
    last_ready = stack.sql("SELECT max(updated_at) FROM documents WHERE filename = ANY(%s)", names)[0][0]
    wall = (last_ready.timestamp() - sent_wall) if last_ready else poll_wall_s
    stored = stack.sql(
        "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id "
        "AND c.generation = d.active_generation WHERE d.filename = ANY(%s)",
        names,
    )[0][0]
    embedded = stack.sql(
        "SELECT count(*) FROM embeddings e JOIN chunks c ON c.id = e.chunk_id JOIN documents d "
        "ON d.id = c.document_id AND c.generation = d.active_generation WHERE d.filename = ANY(%s)",
        names,
    )[0][0]
    return {
        "submitted": len(submitted.get("items", [])),
        "statuses": counts,
        "chunks": stored,
        "embeddings": embedded,
        "upload_request_s": round(upload_s, 3),
        "wall_s": round(wall, 3),
        "poll_wall_s": round(poll_wall_s, 3),
        "chunks_per_s": stored / wall if wall else None,
        "cpu_s": cpu,
        "stages": stage_times(stack, names),
    }


CHUNK_COLUMNS = (
    "id, document_id, generation, position, text, heading_path, start_s, end_s, page, token_count, speakers"
)


def bare_copy(stack: Stack, names: list[str]) -> dict[str, Any]:
    """The floor under the platform: the same chunk and vector rows it wrote for `names`, taken out
    (binary COPY TO), deleted, vacuumed, and put back with one binary COPY each into the same
    tables and indexes (the chunks' text search GIN, the vectors' HNSW), in one transaction."""
    import psycopg

    url = stack.database_url.replace("+psycopg", "")
    of_documents = "SELECT id FROM documents WHERE filename = ANY(%s)"
    queries = {
        "chunks": f"SELECT {CHUNK_COLUMNS} FROM chunks WHERE document_id IN ({of_documents})",
        "embeddings": "SELECT e.chunk_id, e.model, e.embedding FROM embeddings e JOIN chunks c ON "
        f"c.id = e.chunk_id WHERE c.document_id IN ({of_documents})",
    }
    taken: dict[str, bytes] = {}
    with psycopg.connect(url) as db:
        for table, query in queries.items():
            data = bytearray()
            with db.cursor().copy(f"COPY ({query}) TO STDOUT (FORMAT BINARY)", (names,)) as copy:
                for block in copy:
                    data += block
            taken[table] = bytes(data)
        db.execute(f"DELETE FROM chunks WHERE document_id IN ({of_documents})", (names,))  # vectors cascade
        db.commit()
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("VACUUM chunks")
        db.execute("VACUUM embeddings")
    with psycopg.connect(url) as db:
        started = time.perf_counter()
        with db.cursor().copy(f"COPY chunks ({CHUNK_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(taken["chunks"])
        chunks_s = time.perf_counter() - started
        with db.cursor().copy(
            "COPY embeddings (chunk_id, model, embedding) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.write(taken["embeddings"])
        db.commit()
        wall = time.perf_counter() - started
    rows = stack.sql(
        "SELECT count(*) FROM embeddings e JOIN chunks c ON c.id = e.chunk_id JOIN documents d "
        "ON d.id = c.document_id AND c.generation = d.active_generation WHERE d.filename = ANY(%s)",
        names,
    )[0][0]
    return {
        "chunks": rows,
        "wall_s": round(wall, 3),
        "chunks_copy_s": round(chunks_s, 3),
        "embeddings_copy_s": round(wall - chunks_s, 3),
        "chunks_per_s": rows / wall if wall else None,
    }


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argument_parser(NAME, __doc__)
    add = parser.add_argument
    add(
        "--docs",
        type=int,
        default=40,
        help="documents through the real encoder, ~68 chunks each (default 40)",
    )
    add(
        "--instant-docs",
        type=int,
        default=100,
        help="documents through the instant encoder, then the bare COPY (default 100; 0: skip both)",
    )
    add(
        "--batch-size",
        type=int,
        default=WORKER_BATCH_SIZE,
        help=f"raw encode forward-pass size (default {WORKER_BATCH_SIZE}, the worker's on a CPU)",
    )
    add("--shaped", action="store_true", help="also time raw encode the way the worker calls it")
    add("--no-before", action="store_true", help="skip the raw encode before the platform run")
    add("--raw-encode-child", nargs=2, metavar=("SPEC", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.raw_encode_child and (
        not 1 <= args.docs <= 500 or not 0 <= args.instant_docs <= 2000 or args.batch_size < 1
    ):
        parser.error("--docs in 1..500, --instant-docs in 0..2000, --batch-size >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.raw_encode_child:
        raw_encode_child(*args.raw_encode_child)
        return 0
    run = begin_run()
    total, machine = run.total, run.machine
    documents = [(f"notes-{i:03d}.md", markdown_document(i).encode()) for i in range(args.docs)]
    instant_documents = [
        (f"instant-{i:04d}.md", markdown_document(5000 + i).encode()) for i in range(args.instant_docs)
    ]
    names = [name for name, _ in documents]
    local_groups = platform_chunk_texts(documents)
    n_chunks = sum(len(g) for g in local_groups)
    print(
        f"corpus: {args.docs} Markdown documents, {sum(len(c) for _, c in documents) / 1e6:.2f} MB, "
        f"{n_chunks} chunks (the platform's chunker); {args.instant_docs} more for the instant encoder",
        flush=True,
    )
    pool, concurrency = embed_lane_shape()
    figures: dict[str, Any] = {
        "documents": args.docs,
        "chunks_expected": n_chunks,
        "embed_lane": {"pool": pool, "concurrency": concurrency},
    }
    with bench_stack(llm_provider="ollama", keep=args.keep) as stack:
        print(
            f"starting the stack (worker-embed -Q embed {pool} {concurrency}, worker-cpu -Q "
            "cpu,io,maintenance prefork 1, worker-query -Q query prefork 1) ...",
            flush=True,
        )
        stack.start_api()
        stack.start_worker("worker-cpu", queues="cpu,io,maintenance", concurrency=1)
        # The search at the end embeds its query on the query lane (idle during the timed part).
        stack.start_worker("worker-query", queues="query", concurrency=1)
        token = register_token(stack.api_url)
        headers = {"Authorization": f"Bearer {token}"}
        http = httpx.Client(base_url=stack.api_url, headers=headers, timeout=60)

        def roots(embed_worker: str) -> dict[str, int]:
            return {
                "api": stack.processes["api"].pid,
                "worker_embed": stack.processes[embed_worker].pid,
                "worker_query": stack.processes["worker-query"].pid,
                "worker_cpu": stack.processes["worker-cpu"].pid,
                "postgres": stack.postgres.pid,
                "redis": stack.redis.pid,
                "bench_process": os.getpid(),
            }

        if instant_documents:
            print(f"instant encoder: {args.instant_docs} documents through the platform ...", flush=True)
            start_embed_worker(stack, "worker-embed-instant", app="benchmarks._instant_encoder")
            instant_roots = roots("worker-embed-instant")
            wait_for_quiet({k: v for k, v in instant_roots.items() if k != "bench_process"})
            figures["instant"] = platform_run(
                stack, http, instant_documents, instant_roots, collection="bench-instant"
            )
            stack.stop("worker-embed-instant")
            print("bare COPY of the same rows into the same tables ...", flush=True)
            figures["bare_copy"] = bare_copy(stack, [name for name, _ in instant_documents])

        start_embed_worker(stack, "worker-embed")
        real_roots = roots("worker-embed")
        quiet = wait_for_quiet({k: v for k, v in real_roots.items() if k != "bench_process"})
        print(f"workers quiet after {quiet:.0f} s (the embed worker loads the model at start)", flush=True)
        if not args.no_before:
            print(
                f"raw encode (before): {n_chunks} texts, batch_size {args.batch_size}, separate process ...",
                flush=True,
            )
            figures["raw_before"] = run_raw(
                stack, "raw-before", local_groups, mode="bulk", batch_size=args.batch_size
            )
        print(f"platform: uploading {args.docs} documents, waiting until all are ready ...", flush=True)
        figures["platform"] = platform_run(stack, http, documents, real_roots, collection=COLLECTION)
        search = http.post(
            "/v1/search",
            json={"query": "vector search latency", "k": 5, "mode": "hybrid", "collections": [COLLECTION]},
            timeout=60,
        )
        figures["search_check"] = {
            "status": search.status_code,
            "hits": len(search.json().get("items", [])) if search.status_code == 200 else 0,
        }
        http.close()

        db_groups = read_back_texts(stack, names)
        figures["texts_identical_to_local_chunking"] = sorted(t for g in db_groups for t in g) == sorted(
            t for g in local_groups for t in g
        )
        wait_for_quiet({k: v for k, v in real_roots.items() if k != "bench_process"}, timeout_s=60)
        print(
            f"raw encode (after): {sum(len(g) for g in db_groups)} texts read back from the chunks table ...",
            flush=True,
        )
        figures["raw_after"] = run_raw(stack, "raw-after", db_groups, mode="bulk", batch_size=args.batch_size)
        if args.shaped:
            per_call = embed_passes(CPU).texts_per_call
            print(
                f"raw encode shaped like the worker (per document, calls of at most {per_call}, "
                f"batch_size {WORKER_BATCH_SIZE}) ...",
                flush=True,
            )
            figures["raw_shaped"] = run_raw(
                stack,
                "raw-shaped",
                [g[i : i + per_call] for g in db_groups for i in range(0, len(g), per_call)],
                mode="shaped",
                batch_size=WORKER_BATCH_SIZE,
            )

    report = _report(args, figures, machine, total.elapsed())
    path = write_results(NAME, report)
    print(f"\nfigures written to {path.relative_to(path.parents[2])}; whole run {total.elapsed():.0f} s")
    return 0


def _report(
    args: argparse.Namespace, figures: dict[str, Any], machine: dict[str, Any], elapsed: float
) -> dict[str, Any]:
    plat = figures["platform"]
    raws = {k: figures[k] for k in ("raw_before", "raw_after", "raw_shaped") if k in figures}
    after = raws.get("raw_after", {})
    primary = after.get("chunks_per_s")
    print()
    lane = figures["embed_lane"]
    print(
        f"Ingestion — {args.docs} Markdown documents, {plat['chunks']} chunks, all-MiniLM-L6-v2 on CPU, "
        f"{machine['cpus_usable']} CPUs ({machine['cpu_model']}), {machine['date']}; embed lane "
        f"{lane['pool']} x{lane['concurrency']}"
    )
    rows = []
    labels = {
        "raw_before": f"raw encode, batch_size {args.batch_size} (before the platform run)",
        "raw_after": f"raw encode, batch_size {args.batch_size} (after; texts from the chunks table)",
        "raw_shaped": f"raw encode shaped like the worker (per document, batch_size {WORKER_BATCH_SIZE})",
    }
    for key in ("raw_before", "raw_after", "raw_shaped"):
        if key in raws:
            raw = raws[key]
            rows.append(
                [
                    labels[key],
                    raw.get("texts"),
                    raw.get("wall_s"),
                    raw.get("chunks_per_s"),
                    f"{fmt(ratio(raw.get('chunks_per_s'), primary), 2)}x",
                ]
            )
    rows.append(
        [
            "platform: upload -> every document ready",
            plat["chunks"],
            plat["wall_s"],
            plat["chunks_per_s"],
            f"{fmt(ratio(plat['chunks_per_s'], primary), 2)}x",
        ]
    )
    print_table(["path", "chunks", "seconds", "chunks/s", "vs raw (after)"], rows)

    instant, copy = figures.get("instant"), figures.get("bare_copy")
    ceiling_ratio = None
    if instant and copy:
        ceiling_ratio = ratio(instant["chunks_per_s"], copy["chunks_per_s"])
        print()
        print_table(
            ["the platform's own ceiling (issue 52)", "chunks", "seconds", "chunks/s", "vs bare COPY"],
            [
                [
                    "platform, instant encoder: upload -> every document ready",
                    instant["chunks"],
                    instant["wall_s"],
                    instant["chunks_per_s"],
                    f"{fmt(ceiling_ratio, 2)}x",
                ],
                [
                    "bare COPY of the same chunk and vector rows (one transaction)",
                    copy["chunks"],
                    copy["wall_s"],
                    copy["chunks_per_s"],
                    "1.00x",
                ],
                [
                    "platform, all-MiniLM-L6-v2 on this CPU (above)",
                    plat["chunks"],
                    plat["wall_s"],
                    plat["chunks_per_s"],
                    f"{fmt(ratio(plat['chunks_per_s'], copy['chunks_per_s']), 2)}x",
                ],
            ],
        )
        print(
            f"bare COPY: chunks {fmt(copy['chunks_copy_s'], 2)} s, vectors into the HNSW index "
            f"{fmt(copy['embeddings_copy_s'], 2)} s"
        )

    the_ratio = ratio(plat["chunks_per_s"], primary)
    raw_rates = [r["chunks_per_s"] for r in (raws.get("raw_before"), after) if r and r.get("chunks_per_s")]
    mean_ratio = ratio(plat["chunks_per_s"], sum(raw_rates) / len(raw_rates)) if raw_rates else None
    print()
    print_table(
        ["aim (issue 4)", "measured", "verdict"],
        [
            [
                f"platform chunks/s >= {AIM_RATIO}x raw encode (after)",
                f"{fmt(the_ratio, 2)}x",
                verdict(the_ratio is not None and the_ratio >= AIM_RATIO),
            ],
            [
                "same, against the mean of before and after",
                f"{fmt(mean_ratio, 2)}x",
                verdict(mean_ratio is not None and mean_ratio >= AIM_RATIO),
            ],
            [
                "every document ready, every chunk embedded",
                f"{json.dumps(plat['statuses'])}, {plat['embeddings']}/{plat['chunks']}",
                verdict(plat["statuses"].get("ready") == args.docs and plat["embeddings"] == plat["chunks"]),
            ],
            *(
                [
                    [
                        f"(issue 52) instant encoder >= {CEILING_AIM_CHUNKS_S} chunks/s",
                        fmt(instant["chunks_per_s"]),
                        verdict(instant["chunks_per_s"] >= CEILING_AIM_CHUNKS_S),
                    ],
                    [
                        f"(issue 52) or, bound by the index inserts, >= {CEILING_AIM_RATIO}x the bare COPY",
                        f"{fmt(ceiling_ratio, 2)}x",
                        verdict(ceiling_ratio is not None and ceiling_ratio >= CEILING_AIM_RATIO),
                    ],
                    [
                        "(issue 52) every instant document ready, every chunk embedded",
                        f"{json.dumps(instant['statuses'])}, {instant['embeddings']}/{instant['chunks']}",
                        verdict(
                            instant["statuses"].get("ready") == args.instant_docs
                            and instant["embeddings"] == instant["chunks"] == copy["chunks"]
                        ),
                    ],
                ]
                if instant and copy
                else []
            ),
        ],
    )
    if instant:
        _print_stages("instant encoder", instant["stages"])

    stages = plat["stages"]

    def column(key: str) -> list[float]:
        return [s[key] for s in stages if s[key] is not None]

    _print_stages("real encoder", stages)
    embed_sum = sum(column("embed_stage_s"))
    starts = [s["embed_start"] for s in stages if s["embed_start"]]
    first_embed = min(starts) if starts else None
    first_parse = min((s["first_start"] for s in stages if s["first_start"]), default=None)
    ends = [s["done"] for s in stages if s["done"]]
    stage_summary = {}
    if first_embed and ends and first_parse:
        span = (max(ends) - first_parse).total_seconds()
        stage_summary = {
            "first_parse_to_first_embed_s": (first_embed - first_parse).total_seconds(),
            "embed_stage_sum_s": embed_sum,
            "first_parse_to_last_ready_s": span,
            "gpu_worker_busy_fraction": embed_sum / span if span else None,
        }
        print(
            f"embed worker busy with embed stages {fmt(embed_sum)} s of the {fmt(span)} s from the "
            "first parse to "
            f"the last ready ({fmt(100 * embed_sum / span)}%); first embed started "
            f"{fmt(stage_summary['first_parse_to_first_embed_s'], 2)} s after the first parse; "
            f"upload request {fmt(plat['upload_request_s'], 2)} s"
        )
    n = plat["chunks"] or 1
    per_chunk = {name: round(1000 * sec / n, 2) for name, sec in plat["cpu_s"].items()}
    print(f"CPU ms per chunk during the platform run: {json.dumps(per_chunk)}")
    for key, raw in raws.items():
        if raw.get("cpu_s"):
            print(
                f"CPU ms per chunk, {key}: {fmt(1000 * raw['cpu_s'] / raw['texts'], 2)} "
                f"(torch threads {raw.get('torch_threads')})"
            )
        if raw.get("error"):
            print(f"{key} error: {raw['error']}")
    print(
        f"texts read back identical to the local chunking: {figures['texts_identical_to_local_chunking']}; "
        f"hybrid search afterwards: HTTP {figures['search_check']['status']}, "
        f"{figures['search_check']['hits']} hits"
    )
    embed_values = column("embed_stage_s")
    return {
        "benchmark": NAME,
        "machine": machine,
        "settings": {
            "docs": args.docs,
            "batch_size": args.batch_size,
            "workers": f"embed {lane['pool']} {lane['concurrency']}; cpu,io,maintenance prefork 1",
            "instant_docs": args.instant_docs,
            "model": "all-MiniLM-L6-v2 (packaged)",
            "aim_ratio": AIM_RATIO,
        },
        **{k: _without_stages(v) for k, v in figures.items()},
        "stages_summary": {**stage_summary, "embed_stage": latency_summary_ms(embed_values)},
        "stages": [
            {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in s.items()} for s in stages
        ],
        "ceiling_ratio_vs_bare_copy": ceiling_ratio,
        "ratio_vs_raw_after": the_ratio,
        "ratio_vs_raw_mean": mean_ratio,
        "cpu_ms_per_chunk": per_chunk,
        "elapsed_s": round(elapsed, 1),
    }


def _without_stages(value: Any) -> Any:
    return {k: v for k, v in value.items() if k != "stages"} if isinstance(value, dict) else value


def _print_stages(label: str, stages: list[dict[str, Any]]) -> None:
    rows = []
    for key, name in STAGE_LABELS:
        values = [s[key] for s in stages if s[key] is not None]
        rows.append([name, sum(values), percentile(values, 50), percentile(values, 95)])
    print()
    print_table([f"where time goes, per document ({label})", "sum s", "p50 s", "p95 s"], rows)


if __name__ == "__main__":
    sys.exit(main())
