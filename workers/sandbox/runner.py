"""Run untrusted Python in a confined child process and say how it ended.

The worker never runs learner code itself. `run_python` writes the files into a fresh temporary
directory, starts `python -I -S launcher.py` there with an empty environment, in a session (and
so a process group) of its own, and lets the launcher confine itself (launcher.py) before it
execs the program. From outside, the runner enforces what the kernel cannot:

- a wall-clock limit, after which the whole process group is killed;
- stdout and stderr read up to a cap each; past it the group is killed (`output_limit`);
- the layers the deployment requires (`MENTORQ_SANDBOX_REQUIRE`): if the launcher could not
  apply one, the program is killed before it runs a line and the result is `sandbox_unavailable`.

How a run ended (`status`): `ok` (exit 0), `error` (any other exit), `timeout` (wall clock or
CPU limit), `memory` (MemoryError under the address-space limit), `output_limit` (stdout/stderr
cap, or the file-size limit), `forbidden` (a refused call surfaced as PermissionError, or the
seccomp filter killed it), `sandbox_unavailable`.
"""

from __future__ import annotations

import ast
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from core.settings import SANDBOX_LAYERS, get_settings

LAUNCHER = Path(__file__).with_name("launcher.py")
ALL_LAYERS = SANDBOX_LAYERS
READ_CHUNK = 65536


@dataclass(frozen=True)
class SandboxLimits:
    """Judge0's defaults (CPU 5 s, wall 10 s, 256 MB, 1 MB output, 32 processes, 1 MB files)."""

    cpu_s: float = 5.0
    wall_s: float = 10.0
    memory_bytes: int = 256 * 1024 * 1024
    output_bytes: int = 1024 * 1024
    processes: int = 32
    file_bytes: int = 1024 * 1024
    open_files: int = 64
    scratch_mb: int = 16

    @classmethod
    def from_settings(cls) -> SandboxLimits:
        s = get_settings()
        return cls(
            cpu_s=s.sandbox_cpu_s,
            wall_s=s.sandbox_wall_s,
            memory_bytes=s.sandbox_memory_mb * 1024 * 1024,
            output_bytes=s.sandbox_output_kb * 1024,
            processes=s.sandbox_processes,
            file_bytes=s.sandbox_file_kb * 1024,
        )


@dataclass
class SandboxResult:
    status: str
    exit_code: int | None
    signal: int | None
    stdout: str
    stderr: str
    wall_s: float
    layers: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class SandboxUnavailable(RuntimeError):
    """The kernel here cannot give a layer the deployment requires."""


def interpreter() -> str:
    """The real interpreter (not a virtualenv's): `-I -S` needs only its standard library."""
    import sys

    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def required_layers() -> tuple[str, ...]:
    return get_settings().sandbox_require


@lru_cache
def probe() -> dict:
    """Which layers this host can apply (run once per process; shown at startup and in /readyz)."""
    scratch = tempfile.mkdtemp(prefix="mentorq-sandbox-probe-")
    try:
        config = _launcher_args(
            scratch, SandboxLimits(scratch_mb=1), main=None, report_fd=1, attempt=ALL_LAYERS
        )
        done = subprocess.run(
            [interpreter(), "-I", "-S", str(LAUNCHER), "--probe", *config],
            env={},
            capture_output=True,
            timeout=20,
            check=False,
        )
        layers = ast.literal_eval(done.stdout.decode().splitlines()[0])["layers"] if done.stdout else {}
    except (OSError, subprocess.SubprocessError, ValueError, SyntaxError) as error:
        layers = {name: {"active": False, "reason": f"probe failed: {error}"} for name in ALL_LAYERS}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    active = [name for name in ALL_LAYERS if layers.get(name, {}).get("active")]
    required = list(required_layers())
    return {
        "active": active,
        "required": required,
        "missing": [name for name in required if name not in active],
        "layers": layers,
    }


def _launcher_args(
    scratch: str, limits: SandboxLimits, *, main: str | None, report_fd: int, attempt: tuple[str, ...]
) -> list[str]:
    """The launcher's `key=value` arguments (see launcher.parse)."""
    values = {
        "scratch": scratch,
        "scratch_mb": limits.scratch_mb,
        "report_fd": report_fd,
        "layers": ",".join(attempt),
        "cpu_s": max(1, round(limits.cpu_s)),
        "memory_bytes": limits.memory_bytes,
        "file_bytes": limits.file_bytes,
        "open_files": limits.open_files,
        "processes": limits.processes,
    }
    if main is not None:
        values["main"] = main
    return [f"{key}={value}" for key, value in values.items()]


