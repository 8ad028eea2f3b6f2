"""A real `celery worker` started where it must stop at once (a start-up check refusing it), and
what it said: the checks in workers/signals.py run before the worker connects to anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Never reached: the worker stops before it connects to anything.
UNREACHABLE = {
    "REDIS_URL": "redis://127.0.0.1:1/0",
    "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
}


def worker_refused(queue: str, **env: str) -> str:
    """Start a solo worker of `queue` with `env` over this process's environment; assert it exited
    non-zero and return what it printed."""
    started = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "-Q", queue, "--pool", "solo"],
        cwd=REPO,
        env={**os.environ, "MENTORQ_ENV": "test", **UNREACHABLE, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    said = started.stdout + started.stderr
    assert started.returncode != 0, said
    return said
