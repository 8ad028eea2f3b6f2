"""Run untrusted Python in a confined child process and say how it ended.

The worker never runs learner code itself. `run_python` starts bubblewrap (root.py: a fresh root
holding only the interpreter, its libraries and a size-capped scratch tmpfs with the program's
files, in new namespaces) running `python -I -S launcher.py` with an empty environment, in a
session of its own; the launcher adds Landlock, rlimits and the seccomp allow-list (policy.py) and
becomes the program. From outside, the runner enforces what the kernel cannot:

- a wall-clock limit, after which the whole sandbox is killed (bubblewrap's PID namespace dies
  with it, every thread and process in it);
- stdout, stderr and the report channel read up to a cap each; past it the sandbox is killed
  (`output_limit`);
- the layers the deployment requires (`MENTORQ_SANDBOX_REQUIRE`): the launcher checks them before
  the program's first line and exits instead of running it less confined (`sandbox_unavailable`).

The report channel is a pipe the launcher reports its layers on; a program may keep it (the
grading harness writes its results there, apart from whatever the learner's code prints). An
`Exchange` answers one line on it: when the program sends the trigger, the reply is written to its
stdin. That is how the grader gives the hidden tests' calls only once the visible ones have
reported (workers/code_tests).

How a run ended (`status`): `ok` (exit 0), `error` (any other exit), `timeout` (wall clock or
CPU limit), `memory` (MemoryError under the address-space limit), `output_limit` (an output cap,
or the file-size limit), `forbidden` (a refused call surfaced as PermissionError, or the seccomp
filter killed it), `sandbox_unavailable`.
"""

from __future__ import annotations

import ast
import errno
import os
import select
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from core.metrics import catalog
from core.settings import SANDBOX_LAYERS, get_settings
from workers.sandbox.policy import PolicyUnavailable, compiled_policy
from workers.sandbox.root import (
    LAUNCHER,
    LAUNCHER_INSIDE,
    SANDBOX_DIR,
    bwrap_command,
    interpreter,
    root_image,
)

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


@dataclass(frozen=True)
class Exchange:
    """One reply over the report channel: when the program sends `trigger` (a whole line), `reply`
    is written to its stdin, which is then closed."""

    trigger: bytes
    reply: bytes


@dataclass
class SandboxResult:
    status: str
    exit_code: int | None
    signal: int | None
    stdout: str
    stderr: str
    wall_s: float
    layers: dict = field(default_factory=dict)
    # What the program wrote on the report channel after the launcher's report, line by line.
    messages: list[bytes] = field(default_factory=list)
    replied: bool = False  # whether the Exchange's reply was sent

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def required_layers() -> tuple[str, ...]:
    return get_settings().sandbox_require


@lru_cache
def probe() -> dict:
    """Which layers this host can apply (run once per process; shown at startup and in /v1/admin/health)."""
    return probe_for(required_layers())


def probe_for(required: tuple[str, ...]) -> dict:
    """The host's layers against `required`: `mentorq demo` and `dev` ask before they start anything,
    with the layers their workers will require (the deployment's setting needs a dev environment)."""
    layers, use_bwrap = _host_layers()
    active = [name for name in ALL_LAYERS if layers.get(name, {}).get("active")]
    required = list(required)
    return {
        "active": active,
        "required": required,
        "missing": [name for name in required if name not in active],
        "layers": layers,
        "bubblewrap": use_bwrap,
    }


@lru_cache
def _host_layers() -> tuple[dict, bool]:
    """Try bubblewrap first; if it cannot run here, what the launcher alone can do."""
    image = root_image()
    reason = "bubblewrap (bwrap) is not installed"
    if image.bwrap is not None:
        result = _run({}, None, SandboxLimits(scratch_mb=1), (), ALL_LAYERS, use_bwrap=True, probe=True)
        if result.layers:
            return result.layers, True
        reason = f"bubblewrap could not start here: {result.stderr.strip()[-300:] or result.status}"
    result = _run({}, None, SandboxLimits(scratch_mb=1), (), ALL_LAYERS, use_bwrap=False, probe=True)
    layers = result.layers or {
        name: {"active": False, "reason": f"probe failed: {result.stderr.strip()[-300:]}"}
        for name in ALL_LAYERS
    }
    layers["namespaces"] = {"active": False, "reason": reason}
    return layers, False


def run_python(
    files: dict[str, str],
    main: str,
    *,
    limits: SandboxLimits | None = None,
    required: tuple[str, ...] | None = None,
    attempt: tuple[str, ...] = ALL_LAYERS,
    stdin: bytes = b"",
    exchange: Exchange | None = None,
) -> SandboxResult:
    """Run `main` (one of `files`, plain names, put in a fresh scratch directory) confined; never
    raises for what the program does. `required` defaults to the deployment's setting; `attempt`
    (every layer by default) lets the tests show what happens when one is missing. `stdin` is the
    program's input; with an `exchange`, the report channel stays open to the program."""
    for name in files:
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"sandbox file names are plain names, not paths: {name!r}")
    limits = limits or SandboxLimits.from_settings()
    required = required_layers() if required is None else required
    use_bwrap = "namespaces" in attempt and probe()["bubblewrap"]
    result = _run(files, main, limits, required, attempt, use_bwrap=use_bwrap, stdin=stdin, exchange=exchange)
    catalog.SANDBOX_RUNS.labels(result.status).inc()
    return result


