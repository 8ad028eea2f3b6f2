"""What starting a job's watcher costs the job's thread: a new thread per job (the baseline, as
every job did until 2026-11-28) against a kept one (workers/watcher_threads.py), in one process,
one run, interleaved.

    .venv/bin/python -m benchmarks.watcher_start [--jobs 2000] [--busy 0,1,2]

Each "job" is what an instant job's thread does around its body in workers/runtime.py: build the
real `JobWatcher` (its recorder included), start it, run a body of about 0.3 ms of Python, stop the
watcher. `--busy N` runs N more threads spinning in Python beside it, as a threads worker's other
jobs do: they hold the GIL, which a new thread must win before `Thread.start()` returns. Printed:
the job thread's time in `start()` (p50 and mean, µs), its wall time per job, and the process's
CPU per job (the spinners' included: read it where `--busy` is 0). No database is touched (a
watcher meets it only after 0.5 s). Nothing is asserted.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid

from benchmarks._harness import argument_parser, begin_run, print_table, ratio
from workers.runtime import JobWatcher

NAME = "watcher_start"
BODY_S = 0.0003


class NewThreadWatcher(JobWatcher):
    """The baseline: the same watcher on a thread started for it, as before kept threads."""

    def start(self) -> None:
        threading.Thread(target=self.run, name=f"job-watcher-{self.job_id}", daemon=True).start()


def _body() -> None:
    end = time.perf_counter() + BODY_S
    while time.perf_counter() < end:
        pass


def _jobs(watcher_class: type[JobWatcher], count: int) -> dict[str, float]:
    starts = []
    wall = time.perf_counter()
    cpu = time.process_time()
    for _ in range(count):
        watcher = watcher_class(uuid.uuid4(), 30.0)
        begun = time.perf_counter()
        watcher.start()
        starts.append(time.perf_counter() - begun)
        _body()
        watcher.stop()
    return {
        "start_p50_us": statistics.median(starts) * 1e6,
        "start_mean_us": statistics.fmean(starts) * 1e6,
        "wall_ms": (time.perf_counter() - wall) / count * 1e3,
        "cpu_ms": (time.process_time() - cpu) / count * 1e3,
    }


FIGURES = ("start_p50_us", "start_mean_us", "wall_ms", "cpu_ms")


def _mean(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.fmean(run[key] for run in runs) for key in FIGURES}


def _spin(stop: threading.Event) -> None:
    while not stop.is_set():
        sum(range(1000))


def main() -> None:
    parser = argument_parser(NAME, __doc__)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--busy", default="0,1,2", help="comma-separated counts of spinning threads")
    args = parser.parse_args()
    begin_run()
    rows = []
    for busy in [int(part) for part in args.busy.split(",")]:
        stop = threading.Event()
        spinners = [threading.Thread(target=_spin, args=(stop,), daemon=True) for _ in range(busy)]
        for spinner in spinners:
            spinner.start()
        _jobs(JobWatcher, 50)  # the kept threads exist before counting, as on a worker after its first jobs
        halves = {"new thread": [], "kept thread": []}
        for _ in range(2):  # interleaved: baseline, kept, baseline, kept
            halves["new thread"].append(_jobs(NewThreadWatcher, args.jobs // 2))
            halves["kept thread"].append(_jobs(JobWatcher, args.jobs // 2))
        stop.set()
        for spinner in spinners:
            spinner.join()
        figures = {name: _mean(runs) for name, runs in halves.items()}
        for name, f in figures.items():
            rows.append([busy, name, *(f[key] for key in FIGURES)])
        base, kept = figures["new thread"], figures["kept thread"]
        rows.append([busy, "kept ÷ new", *(f"{ratio(kept[key], base[key]):.3f}" for key in FIGURES)])
    print_table(
        ["busy", "watcher on", "start() p50 µs", "start() mean µs", "wall ms/job", "process CPU ms/job"],
        rows,
        title=f"{args.jobs} jobs per row, body {BODY_S * 1e3:.1f} ms",
    )


if __name__ == "__main__":
    main()
