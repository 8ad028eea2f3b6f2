"""What both benchmarks share: a real stack on loopback, statistics, CPU accounting, tables, JSON.

The stack is the test suite's (tests/support/stack.py): embedded PostgreSQL and Redis, migrations, the
API under uvicorn and Celery workers as child processes, each in its own process group and
stopped by its own pid. The benchmarks put the production timings back (the test stack shortens
heartbeats and the reconcile period to make fault tests fast, which would add load here).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.support.stack import REPO, Stack, build_stack

RESULTS_DIR = REPO / "benchmarks" / "results"
# The one worker both benchmarks start: every queue (the brief's topology for a single host).
WORKER_QUEUES = "llm,embed,query,cpu,io,maintenance"

# The Settings defaults (what `mentorq dev` and production run with).
PRODUCTION_TIMINGS = {
    "MENTORQ_HEARTBEAT_SECONDS": "5",
    "MENTORQ_STALE_AFTER_SECONDS": "30",
    "MENTORQ_RECONCILE_EVERY_SECONDS": "5",
    "MENTORQ_REEMBED_EVERY_SECONDS": "30",  # the test stack checks every 2 s
    "MENTORQ_REDISPATCH_AFTER_SECONDS": "600",
    "MENTORQ_BROKER_PUBLISH_TIMEOUT": "2",
    "MENTORQ_DEBUG_KINDS": "0",
}


# --------------------------------------------------------------------------- process hygiene


class _Terminated(SystemExit):
    pass


def exit_cleanly_on_signals() -> None:
    """SIGTERM/SIGHUP raise SystemExit so the `finally` blocks stop every child by its pid."""

    def handler(signum: int, _frame: object) -> None:
        raise _Terminated(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


@contextlib.contextmanager
def bench_stack(
    *,
    llm_provider: str,
    ollama_url: str | None = None,
    keep: bool = False,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """PostgreSQL + Redis migrated, in a throwaway folder; the caller starts API/workers on it.

    On exit every process started through the Stack is stopped (process group of its own pid),
    then Redis (its pid) and PostgreSQL (pg_ctl on its data directory), then the folder is removed.
    """
    root = Path(tempfile.mkdtemp(prefix="mentorq-bench-"))
    stack: Stack | None = None
    try:
        stack = build_stack(root, ollama_url=ollama_url or "http://127.0.0.1:9")
        stack.env.update(PRODUCTION_TIMINGS)
        stack.env["MENTORQ_LLM_PROVIDER"] = llm_provider
        if llm_provider == "local":
            # The test stack names an Ollama model and host; the local provider serves its own model.
            stack.env.pop("MENTORQ_LLM_MODEL", None)
            stack.env.pop("OLLAMA_HOST", None)
        stack.env.update(extra_env or {})
        yield stack
    finally:
        if stack is not None:
            stack.stop_all()
            stack.redis.stop()
            stack.postgres.stop()
        if keep:
            print(f"(kept logs and data under {root})")
        else:
            shutil.rmtree(root, ignore_errors=True)


def argument_parser(name: str, doc: str) -> argparse.ArgumentParser:
    """A benchmark's command line: `python -m benchmarks.<name>`, its docstring's first paragraph,
    and `--keep` (every benchmark can keep its stack's folder, logs included)."""
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.{name}", description=doc.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the stack's folder (logs) afterwards")
    return parser


@dataclass
class Run:
    """What every benchmark's main() starts with: clean exits on signals, the clock, the machine."""

    total: Stopwatch
    machine: dict[str, Any]


def begin_run() -> Run:
    exit_cleanly_on_signals()
    return Run(total=Stopwatch(), machine=machine_info())


def start_platform(stack: Stack, *, concurrency: int, beat: bool = False, worker: str = "worker") -> str:
    """The API, one worker on every queue and, if asked, beat; returns a fresh user's bearer token."""
    print(
        f"starting the stack (worker -Q {WORKER_QUEUES}, prefork, concurrency {concurrency}) ...", flush=True
    )
    stack.start_api()
    stack.start_worker(worker, queues=WORKER_QUEUES, concurrency=concurrency)
    if beat:
        stack.start_beat()
    return register_token(stack.api_url)


def spawn(
    stack: Stack, name: str, command: list[str], extra_env: dict[str, str] | None = None
) -> subprocess.Popen:
    """A child process tracked by the stack (so stop_all stops it by its pid)."""
    return stack._spawn(name, command, extra_env)  # noqa: SLF001 - the harness is the stack's friend


