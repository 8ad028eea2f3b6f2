"""The CPU's embedding runtime (ONNX Runtime on an export of all-MiniLM-L6-v2) against
sentence-transformers, the baseline it replaced, in one run: a worker's start and the embedding of
real passages.

    .venv/bin/python -m benchmarks.embedder_start [--rounds 2] [--texts 512]

1. A worker of the embedding lanes (`-Q llm,embed,query`, prefork, 2 processes) started on a stack
   and stopped again, interleaved: with the export in its cache (the runtime), and with a cache it
   cannot write (the worker then embeds through sentence-transformers, as every worker did before).
   Printed: seconds to ready (Celery answers a ping), seconds until its processes are quiet (the
   children load the model in the background), and the CPU of start, warm-up and stop.
2. No stack: WiCE's cited web passages (benchmarks/data/wice) embedded in passes of 16, as a CPU
   worker does, by each in this process: texts/s, CPU ms per text, and how far apart their vectors
   are. Nothing is asserted; tests/workers/test_minilm_runtime.py checks the vectors.
"""

from __future__ import annotations

import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import _wice
from benchmarks._harness import (
    argument_parser,
    begin_run,
    bench_stack,
    print_table,
    ratio,
    wait_for_quiet,
    write_results,
)
from core.catalog import packaged_minilm_path
from workers.embeddings.minilm_export import exported_model
from workers.embeddings.minilm_runtime import OnnxMiniLM

NAME = "embedder_start"
QUEUES = "llm,embed,query"
PASS = 16


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _start_once(stack, cache: str) -> dict[str, float]:  # noqa: ANN001 - tests.support's Stack
    before, began = _children_cpu(), time.monotonic()
    process = stack.start_worker("embedder", queues=QUEUES, extra_env={"MENTORQ_MODEL_CACHE": cache})
    ready = time.monotonic() - began
    wait_for_quiet({"embedder": process.pid})
    quiet = time.monotonic() - began
    stack.stop("embedder")
    return {"ready_s": ready, "quiet_s": quiet, "cpu_s": _children_cpu() - before}


def worker_starts(rounds: int) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="mentorq-embedder-") as folder:
        cache = exported_model(Path(folder)).parent  # made before the clock
        blocked = Path(folder) / "not-a-folder"
        blocked.write_text("")  # a cache under a file cannot be written: sentence-transformers embeds
        runs: dict[str, list[dict[str, float]]] = {"sentence-transformers": [], "ONNX Runtime": []}
        with bench_stack(llm_provider="ollama") as stack:
            for _ in range(rounds):
                runs["sentence-transformers"].append(_start_once(stack, str(blocked / "cache")))
                runs["ONNX Runtime"].append(_start_once(stack, str(cache)))
    return {
        name: {key: statistics.fmean(run[key] for run in found) for key in found[0]}
        for name, found in runs.items()
    }


def embedding(count: int) -> dict[str, dict[str, float]]:
    from sentence_transformers import SentenceTransformer

    texts = [" ".join(p.evidence) for claim in _wice.load("test") for p in _wice.passages(claim)][:count]
    with tempfile.TemporaryDirectory(prefix="mentorq-embedder-") as folder:
        runtime = OnnxMiniLM(exported_model(Path(folder)))
        library = SentenceTransformer(str(packaged_minilm_path()), device="cpu")
        encoders = {
            "sentence-transformers": lambda: library.encode(
                texts, batch_size=PASS, normalize_embeddings=True
            ),
            "ONNX Runtime": lambda: runtime.encode(texts, batch_size=PASS),
        }
        figures: dict[str, dict[str, float]] = {}
        vectors = {}
        for name in [*encoders, *encoders]:  # interleaved: each twice, the second counted
            wall, cpu = time.perf_counter(), time.process_time()
            vectors[name] = encoders[name]()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            figures[name] = {"texts_per_s": len(texts) / wall, "cpu_ms_per_text": cpu / len(texts) * 1e3}
    difference = float(np.abs(vectors["ONNX Runtime"] - vectors["sentence-transformers"]).max())
    figures["ONNX Runtime"]["max_difference"] = difference
    return figures


def main() -> None:
    parser = argument_parser(NAME, __doc__)
    parser.add_argument("--rounds", type=int, default=2, help="starts of each worker, interleaved")
    parser.add_argument("--texts", type=int, default=512, help="WiCE passages embedded by each")
    args = parser.parse_args()
    run = begin_run()
    starts = worker_starts(args.rounds)
    base, new = starts["sentence-transformers"], starts["ONNX Runtime"]
    print_table(
        ["embedding worker (-Q llm,embed,query)", "ready s", "quiet s", "CPU s, start to stop"],
        [
            *([name, f["ready_s"], f["quiet_s"], f["cpu_s"]] for name, f in starts.items()),
            [
                "runtime ÷ library",
                *(f"{ratio(new[k], base[k]):.2f}" for k in ("ready_s", "quiet_s", "cpu_s")),
            ],
        ],
        title=f"a worker's start, mean of {args.rounds} each, interleaved",
    )
    embedded = embedding(args.texts)
    base, new = embedded["sentence-transformers"], embedded["ONNX Runtime"]
    print_table(
        ["embedder", "texts/s", "CPU ms/text"],
        [
            *([name, f["texts_per_s"], f["cpu_ms_per_text"]] for name, f in embedded.items()),
            [
                "runtime ÷ library",
                *(f"{ratio(new[k], base[k]):.2f}" for k in ("texts_per_s", "cpu_ms_per_text")),
            ],
        ],
        title=f"{args.texts} WiCE passages in passes of {PASS}; vectors apart by {new['max_difference']:.1e}",
    )
    path = write_results(
        NAME, {"machine": run.machine, "worker_start": starts, "embedding": embedded, "args": vars(args)}
    )
    print(f"results: {path} ({run.total.elapsed():.0f} s)")


if __name__ == "__main__":
    main()
