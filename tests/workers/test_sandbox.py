"""The code sandbox on this machine's real kernel: every escape the issue names, each ending with a
status and the next run unaffected. No stack needed: the sandbox is a child process of the test."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from workers.sandbox import SandboxLimits, probe, run_python
from workers.sandbox.root import (
    IMAGE_PREFIX,
    NEW_IMAGE_KEPT_S,
    UNLOCKED_IMAGE_KEPT_S,
    remove_abandoned_images,
)

# Short limits keep the suite fast; the defaults are Judge0's (5 s CPU, 10 s wall).
LIMITS = SandboxLimits(
    cpu_s=1, wall_s=3, memory_bytes=128 * 1024 * 1024, output_bytes=64 * 1024, file_bytes=64 * 1024
)
ALL = ("rlimits", "namespaces", "landlock", "seccomp")


def run(code: str, **kwargs):
    return run_python({"main.py": code}, "main.py", limits=LIMITS, required=ALL, **kwargs)


def test_this_host_applies_every_layer():
    # The suite runs where the kernel has them all (documented in docs/limits.md); fail loudly if not,
    # rather than test a weaker sandbox than the one described.
    assert probe()["active"] == list(ALL), probe()["layers"]


def test_a_plain_program_runs_and_its_output_comes_back():
    result = run(
        "import threading\n"
        "t = threading.Thread(target=print, args=('from a thread',))\n"
        "t.start(); t.join()\n"
        "print(6 * 7)"
    )
    assert (result.status, result.stdout) == ("ok", "from a thread\n42\n"), result.stderr
    assert all(layer["active"] for layer in result.layers.values())


@pytest.mark.parametrize(
    ("name", "code", "status"),
    [
        ("loops forever", "while True: pass", "timeout"),
        ("sleeps forever", "import time\ntime.sleep(60)", "timeout"),
        ("forks without end", "import os\nwhile True: os.fork()", "forbidden"),
        ("starts a program", "import subprocess\nsubprocess.run(['/bin/true'])", "forbidden"),
        ("allocates 10 GB", "x = bytearray(10 * 1024**3)", "memory"),
        (
            "writes 1 GB to stdout",
            "import sys\nchunk = 'x' * 65536\nfor _ in range(16384): sys.stdout.write(chunk)",
            "output_limit",
        ),
        (
            "writes 1 GB to a file",
            "chunk = b'x' * 65536\nwith open('big', 'wb') as f:\n    for _ in range(16384): f.write(chunk)",
            "output_limit",
        ),
        ("opens a socket", "import socket\nsocket.create_connection(('127.0.0.1', 5432))", "forbidden"),
        ("kills its parent", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)", "forbidden"),
        ("writes outside its directory", "open('/escaped', 'w').write('x')", "forbidden"),
        # Host files and /proc are not in its fresh root at all (more in test_sandbox_hostile.py).
        ("reads /etc/passwd", "print(open('/etc/passwd').read())", "error"),
        ("reads the worker's environment", "print(open('/proc/1/environ').read())", "error"),
    ],
)
def test_escapes_end_with_the_limit_they_hit(name: str, code: str, status: str):
    counted = REGISTRY.get_sample_value("mentorq_sandbox_runs_total", {"status": status}) or 0
    result = run(code)
    assert result.status == status, (name, result.status, result.stderr[-300:])
    # The metric counts how it ended (core/metrics/catalog.py).
    assert REGISTRY.get_sample_value("mentorq_sandbox_runs_total", {"status": status}) == counted + 1
    assert len(result.stdout) <= LIMITS.output_bytes and len(result.stderr) <= LIMITS.output_bytes
    # ... and the next program runs normally.
    assert run("print('next')").stdout == "next\n"


def test_the_environment_is_empty_and_the_scratch_directory_is_private(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MENTORQ_TEST_SECRET", "s3cret-value")
    result = run("import os\nprint(sorted(os.environ))\nprint(sorted(os.listdir('.')))\nopen('notes', 'w')")
    environment, listing = result.stdout.splitlines()
    # Only what the interpreter sets itself (PEP 538's LC_CTYPE under the C locale).
    assert set(ast.literal_eval(environment)) <= {"LC_CTYPE"} and "s3cret" not in result.stdout
    assert listing == "['main.py']", result.stderr
    assert not os.path.exists("/tmp/escaped")


def test_a_missing_required_layer_refuses_to_run_anything():
    result = run_python(
        {"main.py": "open('ran', 'w')"},
        "main.py",
        limits=LIMITS,
        required=("seccomp",),
        attempt=("rlimits", "landlock"),  # as on a host without seccomp
    )
    assert result.status == "sandbox_unavailable" and result.stdout == ""


def test_an_image_no_process_holds_any_more_is_removed_and_a_held_one_kept(tmp_path) -> None:
    """A worker's prefork child leaves with os._exit and a killed worker runs no atexit: the next
    image built on the host removes every image whose lock nobody holds."""

    def image(name: str, *, lock: bool = True, age_s: float = NEW_IMAGE_KEPT_S + 60) -> Path:
        folder = tmp_path / f"{IMAGE_PREFIX}{name}"
        folder.mkdir()
        (folder / "python").write_text("an interpreter")
        if lock:
            Path(f"{folder}.lock").touch()
        then = time.time() - age_s
        os.utime(folder, (then, then))
        return folder

    abandoned, held = image("abandoned"), image("held")
    # Another process between making its lock file and taking the lock: its folder is new.
    being_built = image("being-built", age_s=0)
    old_unlocked = image("old", lock=False, age_s=UNLOCKED_IMAGE_KEPT_S + 60)
    new_unlocked = image("new", lock=False)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_RDWR); fcntl.flock(fd, fcntl.LOCK_SH)\n"
            "print('held', flush=True); time.sleep(60)",
            f"{held}.lock",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert remove_abandoned_images(str(tmp_path)) == 2
        assert not abandoned.exists() and not Path(f"{abandoned}.lock").exists() and not old_unlocked.exists()
        assert held.exists() and new_unlocked.exists() and being_built.exists()
    finally:
        holder.kill()  # no cleanup of its own runs: the kernel releases its lock
        holder.wait()
    assert remove_abandoned_images(str(tmp_path)) == 1 and not held.exists()
