"""Python code run in a fresh interpreter with no servers to reach: what a module imports, registers or
builds on its own (the API's light imports, Celery's task table, the OpenAPI document)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.support.stack import REPO

# Settings that parse, pointing nowhere: importing must not need a server, and nothing may connect.
NO_SERVERS = {
    "MENTORQ_ENV": "test",
    "DATABASE_URL": "postgresql://u@/db",
    "REDIS_URL": "redis://127.0.0.1:1/0",
    "PATH": "",
}


# The run is waited for until it exits; this clock is only the last net for one that hangs, under
# pytest-timeout's 300 s. Importing the API alone took 45 s of wall clock (6 s of CPU) beside a CI
# run, and a 60 s clock failed a CI run whose code was right.
LAST_NET_S = 240.0


def last_json_line(code: str) -> Any:
    """Run `code` (which prints JSON on its last line) in a fresh interpreter; that JSON."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=NO_SERVERS,
        capture_output=True,
        text=True,
        timeout=LAST_NET_S,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])
