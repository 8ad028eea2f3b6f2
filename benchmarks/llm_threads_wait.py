"""How the local model's OpenMP threads wait (workers/llm/local.wait_passively), against libgomp's
default, on idle cores and beside busy processes, in one run.

    .venv/bin/python -m benchmarks.llm_threads_wait [--busy 3] [--tokens 200]

Each setting runs in a fresh process (libgomp reads its variables once, when it loads): the local
model loads, answers a short prompt to warm up, then writes an answer of --tokens tokens at
temperature 0 and reads a 1,900-word prompt. Printed per setting: tokens/s and the process's CPU
for the answer, seconds and CPU for the prompt. First on idle cores, then beside --busy processes
that spin in Python (a stand-in for the API, PostgreSQL and the other lanes of a small host).
Baseline: libgomp's own default (both variables unset), measured in the same run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from benchmarks._harness import argument_parser, begin_run, print_table, ratio, write_results
from tests.support.stack import REPO

SETTINGS = {
    "libgomp's default (spin)": {},
    "PASSIVE (sleep at once)": {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "0"},
    "the worker's (spin 300, then sleep)": {},  # the model's first load sets them: wait_passively
}

ONE_RUN = """
import json, os, sys, time
os.environ["MENTORQ_ENV"] = "dev"
from workers.llm import local
if sys.argv[1] == "default":
    local.wait_passively = lambda: None  # the model's first load would set the worker's values
from workers.llm.local import LocalProvider
provider = LocalProvider()
provider.chat([{"role": "user", "content": "Say hello."}], options={"max_tokens": 4})
wall, cpu = time.monotonic(), time.process_time()
answer = provider.chat(
    [{"role": "user", "content": "Write a long story about a cat."}],
    options={"max_tokens": int(sys.argv[2]), "temperature": 0.0, "seed": 1},
)
answer_s, answer_cpu = time.monotonic() - wall, time.process_time() - cpu
wall, cpu = time.monotonic(), time.process_time()
provider.chat([{"role": "user", "content": "recall " * 1900}], options={"max_tokens": 16})
print(json.dumps({
    "tokens_per_s": answer.completion_tokens / answer_s, "answer_cpu_s": answer_cpu,
    "prompt_s": time.monotonic() - wall, "prompt_cpu_s": time.process_time() - cpu,
}))
"""


def _one(name: str, tokens: int) -> dict[str, float]:
    env = {
        key: value for key, value in os.environ.items() if key not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
    }
    env.update(SETTINGS[name])
    own = "own" if name.startswith("the worker's") else "default"  # PASSIVE: its own, set above
    done = subprocess.run(
        [sys.executable, "-c", ONE_RUN, own, str(tokens)], cwd=REPO, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"{name}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _measure(tokens: int) -> dict[str, dict[str, float]]:
    return {name: _one(name, tokens) for name in SETTINGS}


def main() -> None:
    parser = argument_parser("llm_threads_wait", __doc__)
    parser.add_argument("--busy", type=int, default=3, help="busy processes beside the model (3)")
    parser.add_argument("--tokens", type=int, default=200, help="tokens in the answer (200)")
    args = parser.parse_args()
    run = begin_run()
    figures = {"idle": _measure(args.tokens)}
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    try:
        figures["busy"] = _measure(args.tokens)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    baseline = "libgomp's default (spin)"
    for cores, measured in figures.items():
        rows = [
            [
                name,
                f"{result['tokens_per_s']:.1f}",
                f"{result['answer_cpu_s']:.1f}",
                f"{result['prompt_s']:.1f}",
                f"{result['prompt_cpu_s']:.1f}",
                f"{ratio(result['tokens_per_s'], measured[baseline]['tokens_per_s']):.2f}x",
            ]
            for name, result in measured.items()
        ]
        title = f"{cores} cores" + (f" ({args.busy} busy processes beside)" if cores == "busy" else "")
        print_table(
            [
                "threads wait",
                "answer tokens/s",
                "answer CPU-s",
                "prompt s",
                "prompt CPU-s",
                "tokens/s vs default",
            ],
            rows,
            title=title,
        )
    write_results("llm_threads_wait", {"machine": run.machine, "args": vars(args), "figures": figures})


if __name__ == "__main__":
    main()
