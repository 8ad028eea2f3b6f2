"""What the metrics cost a quick job, measured without the stack's noise: the metric operations one
`chat` job makes (its creation, first start and end counted from the committed transitions, and
one LLM call measured), run many times, in memory and in the files a prefork service counts into,
beside the same loop doing nothing. Also a scrape's cost, which a service pays once per scrape
interval whatever its traffic.

    .venv/bin/python -m benchmarks.metrics_cost [--jobs 20000]

Each mode runs in a fresh Python process (prometheus_client picks its storage at import). The
figures to set beside it are benchmarks.platform_overhead's CPU per job on the platform's path.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

from benchmarks._harness import print_table

ONE_MODE = r"""
import json, sys, time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from core.metrics import catalog, exposition
from core.metrics.jobs import count_committed
from workers.llm.base import ChatResult
from workers.llm.metered import MeteredProvider

jobs = int(sys.argv[1])
now = datetime.now(UTC)
job = SimpleNamespace(kind="chat", status="running", stage=None, attempts=1, error=None,
                      created_at=now, started_at=now + timedelta(seconds=0.01), completed_at=None)
ended = SimpleNamespace(**{**vars(job), "status": "succeeded", "completed_at": now + timedelta(seconds=0.5)})
class Instant:
    name = "ollama"
    def chat(self, messages, *, model=None, json_schema=None, options=None, on_token=None):
        on_token and on_token("hi")
        return ChatResult("hi", "m", "ollama", 12, 9)
    def list_models(self): return ["m"]
provider, bare = MeteredProvider(Instant()), Instant()
started, succeeded = SimpleNamespace(type="started"), SimpleNamespace(type="succeeded")
relay = lambda delta: None

def metered():
    count_committed([], ["chat"])
    count_committed([(started, job)], [])
    provider.chat([], on_token=relay)
    count_committed([(succeeded, ended)], [])

def unmetered():
    bare.chat([], on_token=relay)

figures = {}
for name, step in (("nothing counted", unmetered), ("counted", metered)):
    began = time.process_time()
    for _ in range(jobs):
        step()
    figures[name] = (time.process_time() - began) / jobs * 1e6
began = time.process_time()
for _ in range(200):
    body = exposition.exposition()
figures["scrape"] = (time.process_time() - began) / 200 * 1e6
figures["scrape_bytes"] = len(body)
print(json.dumps(figures))
"""


def measure(jobs: int, *, in_files: bool) -> dict[str, float]:
    env = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    env["MENTORQ_ENV"] = "dev"  # settings that load without a secret key (nothing here uses one)
    with tempfile.TemporaryDirectory(prefix="mentorq-metrics-bench-") as folder:
        if in_files:
            env["PROMETHEUS_MULTIPROC_DIR"] = folder
        done = subprocess.run(
            [sys.executable, "-c", ONE_MODE, str(jobs)], env=env, capture_output=True, text=True
        )
    if done.returncode:
        raise SystemExit(f"the measuring process failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=20000, help="jobs' metric operations per mode (20000)")
    args = parser.parse_args(argv)
    rows = []
    for label, in_files in (
        ("in memory (one process)", False),
        ("in files (prefork, PROMETHEUS_MULTIPROC_DIR)", True),
    ):
        figures = measure(args.jobs, in_files=in_files)
        added = figures["counted"] - figures["nothing counted"]
        rows.append(
            [
                label,
                f"{figures['nothing counted']:.1f}",
                f"{figures['counted']:.1f}",
                f"{added:.1f}",
                f"{figures['scrape']:.0f}",
                figures["scrape_bytes"],
            ]
        )
    print_table(
        [
            "storage",
            "µs/job, nothing counted",
            "µs/job, counted",
            "µs/job added",
            "µs per scrape",
            "scrape bytes",
        ],
        rows,
        title=f"The metric operations of one chat job, {args.jobs} jobs (CPU time, this process)",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