def _run(
    files: dict[str, str],
    main: str | None,
    limits: SandboxLimits,
    required: tuple[str, ...],
    attempt: tuple[str, ...],
    *,
    use_bwrap: bool,
    probe: bool = False,
    stdin: bytes = b"",
    exchange: Exchange | None = None,
) -> SandboxResult:
    started = time.monotonic()
    opened: list[int] = []  # descriptors to close in this process once the child has them
    scratch_on_disk = None
    try:
        report_read, report_write = os.pipe()
        opened.append(report_write)
        config = {
            "report_fd": report_write,
            "keep_report": int(exchange is not None),
            "layers": ",".join(attempt),
            "require": ",".join(required),
            "cpu_s": max(1, round(limits.cpu_s)),
            "memory_bytes": limits.memory_bytes,
            "file_bytes": limits.file_bytes,
            "open_files": limits.open_files,
            "processes": limits.processes,
        }
        if main is not None:
            config["main"] = main
        if "seccomp" in attempt:
            config["seccomp_fd"] = _policy_fd(opened)
        if use_bwrap:
            config["scratch"] = SANDBOX_DIR
            file_fds = {name: _memfd(name, content.encode(), opened) for name, content in files.items()}
            command = bwrap_command(
                root_image(), scratch_bytes=limits.scratch_mb * 1024 * 1024, files=file_fds
            )
            command += [interpreter(), "-I", "-S", LAUNCHER_INSIDE]
        else:
            scratch_on_disk = tempfile.mkdtemp(prefix="mentorq-sandbox-")
            for name, content in files.items():
                Path(scratch_on_disk, name).write_text(content, encoding="utf-8")
            config["scratch"] = scratch_on_disk
            command = [interpreter(), "-I", "-S", str(LAUNCHER)]
        if probe:
            command.append("--probe")
        command += [f"{key}={value}" for key, value in config.items()]
        process = subprocess.Popen(
            command,
            cwd=scratch_on_disk or "/",
            env={},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=opened,
            start_new_session=True,  # its own process group: the wall-clock kill takes every descendant
        )
        for fd in opened:
            os.close(fd)
        opened.clear()
        try:
            collected = _collect(
                process, report_read, limits, stdin, exchange, deadline=started + limits.wall_s
            )
        finally:
            os.close(report_read)
            if process.poll() is None:
                _kill_group(process)
                process.wait()
    finally:
        for fd in opened:
            os.close(fd)
        if scratch_on_disk:
            shutil.rmtree(scratch_on_disk, ignore_errors=True)
    code = process.returncode
    if use_bwrap and code is not None and code > 128:
        code = -(code - 128)  # bubblewrap exits 128 + the signal that killed the program
    # The launcher's report, then the program's complete lines (an unfinished last one is dropped).
    report, *messages = collected.report_lines[:-1] or [b""]
    layers = _layers(report)
    status = _status(code, collected.stderr, collected.ended_by, layers, required)
    return SandboxResult(
        status=status,
        exit_code=code if code is not None and code >= 0 else None,
        signal=-code if code is not None and code < 0 else None,
        stdout=collected.stdout.decode("utf-8", "replace"),
        stderr=collected.stderr.decode("utf-8", "replace"),
        wall_s=time.monotonic() - started,
        layers=layers,
        messages=messages,
        replied=collected.replied,
    )


def _memfd(name: str, content: bytes, opened: list[int]) -> int:
    fd = os.memfd_create(name, 0)  # not CLOEXEC: the child reads it
    opened.append(fd)
    os.write(fd, content) if len(content) < READ_CHUNK else _write_all(fd, content)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _write_all(fd: int, content: bytes) -> None:
    view = memoryview(content)
    while view:
        view = view[os.write(fd, view) :]


def _policy_fd(opened: list[int]) -> int:
    """The compiled allow-list on a descriptor for the launcher (an empty one if libseccomp is
    missing: the launcher then reports seccomp inactive, and the requirement decides)."""
    try:
        program = compiled_policy()
    except PolicyUnavailable:
        program = b""
    return _memfd("seccomp", program, opened)


def _layers(report: bytes) -> dict:
    try:
        layers = ast.literal_eval(report.decode("utf-8", "replace"))["layers"]
    except (ValueError, SyntaxError, KeyError, TypeError, MemoryError, RecursionError):
        return {}
    return layers if isinstance(layers, dict) else {}