def log_size(stack: Stack, name: str) -> int:
    path = stack.root / f"{name}.log"
    return path.stat().st_size if path.exists() else 0


def count_in_log(stack: Stack, name: str, needle: str, *, since: int = 0) -> int:
    """Lines of a process's log (from byte `since`) that contain `needle`."""
    path = stack.root / f"{name}.log"
    if not path.exists():
        return 0
    with path.open("rb") as log:
        log.seek(since)
        return sum(needle.encode() in line for line in log)


def register_token(api_url: str) -> str:
    """Register a fresh user and log in; the bearer token."""
    email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
    password = "correct-horse-battery-staple"
    with httpx.Client(base_url=api_url, timeout=60) as http:
        created = http.post("/auth/register", json={"email": email, "password": password})
        created.raise_for_status()
        login = http.post("/auth/jwt/login", data={"username": email, "password": password})
        login.raise_for_status()
        return login.json()["access_token"]


# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), q in [0, 100]."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary_ms(latencies_s: Sequence[float]) -> dict[str, float | None]:
    ms = [v * 1000 for v in latencies_s]
    return {
        "p50_ms": percentile(ms, 50),
        "p95_ms": percentile(ms, 95),
        "p99_ms": percentile(ms, 99),
        "mean_ms": (sum(ms) / len(ms)) if ms else None,
        "max_ms": max(ms) if ms else None,
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


# --------------------------------------------------------------------------- CPU accounting


class CpuMeter:
    """CPU seconds (user+system) each named process tree used between start() and stop().

    A tree is the root process, its live descendants, and the children it already reaped
    (PostgreSQL backends that ended, for instance). Roots named in `self_only` count only
    themselves, so that no CPU second is counted twice.
    """

    def __init__(self, roots: dict[str, int | None], *, self_only: Sequence[str] = ()):
        self.roots = {name: pid for name, pid in roots.items() if pid}
        self.self_only = set(self_only)  # e.g. this process, whose children are the stack itself
        self._before: dict[str, float] = {}

    def _tree_cpu(self, name: str, pid: int) -> float:
        import psutil

        try:
            root = psutil.Process(pid)
            if name in self.self_only:
                return _cpu(root, with_reaped=False)
            total = _cpu(root, with_reaped=True)
            for child in root.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    total += _cpu(child, with_reaped=False)
            return total
        except psutil.Error:
            return 0.0

    def _snapshot(self) -> dict[str, float]:
        return {name: self._tree_cpu(name, pid) for name, pid in self.roots.items()}

    def start(self) -> None:
        self._before = self._snapshot()

    def stop(self) -> dict[str, float]:
        after = self._snapshot()
        return {name: round(after[name] - self._before.get(name, 0.0), 3) for name in after}


def _cpu(process: Any, *, with_reaped: bool) -> float:
    times = process.cpu_times()
    total = times.user + times.system
    if with_reaped:
        total += getattr(times, "children_user", 0.0) + getattr(times, "children_system", 0.0)
    return total


# --------------------------------------------------------------------------- output


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str | None = None) -> None:
    cells = [[str(h) for h in headers]] + [[c if isinstance(c, str) else fmt(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    if title:
        print(title)
    line = "+".join("-" * (w + 2) for w in widths)
    print(f"+{line}+")
    for index, row in enumerate(cells):
        padded = (cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths)))
        print("| " + " | ".join(padded) + " |")
        if index == 0:
            print(f"+{line}+")
    print(f"+{line}+")


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def machine_info() -> dict[str, Any]:
    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus_usable": usable,
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_start": os.getloadavg(),
    }


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def python() -> str:
    return sys.executable


def wait_for_quiet(
    pids: dict[str, int | None], *, below_cores: float = 0.15, window_s: float = 2.0, timeout_s: float = 180.0
) -> float:
    """Wait (bounded) until the named process trees together use less than `below_cores` of a core
    over `window_s` (a gpu worker's children warm the embedding model in the background right after
    they start, workers/signals.py). Returns the seconds waited; prints a note if it timed out."""
    meter = CpuMeter(pids)
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        meter.start()
        time.sleep(window_s)
        if sum(meter.stop().values()) / window_s < below_cores:
            return time.monotonic() - started
    print(f"note: processes still busy after {timeout_s:.0f} s; measuring anyway", flush=True)
    return time.monotonic() - started
