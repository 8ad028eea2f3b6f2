"""The code sandbox's own cost: a trivial program confined vs the same program run bare, in one run.

    .venv/bin/python -m benchmarks.sandbox [--runs 60] [--parallel 2]

Bare: `subprocess.run([python, "-I", "-S", "main.py"])` in a temporary directory holding the
file, output captured: the least any grader that runs code in a child process pays.
Sandboxed: `workers.sandbox.run_python` on the same file with every layer the host has (the
launcher process, namespaces, tmpfs scratch, Landlock, rlimits, seccomp, then the exec).
Interleaved run by run (bare, sandboxed, bare, ...) after 5 uncounted warm-ups of each, so
both see the same machine. Then --parallel threads each running sandboxed programs for the same
number of runs: programs per second on these cores.

The program is a trivial grader-shaped check (define a function, assert on it, print a line).
The aim (issue 10) applies to a graded submission end to end; this isolates the sandbox's part.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks._harness import (
    argument_parser,
    begin_run,
    fmt,
    latency_summary_ms,
    print_table,
    ratio,
    write_results,
)
from workers.sandbox import SandboxLimits, probe, run_python
from workers.sandbox.runner import interpreter

NAME = "sandbox"
PROGRAM = "def add(a, b):\n    return a + b\n\nassert add(2, 3) == 5\nprint('1 passed')\n"
LIMITS = SandboxLimits()
REQUIRED = ("rlimits", "namespaces", "landlock", "seccomp")


def bare(folder: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [interpreter(), "-I", "-S", "main.py"],
        cwd=folder,
        env={},
        capture_output=True,
        timeout=10,
        check=False,
    )
    assert done.stdout == b"1 passed\n", done
    return time.perf_counter() - started


def sandboxed() -> float:
    started = time.perf_counter()
    result = run_python({"main.py": PROGRAM}, "main.py", limits=LIMITS, required=REQUIRED)
    assert result.status == "ok" and result.stdout == "1 passed\n", result
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(NAME, __doc__)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--parallel", type=int, default=2)
    args: argparse.Namespace = parser.parse_args(argv)
    run = begin_run()
    layers = probe()
    print(f"sandbox layers on this host: {', '.join(layers['active'])}", flush=True)
    with tempfile.TemporaryDirectory(prefix="mentorq-bench-sandbox-") as folder:
        Path(folder, "main.py").write_text(PROGRAM)
        for _ in range(5):
            bare(Path(folder))
            sandboxed()
        bare_s, sandboxed_s = [], []
        for _ in range(args.runs):
            bare_s.append(bare(Path(folder)))
            sandboxed_s.append(sandboxed())
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.parallel) as pool:
            list(pool.map(lambda _: sandboxed(), range(args.runs)))
        parallel_per_s = args.runs / (time.perf_counter() - started)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.parallel) as pool:
            list(pool.map(lambda _: bare(Path(folder)), range(args.runs)))
        bare_parallel_per_s = args.runs / (time.perf_counter() - started)

    bare_summary, sandboxed_summary = latency_summary_ms(bare_s), latency_summary_ms(sandboxed_s)
    rows = [
        ["bare subprocess.run", args.runs, fmt(bare_summary["p50_ms"]), fmt(bare_summary["p95_ms"])],
        [
            "sandboxed run_python",
            args.runs,
            fmt(sandboxed_summary["p50_ms"]),
            fmt(sandboxed_summary["p95_ms"]),
        ],
        [
            "ratio sandboxed / bare",
            "",
            f"{fmt(ratio(sandboxed_summary['p50_ms'], bare_summary['p50_ms']), 2)}x",
            f"{fmt(ratio(sandboxed_summary['p95_ms'], bare_summary['p95_ms']), 2)}x",
        ],
    ]
    print_table(["run", "runs", "p50 ms", "p95 ms"], rows, title="a trivial program, one at a time")
    print(
        f"{args.parallel} at a time: sandboxed {parallel_per_s:.1f} programs/s, "
        f"bare {bare_parallel_per_s:.1f}/s "
        f"({fmt(ratio(parallel_per_s, bare_parallel_per_s), 2)}x)"
    )
    results = {
        "machine": run.machine,
        "args": vars(args),
        "layers": layers,
        "bare": bare_summary,
        "sandboxed": sandboxed_summary,
        "p50_ratio": ratio(sandboxed_summary["p50_ms"], bare_summary["p50_ms"]),
        "parallel_per_s": {"sandboxed": parallel_per_s, "bare": bare_parallel_per_s},
    }
    print(f"results: {write_results(NAME, results)}  ({run.total.elapsed():.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