@dataclass
class _Collected:
    stdout: bytes
    stderr: bytes
    report_lines: list[bytes]
    ended_by: str | None
    replied: bool


def _collect(
    process: subprocess.Popen,
    report_fd: int,
    limits: SandboxLimits,
    stdin: bytes,
    exchange: Exchange | None,
    *,
    deadline: float,
) -> _Collected:
    """Read stdout, stderr and the report channel until all close, up to the cap each, until the
    deadline; write stdin (and the exchange's reply when its trigger comes); kill past a limit."""
    assert process.stdout and process.stderr and process.stdin
    stdout, stderr, report = bytearray(), bytearray(), bytearray()
    buffers = {process.stdout.fileno(): stdout, process.stderr.fileno(): stderr, report_fd: report}
    stdin_fd = process.stdin.fileno()
    pending = memoryview(stdin)
    replied = False
    ended_by = None
    os.set_blocking(stdin_fd, False)
    with selectors.DefaultSelector() as selector:
        for fd in buffers:
            selector.register(fd, selectors.EVENT_READ)
        stdin_open = True
        if pending:
            selector.register(stdin_fd, selectors.EVENT_WRITE)
        elif exchange is None:
            process.stdin.close()
            stdin_open = False
        while any(key.events & selectors.EVENT_READ for key in selector.get_map().values()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                ended_by = "timeout"
                break
            for key, events in selector.select(timeout=remaining):
                if events & selectors.EVENT_WRITE:
                    pending, stdin_open = _feed(selector, process, pending, stdin_open)
                    continue
                chunk = os.read(key.fd, READ_CHUNK)
                if not chunk:
                    selector.unregister(key.fd)
                    continue
                buffer = buffers[key.fd]
                buffer += chunk
                if len(buffer) > limits.output_bytes:
                    del buffer[limits.output_bytes :]
                    ended_by = "output_limit"
                if key.fd == report_fd and exchange and not replied and _has_line(report, exchange.trigger):
                    replied = True
                    if stdin_open:
                        pending = memoryview(exchange.reply)
                        selector.register(stdin_fd, selectors.EVENT_WRITE)
            if ended_by:
                break
    if stdin_open:
        process.stdin.close()
    if ended_by:
        _kill_group(process)
    if not _exited_by(process, max(0.1, deadline - time.monotonic())):
        ended_by = ended_by or "timeout"
        _kill_group(process)
        process.wait()
    lines = bytes(report).split(b"\n")
    return _Collected(bytes(stdout), bytes(stderr), lines, ended_by, replied)


def _exited_by(process: subprocess.Popen, timeout: float) -> bool:
    """Wait for the process to end, up to `timeout`: on its pidfd, which is readable once it has
    (Popen.wait with a timeout polls with sleeps, a millisecond or more a run)."""
    try:
        pidfd = os.pidfd_open(process.pid)
    except OSError:  # already reaped, or a kernel without pidfd_open
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    try:
        poller = select.poll()  # not select.select: a busy worker's descriptors may pass 1024
        poller.register(pidfd, select.POLLIN)
        poller.poll(timeout * 1000)
    finally:
        os.close(pidfd)
    return process.poll() is not None


def _feed(
    selector: selectors.BaseSelector, process: subprocess.Popen, pending: memoryview, stdin_open: bool
) -> tuple[memoryview, bool]:
    """Write what stdin can take now; close it once everything is written, or if the program closed it."""
    assert process.stdin is not None
    try:
        pending = pending[os.write(process.stdin.fileno(), pending[:READ_CHUNK]) :]
    except BlockingIOError:
        return pending, stdin_open
    except OSError as error:  # the program closed its end (EPIPE): what it did not read is lost to it
        if error.errno not in (errno.EPIPE, errno.EBADF):
            raise
        pending = memoryview(b"")
    if not pending:
        selector.unregister(process.stdin.fileno())
        process.stdin.close()
        stdin_open = False
    return pending, stdin_open


def _has_line(buffer: bytearray, line: bytes) -> bool:
    return (b"\n" + line + b"\n") in (b"\n" + bytes(buffer))


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the group it leads: bwrap, and so its PID namespace
    except ProcessLookupError:
        pass


def _last_exception(stderr: bytes) -> str:
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _status(
    code: int | None, stderr: bytes, ended_by: str | None, layers: dict, required: tuple[str, ...]
) -> str:
    # The launcher reports before the program's first line, and runs nothing when a required layer
    # is missing; no report at all means it never got that far (bubblewrap could not start).
    if not layers or any(not layers.get(name, {}).get("active") for name in required):
        return "sandbox_unavailable"
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
    if (
        last.startswith("PermissionError")
        or "Operation not permitted" in last
        or "Read-only file system" in last
    ):
        return "forbidden"  # refused by seccomp or Landlock, or outside the writable scratch
    if "File too large" in last:
        return "output_limit"
    return "error"
