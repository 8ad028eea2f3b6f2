"""Where an instant job's CPU goes, on the API and on the worker (issue 63): py-spy flame graphs of
one run of each path, and the functions that hold the most samples, written to docs/benchmarks/.

    .venv/bin/python -m benchmarks.profile_job_path [--jobs 600] [--clients 20] [--label before]
        [--llm-user-slots 0]
    # py-spy is not a dependency: pip install --target /tmp/pyspy py-spy==0.4.1 (or set PY_SPY)

The stack `benchmarks.platform_overhead` measures (`--topology lanes`: the API under uvicorn, the
llm lane's threads worker with 2 slots, beat, the fake Ollama answering at once), the same chat job
`{"prompt": "hi"}` sent with `Prefer: wait=30` by --clients clients. After --warmup uncounted jobs,
py-spy samples the API process and the llm worker (with its pool's threads) while --jobs jobs run,
and the CPU each used is read beside (CPU ms per job, the figures issue 63 compares). Only the
thread holding the GIL is sampled (`--gil`): Python's own CPU, not the threads waiting on a socket.

Written: docs/benchmarks/job-path-{api,worker}-LABEL.svg (the flame graphs) and the table of
functions by their share of samples, in docs/benchmarks/job-path-LABEL.md. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._harness import CpuMeter, argument_parser, begin_run, bench_stack
from benchmarks.platform_overhead import run_platform, start_platform_for
from tests.support.fake_ollama import FakeOllama
from tests.support.stack import REPO

NAME = "profile_job_path"
OUT = REPO / "docs" / "benchmarks"
RATE = 250  # samples a second
TOP = 30


def py_spy() -> str:
    found = os.environ.get("PY_SPY") or shutil.which("py-spy") or "/tmp/pyspy/bin/py-spy"
    if not Path(found).is_file():
        sys.exit("py-spy is not installed: pip install --target /tmp/pyspy py-spy==0.4.1 (or set PY_SPY)")
    return found


def record(pid: int, path: Path, fmt: str) -> subprocess.Popen:
    """py-spy sampling `pid` (and its threads, its children) until interrupted."""
    return subprocess.Popen(
        [py_spy(), "record", "--pid", str(pid), "--rate", str(RATE), "--subprocesses", "--nonblocking",
         "--gil", "--format", fmt, "--output", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip


def stop(recorder: subprocess.Popen) -> None:
    recorder.send_signal(signal.SIGINT)
    recorder.wait(60)


PROJECT = ("api/", "core/", "db/", "workers/", "tasks/")


def shares(collapsed: Path) -> tuple[int, list[tuple[str, float]], list[tuple[str, float]]]:
    """From py-spy's collapsed stacks: the busy samples, the functions holding the most samples
    themselves (own), and the project's functions by the samples under them (inclusive)."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    # py-spy writes a frame's name as the process has it, so a line may hold any bytes; one whose
    # count did not survive (a name with a line break in it) is skipped.
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        frames = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += samples
        for frame in set(frames):
            inclusive[frame] += samples
        own[frames[-1]] += samples
    ours = [(f, n / total) for f, n in inclusive.most_common() if _where(f).startswith(PROJECT)][:TOP]
    return total, [(f, n / total) for f, n in own.most_common(TOP)], ours


def _where(frame: str) -> str:
    return frame.rpartition("(")[2]


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(NAME, __doc__)
    parser.add_argument("--jobs", type=int, default=600)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--label", default="now", help="names the files written (before, after, ...)")
    parser.add_argument(
        "--llm-user-slots",
        type=int,
        default=None,
        help="MENTORQ_LLM_USER_SLOTS for the stack: 0 is platform_overhead's default (no per-user cap); "
        "unset, the platform's default cap",
    )
    args = parser.parse_args(argv)
    run = begin_run()
    py_spy()
    fake = FakeOllama(token_delay_s=0.0).start()
    OUT.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    try:
        slots = {} if args.llm_user_slots is None else {"MENTORQ_LLM_USER_SLOTS": str(args.llm_user_slots)}
        stack_options = dict(ollama_url=fake.url, llm_provider="ollama", keep=args.keep, extra_env=slots)
        with bench_stack(**stack_options) as stack:
            topology = argparse.Namespace(topology="lanes", concurrency=2, no_beat=False, metrics=False)
            token = start_platform_for(stack, topology)
            send = dict(jobs=args.warmup, clients=args.clients, wait_s=30, job_timeout_s=120.0)
            run_platform(stack.api_url, token, **send)
            pids = {"api": stack.processes["api"].pid, "worker": stack.processes["worker"].pid}
            recorders = {}
            for name, pid in pids.items():
                recorders[(name, "flamegraph")] = record(
                    pid, OUT / f"job-path-{name}-{args.label}.svg", "flamegraph"
                )
                raw = Path(f"/tmp/job-path-{name}-{args.label}.txt")
                recorders[(name, "raw")] = record(pid, raw, "raw")
            time.sleep(1.0)  # py-spy attached
            meter = CpuMeter(pids)
            meter.start()
            started = time.perf_counter()
            outcomes, _ = run_platform(stack.api_url, token, **(send | {"jobs": args.jobs}))
            elapsed = time.perf_counter() - started
            cpu = meter.stop()
            for recorder in recorders.values():
                stop(recorder)
    finally:
        fake.stop()
    ok = sum(o.ok for o in outcomes)
    lines.append(f"# The job path's profile: {args.label}\n")
    slots_flag = "" if args.llm_user_slots is None else f" --llm-user-slots {args.llm_user_slots}"
    lines.append(
        f"`python -m benchmarks.profile_job_path --jobs {args.jobs} --clients {args.clients} --label "
        f"{args.label}{slots_flag}` on {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}: "
        f"{ok}/{len(outcomes)} jobs succeeded in {elapsed:.1f} s; "
        f"CPU per job: API {1000 * cpu['api'] / len(outcomes):.2f} ms, "
        f"llm worker {1000 * cpu['worker'] / len(outcomes):.2f} ms (py-spy at {RATE}/s adds a little).\n"
    )
    for name in pids:
        total, own, ours = shares(Path(f"/tmp/job-path-{name}-{args.label}.txt"))
        lines.append(f"\n## {name}: {total} busy samples (flame graph: job-path-{name}-{args.label}.svg)\n")
        lines.append("Where the samples are (own: in the function itself):\n")
        lines.append("| function | own |\n|---|---|")
        lines += [f"| `{f[:110]}` | {share:.1%} |" for f, share in own]
        lines.append("\nThe project's functions, by the samples under them:\n")
        lines.append("| function | inclusive |\n|---|---|")
        lines += [f"| `{f[:110]}` | {share:.1%} |" for f, share in ours]
    text = "\n".join(lines) + "\n"
    (OUT / f"job-path-{args.label}.md").write_text(text)
    print(text)
    print(
        f"written: {OUT.relative_to(REPO)}/job-path-*-{args.label}.*; whole run {run.total.elapsed():.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
