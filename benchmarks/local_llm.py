"""Local model tokens/s: through the platform vs straight through llama.cpp, in one run.

    .venv/bin/python -m benchmarks.local_llm [--reps 5] [--max-tokens 128]

Direct: a child process loads `llama_cpp.Llama` on the packaged SmolLM2-135M-Instruct GGUF
with the settings the worker uses (n_ctx, n_threads from workers/llm/local.py) and, per
repetition, streams `create_chat_completion` (fixed prompt, max_tokens, temperature 0).
tokens/s = completion tokens / generation time (from the call to the last chunk, prompt
evaluation included).

Platform: the real stack (embedded PostgreSQL + Redis, the API under uvicorn, one worker on
all queues, MENTORQ_LLM_PROVIDER=local) runs a `chat` job with the same prompt and options,
submitted with `Prefer: wait=60`. tokens/s = output.usage.completion_tokens / metrics.run_ms
(started_at -> completed_at of the job row: claim, progress and output events, generation
and finish are inside it; queueing and HTTP are not). The end-to-end figure (client latency)
is printed beside it.

Tokens are counted the same way on both sides: the worker's streaming path counts
`len(llm.tokenize(text))` of the answer, so the direct side does too (the number of stream
chunks is recorded as well).

The two never compete for the cores: they run sequentially, interleaved repetition by
repetition (direct, then platform, N times); while one generates the other is idle (the
direct process blocks on its stdin, the worker on its queue). Each side gets one uncounted
warm-up generation first (it loads the model). Beat is not started (the reconciler touches
no healthy job; --beat starts it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx

from benchmarks._harness import (
    CpuMeter,
    argument_parser,
    begin_run,
    bench_stack,
    fmt,
    print_table,
    python,
    ratio,
    start_platform,
    verdict,
    write_results,
)
from tests.support.stack import REPO, Stack

NAME = "local_llm"
AIM_RATIO = 0.9
DEFAULT_PROMPT = "Write a short story about a robot who learns to paint."
TERMINAL = {"succeeded", "failed", "canceled"}
# One worker process: llama.cpp already uses every core (n_threads = usable CPUs, max 8) for
# one generation, and the provider runs one generation at a time per process anyway.
WORKER_CONCURRENCY = 1


# --------------------------------------------------------------------------- direct side (child process)


def direct_server() -> int:
    """Serve generations on stdin/stdout: one JSON request per line, one JSON answer per line."""
    from llama_cpp import Llama

    from core.catalog import packaged_gguf_path
    from workers.llm.local import N_CTX, REPEAT_PENALTY, _n_threads  # the worker's own settings

    out = sys.stdout
    sys.stdout = sys.stderr  # llama.cpp chatter must not corrupt the protocol
    started = time.perf_counter()
    threads = _n_threads()
    llm = Llama(
        model_path=str(packaged_gguf_path()),
        n_ctx=N_CTX,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )
    load_s = time.perf_counter() - started
    ready = {"ready": True, "load_s": load_s, "n_threads": _n_threads(), "n_ctx": N_CTX}
    out.write(json.dumps(ready) + "\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        messages = [{"role": "user", "content": request["prompt"]}]
        began = time.perf_counter()
        first = None
        parts: list[str] = []
        chunks = 0
        for chunk in llm.create_chat_completion(
            messages=messages,
            max_tokens=request["max_tokens"],
            temperature=request["temperature"],
            repeat_penalty=REPEAT_PENALTY,
            stream=True,
        ):
            delta = chunk["choices"][0]["delta"].get("content") or ""
            if delta:
                chunks += 1
                parts.append(delta)
                if first is None:
                    first = time.perf_counter()
        ended = time.perf_counter()
        text = "".join(parts)
        tokens = len(llm.tokenize(text.encode(), add_bos=False)) if text else 0
        out.write(
            json.dumps(
                {
                    "text": text,
                    "completion_tokens": tokens,
                    "stream_chunks": chunks,
                    "generation_s": ended - began,
                    "first_token_s": (first - began) if first else None,
                }
            )
            + "\n"
        )
        out.flush()
    llm.close()
    return 0


class DirectRunner:
    """The direct llama.cpp process, started once; `generate()` runs one repetition in it."""

    def __init__(self, env: dict[str, str]):
        self.process = subprocess.Popen(
            [python(), "-m", "benchmarks.local_llm", "--direct-server"],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.info = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the direct llama.cpp process exited ({self.process.poll()})")
        return json.loads(line)

    def generate(self, *, prompt: str, max_tokens: int, temperature: float) -> dict[str, Any]:
        assert self.process.stdin is not None
        request = {"prompt": prompt, "max_tokens": max_tokens, "temperature": temperature}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._read()

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()  # it leaves its loop and exits
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()  # by its own pid
                self.process.wait(5)


# --------------------------------------------------------------------------- platform side


def platform_job(http: httpx.Client, *, prompt: str, max_tokens: int, temperature: float) -> dict[str, Any]:
    options = {"max_tokens": max_tokens, "temperature": temperature}
    body = {"kind": "chat", "input": {"prompt": prompt, "options": options}}
    prefer = {"Prefer": "wait=60"}
    began = time.perf_counter()
    response = http.post("/v1/jobs", json=body, headers=prefer)
    response.raise_for_status()
    job = response.json()
    while job["status"] not in TERMINAL:
        if time.perf_counter() - began > 600:
            raise TimeoutError(f"job {job['id']} still {job['status']} after 600 s")
        response = http.get(f"/v1/jobs/{job['id']}", headers=prefer)
        response.raise_for_status()
        job = response.json()
    latency = time.perf_counter() - began
    if job["status"] != "succeeded":
        raise RuntimeError(f"job {job['id']} ended {job['status']}: {job.get('error')}")
    usage = job["output"]["usage"]
    return {
        "job_id": job["id"],
        "text": job["output"]["text"],
        "completion_tokens": usage["completion_tokens"],
        "prompt_tokens": usage["prompt_tokens"],
        "run_ms": job["metrics"]["run_ms"],
        "queue_ms": job["metrics"]["queue_ms"],
        "client_s": latency,
    }


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argument_parser(NAME, __doc__)
    parser.add_argument("--reps", type=int, default=5, help="measured repetitions per side (default 5)")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--prompt", default=DEFAULT_PROMPT)
    parser.add_argument("--beat", action="store_true", help="also run celery beat (the reconciler)")
    parser.add_argument("--direct-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reps < 1 or args.max_tokens < 1:
        parser.error("--reps and --max-tokens must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.direct_server:
        return direct_server()

    run = begin_run()
    total, machine = run.total, run.machine
    direct: DirectRunner | None = None
    with bench_stack(llm_provider="local", keep=args.keep) as stack:
        try:
            print("provider local; the direct llama.cpp process starts after the stack", flush=True)
            token = start_platform(stack, concurrency=WORKER_CONCURRENCY, beat=args.beat)
            direct = DirectRunner(stack.env)
            figures = _measure(stack, token, direct, args)
        finally:
            if direct is not None:
                direct.stop()

    report = _report(args, machine, direct.info, figures, total.elapsed())
    path = write_results(NAME, report)
    print(f"\nfigures written to {path.relative_to(path.parents[2])}; whole run {total.elapsed():.0f} s")
    return 0


def _measure(stack: Stack, token: str, direct: DirectRunner, args: argparse.Namespace) -> dict[str, Any]:
    options = {"prompt": args.prompt, "max_tokens": args.max_tokens, "temperature": 0.0}
    roots = {
        "api": stack.processes["api"].pid,
        "worker": stack.processes["worker"].pid,
        "postgres": stack.postgres.pid,
        "redis": stack.redis.pid,
        "direct": direct.process.pid,
    }
    cpu = {"direct_reps": dict.fromkeys(roots, 0.0), "platform_reps": dict.fromkeys(roots, 0.0)}

    def metered(side: str, run: Any) -> dict[str, Any]:
        meter = CpuMeter(roots)
        meter.start()
        result = run()
        for name, seconds in meter.stop().items():
            cpu[side][name] += seconds
        return result

    direct_runs: list[dict[str, Any]] = []
    platform_runs: list[dict[str, Any]] = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=stack.api_url, headers=headers, timeout=120) as http:
        print("warm-up: one generation each side (loads the model) ...", flush=True)
        warm_direct = direct.generate(**options)
        warm_started = time.perf_counter()
        warm_platform = platform_job(http, **options)
        warm_s = time.perf_counter() - warm_started
        print(
            f"  direct warm-up {warm_direct['generation_s']:.2f} s (model load "
            f"{direct.info['load_s']:.2f} s before it); platform warm-up job {warm_s:.2f} s "
            f"(the worker loads the model)",
            flush=True,
        )
        for rep in range(1, args.reps + 1):
            d = metered("direct_reps", lambda: direct.generate(**options))
            d["tokens_per_s"] = d["completion_tokens"] / d["generation_s"]
            direct_runs.append(d)
            p = metered("platform_reps", lambda: platform_job(http, **options))
            p["tokens_per_s"] = p["completion_tokens"] / (p["run_ms"] / 1000) if p["run_ms"] else None
            p["end_to_end_tokens_per_s"] = p["completion_tokens"] / p["client_s"]
            platform_runs.append(p)
            print(
                f"  rep {rep}: direct {d['completion_tokens']} tok in {d['generation_s'] * 1000:.0f} ms = "
                f"{d['tokens_per_s']:.1f} tok/s | platform {p['completion_tokens']} tok in run_ms "
                f"{p['run_ms']} = {fmt(p['tokens_per_s'])} tok/s (client {p['client_s'] * 1000:.0f} ms)",
                flush=True,
            )
    cpu_per_rep = {
        side: {name: round(sec / args.reps, 3) for name, sec in row.items()} for side, row in cpu.items()
    }
    return {
        "direct_runs": direct_runs,
        "platform_runs": platform_runs,
        "warm_direct": warm_direct,
        "warm_platform": warm_platform,
        "cpu_s_per_rep": cpu_per_rep,
    }


# --------------------------------------------------------------------------- report


def _median(values: list[float | None]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return statistics.median(present) if present else None


def _report(
    args: argparse.Namespace,
    machine: dict[str, Any],
    llama: dict[str, Any],
    figures: dict[str, Any],
    elapsed: float,
) -> dict[str, Any]:
    direct_runs, platform_runs = figures["direct_runs"], figures["platform_runs"]
    d_tps = _median([r["tokens_per_s"] for r in direct_runs])
    p_tps = _median([r["tokens_per_s"] for r in platform_runs])
    e2e_tps = _median([r["end_to_end_tokens_per_s"] for r in platform_runs])
    tps_ratio = ratio(p_tps, d_tps)
    # Each platform repetition ran right after a direct one: the median of those pairs' ratios is
    # less sensitive to the machine slowing down or speeding up during the run.
    pairs = zip(direct_runs, platform_runs)
    paired = _median([ratio(p["tokens_per_s"], d["tokens_per_s"]) for d, p in pairs])
    same_text = all(r["text"] == direct_runs[0]["text"] for r in direct_runs + platform_runs)
    # Two views that other load on the machine disturbs less: the fastest repetition of each side
    # (interference only ever slows a run down), and CPU seconds per generation (worker process
    # tree vs the direct process).
    best_platform = max((r["tokens_per_s"] or 0.0) for r in platform_runs)
    best_ratio = ratio(best_platform, max(r["tokens_per_s"] for r in direct_runs))
    cpu = figures["cpu_s_per_rep"]
    cpu_ratio = ratio(cpu["platform_reps"]["worker"], cpu["direct_reps"]["direct"])
    passed = verdict(tps_ratio is not None and tps_ratio >= AIM_RATIO)

    print()
    print(
        f"Local LLM (SmolLM2-135M-Instruct Q4_1, llama.cpp n_threads={llama['n_threads']}) — "
        f"{args.reps} reps per side, max_tokens={args.max_tokens}, temperature 0, "
        f"{machine['cpus_usable']} CPUs "
        f"({machine['cpu_model']}), {machine['date']}"
    )
    tokens = round(_median([r["completion_tokens"] for r in platform_runs]) or 0)
    rows = [
        [
            "direct llama.cpp (stream)",
            round(_median([r["completion_tokens"] for r in direct_runs]) or 0),
            _median([r["generation_s"] * 1000 for r in direct_runs]),
            d_tps,
            "1.00x",
        ],
        [
            "platform chat job (run_ms)",
            tokens,
            _median([r["run_ms"] for r in platform_runs]),
            p_tps,
            f"{fmt(tps_ratio, 2)}x",
        ],
        [
            "platform chat job (client, end to end)",
            tokens,
            _median([r["client_s"] * 1000 for r in platform_runs]),
            e2e_tps,
            f"{fmt(ratio(e2e_tps, d_tps), 2)}x",
        ],
    ]
    print_table(["path (medians)", "tokens", "ms", "tokens/s", "vs direct"], rows)
    print()
    print_table(
        ["aim (issue 2)", "measured", "verdict"],
        [[f"platform tokens/s >= {AIM_RATIO}x direct", f"{fmt(tps_ratio, 2)}x", passed]],
    )
    print(
        f"median of the per-repetition ratios (each platform run against the direct run just before it): "
        f"{fmt(paired, 2)}x"
    )
    print(
        f"identical answers on both sides (temperature 0): {same_text}; per-rep tokens/s "
        f"direct {[round(r['tokens_per_s'], 1) for r in direct_runs]}, "
        f"platform {[round(r['tokens_per_s'], 1) if r['tokens_per_s'] else None for r in platform_runs]}"
    )
    print(
        f"less noise-sensitive views: best-of-{args.reps} tokens/s ratio {fmt(best_ratio, 2)}x; CPU s per "
        f"generation, worker tree / direct process: {cpu['platform_reps']['worker']:.3f} / "
        f"{cpu['direct_reps']['direct']:.3f} = {fmt(cpu_ratio, 2)}x"
    )
    print(
        "CPU s per repetition (user+sys): "
        + "; ".join(
            f"{side.replace('_reps', '')} reps: "
            + ", ".join(f"{name} {sec:.3f}" for name, sec in row.items())
            for side, row in cpu.items()
        )
    )

    return {
        "benchmark": NAME,
        "machine": machine,
        "settings": {
            "reps": args.reps,
            "max_tokens": args.max_tokens,
            "temperature": 0.0,
            "prompt": args.prompt,
            "worker_concurrency": WORKER_CONCURRENCY,
            "beat": args.beat,
            "llama": llama,
            "order": "sequential, interleaved per repetition: direct then platform",
            "platform_tokens_per_s": "output.usage.completion_tokens / metrics.run_ms",
            "direct_tokens_per_s": "len(tokenize(text)) / (call -> last stream chunk)",
        },
        "aim": {"tokens_per_s_ratio_min": AIM_RATIO},
        "direct": {"median_tokens_per_s": d_tps, "runs": direct_runs, "warmup": figures["warm_direct"]},
        "platform": {
            "median_tokens_per_s": p_tps,
            "median_end_to_end_tokens_per_s": e2e_tps,
            "runs": platform_runs,
            "warmup": figures["warm_platform"],
        },
        "cpu_s_per_rep": cpu,
        "ratio": tps_ratio,
        "paired_ratio_median": paired,
        "best_of_n_ratio": best_ratio,
        "cpu_ratio_worker_over_direct": cpu_ratio,
        "verdict": passed,
        "identical_text": same_text,
        "elapsed_s": round(elapsed, 1),
    }


if __name__ == "__main__":
    sys.exit(main())