def run_python(
    files: dict[str, str],
    main: str,
    *,
    limits: SandboxLimits | None = None,
    required: tuple[str, ...] | None = None,
    attempt: tuple[str, ...] = ALL_LAYERS,
) -> SandboxResult:
    """Run `main` (one of `files`, written into a fresh scratch directory) confined; never raises for
    what the program does. `required` defaults to the deployment's setting; `attempt` (every layer
    by default) lets the tests show what happens when one is missing."""
    limits = limits or SandboxLimits.from_settings()
    required = required_layers() if required is None else required
    scratch = tempfile.mkdtemp(prefix="mentorq-sandbox-")
    try:
        for name, content in files.items():
            path = Path(scratch, name)
            if path.resolve().parent != Path(scratch).resolve():
                raise ValueError(f"sandbox file names are plain names, not paths: {name!r}")
            path.write_text(content, encoding="utf-8")
        return _run(scratch, main, limits, required, attempt)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run(
    scratch: str, main: str, limits: SandboxLimits, required: tuple[str, ...], attempt: tuple[str, ...]
) -> SandboxResult:
    report_read, report_write = os.pipe()
    config = _launcher_args(scratch, limits, main=main, report_fd=report_write, attempt=attempt)
    started = time.monotonic()
    process = subprocess.Popen(
        [interpreter(), "-I", "-S", str(LAUNCHER), *config],
        cwd=scratch,
        env={},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=(report_write,),
        start_new_session=True,  # its own process group: the wall-clock kill takes every descendant
    )
    os.close(report_write)
    try:
        layers = _read_report(report_read, process, deadline=started + limits.wall_s)
        missing = [name for name in required if not layers.get(name, {}).get("active")]
        if missing:
            _kill_group(process)
            process.wait()
            return SandboxResult(
                "sandbox_unavailable", None, None, "", "", time.monotonic() - started, layers
            )
        stdout, stderr, ended_by = _collect(process, limits, deadline=started + limits.wall_s)
    finally:
        os.close(report_read)
        if process.poll() is None:
            _kill_group(process)
            process.wait()
    code = process.returncode
    status = _status(code, stderr, ended_by)
    return SandboxResult(
        status=status,
        exit_code=code if code is not None and code >= 0 else None,
        signal=-code if code is not None and code < 0 else None,
        stdout=stdout.decode("utf-8", "replace"),
        stderr=stderr.decode("utf-8", "replace"),
        wall_s=time.monotonic() - started,
        layers=layers,
    )


def _read_report(fd: int, process: subprocess.Popen, *, deadline: float) -> dict:
    """The launcher's one line (a Python literal), sent before the program runs; {} if it never came."""
    data = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while b"\n" not in data and time.monotonic() < deadline:
            if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                break
            chunk = os.read(fd, READ_CHUNK)
            if not chunk:
                break
            data += chunk
    try:
        return ast.literal_eval(data.decode().splitlines()[0])["layers"]
    except (ValueError, SyntaxError, IndexError, KeyError):
        return {}


def _collect(
    process: subprocess.Popen, limits: SandboxLimits, *, deadline: float
) -> tuple[bytes, bytes, str | None]:
    """Read both streams until they close, up to the cap each, until the deadline; kill past either."""
    assert process.stdout is not None and process.stderr is not None
    buffers = {process.stdout: bytearray(), process.stderr: bytearray()}
    ended_by = None
    with selectors.DefaultSelector() as selector:
        for stream in buffers:
            selector.register(stream, selectors.EVENT_READ)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                ended_by = "timeout"
                break
            for key, _ in selector.select(timeout=remaining):
                chunk = os.read(key.fd, READ_CHUNK)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                buffer = buffers[key.fileobj]  # type: ignore[index]
                buffer += chunk
                if len(buffer) > limits.output_bytes:
                    del buffer[limits.output_bytes :]
                    ended_by = "output_limit"
            if ended_by:
                break
    if ended_by:
        _kill_group(process)
    remaining = max(0.1, deadline - time.monotonic())
    try:
        process.wait(timeout=remaining)
    except subprocess.TimeoutExpired:
        ended_by = ended_by or "timeout"
        _kill_group(process)
        process.wait()
    return bytes(buffers[process.stdout]), bytes(buffers[process.stderr]), ended_by


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the group it leads: every descendant too
    except ProcessLookupError:
        pass


def _last_exception(stderr: bytes) -> str:
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _status(code: int | None, stderr: bytes, ended_by: str | None) -> str:
    if ended_by:
        return ended_by
    if code == 0:
        return "ok"
    if code in (-signal.SIGXCPU, -signal.SIGKILL):
        return "timeout"  # the CPU limit: SIGXCPU at the soft limit, SIGKILL at the hard one
    if code == -signal.SIGSYS:
        return "forbidden"  # the seccomp filter killed it (another ABI)
    if code == -signal.SIGXFSZ:
        return "output_limit"
    last = _last_exception(stderr)
    if last.startswith("MemoryError"):
        return "memory"
    if last.startswith("PermissionError") or "Operation not permitted" in last:
        return "forbidden"
    if "File too large" in last:
        return "output_limit"
    return "error"
