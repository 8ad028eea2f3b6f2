"""The fresh root a sandboxed program sees, and the bubblewrap command that builds it.

The program's whole file system is: the interpreter, its standard library (not its
site-packages), the shared libraries those load (as `ldd` resolves them), /dev/null, /dev/zero and
/dev/urandom, the launcher, and a size-capped tmpfs at /sandbox holding the program's files. No
/proc, /sys, /tmp, no home, no configuration, no sockets: the embedded Redis's and PostgreSQL's
sockets are not even names in it.

The interpreter, its libraries, the loader's cache and the launcher are gathered once per worker
process into a private folder (the *image*: hard links where the file system allows, copies
otherwise), at their own paths, so the root is one bind mount instead of one per file (each costs
bubblewrap about a millisecond). The standard library is bound over it, its site-packages hidden
under an empty folder.

bubblewrap (`bwrap`, the tool Flatpak confines applications with) makes the root, with new user,
PID, network, IPC, UTS and cgroup namespaces, every capability dropped, uid and gid 65534 inside,
no new user namespaces inside, a session of its own, and death with the worker.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SANDBOX_DIR = "/sandbox"
LAUNCHER = Path(__file__).with_name("launcher.py")
LAUNCHER_INSIDE = "/mentorq/launcher.py"
NOBODY = 65534
DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom")
EMPTY = "/mentorq/empty"  # what hides site-packages
# Standard-library extension modules a learner's program has no use for in a sandbox (a display,
# a terminal, NIS, crypt(3), dbm files, CPython's own tests): their libraries stay out of the root,
# and importing them fails.
LEFT_OUT_EXTENSIONS = (
    "_tkinter", "readline", "_curses", "_curses_panel", "nis", "_crypt", "spwd", "_dbm", "_gdbm",
    "ossaudiodev", "_testcapi", "_testinternalcapi", "_testbuffer", "_testimportmultiple",
    "_testmultiphase", "_testclinic", "_xxtestfuzz", "_ctypes_test", "xxlimited", "xxlimited_35",
    "xxsubtype",
)  # fmt: skip


def interpreter() -> str:
    """The real interpreter (not a virtualenv's): `-I -S` needs only its standard library."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


@dataclass(frozen=True)
class RootImage:
    """What every sandbox's fresh root is made of."""

    bwrap: str | None  # None: bubblewrap is not installed
    folder: str  # the image: bound read-only as /
    stdlib: tuple[str, ...]  # bound read-only at the same paths
    masked: tuple[str, ...]  # folders inside those, hidden under an empty one


def _stdlib_directories() -> list[str]:
    # The base installation's, not a virtualenv's (whose platstdlib is its own folder).
    paths = sysconfig.get_paths(
        vars={
            "base": sys.base_prefix,
            "platbase": sys.base_exec_prefix,
            "installed_base": sys.base_prefix,
            "installed_platbase": sys.base_exec_prefix,
        }
    )
    found = []
    for key in ("stdlib", "platstdlib"):
        path = os.path.realpath(paths[key])
        if path not in found and os.path.isdir(path):
            found.append(path)
    return found


def _shared_libraries(binaries: list[str]) -> list[str]:
    """The libraries the dynamic loader resolves for these binaries (and the loader itself)."""
    try:
        done = subprocess.run(["ldd", *binaries], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    found: list[str] = []
    for line in done.stdout.splitlines():
        line = line.strip()
        path = line.split("=>", 1)[1].strip() if "=>" in line else line
        path = path.split(" (", 1)[0].strip()
        if path.startswith("/") and os.path.exists(path) and path not in found:
            found.append(path)
    return found


def _extensions(stdlib: list[str]) -> list[str]:
    found = []
    for directory in stdlib:
        for path in Path(directory).glob("lib-dynload/*.so"):
            if path.name.split(".", 1)[0] not in LEFT_OUT_EXTENSIONS:
                found.append(str(path))
    return found


def _place(source: str, folder: str, inside: str) -> None:
    """`source` at path `inside` of the image: a hard link if allowed, else a copy."""
    target = folder + inside
    os.makedirs(os.path.dirname(target), exist_ok=True)
    try:
        os.link(os.path.realpath(source), target)
    except OSError:
        shutil.copy2(source, target)


def _build(folder: str, stdlib: list[str]) -> None:
    python = interpreter()
    for path in [python, *_shared_libraries([python, *_extensions(stdlib)])]:
        _place(path, folder, path)
    if os.path.exists("/etc/ld.so.cache"):
        _place("/etc/ld.so.cache", folder, "/etc/ld.so.cache")  # where the loader looks libraries up
    for inside in (*stdlib, SANDBOX_DIR, EMPTY, "/dev", os.path.dirname(LAUNCHER_INSIDE)):
        os.makedirs(folder + inside, exist_ok=True)
    for device in DEVICES:  # mount points: bubblewrap cannot make them in a read-only root
        Path(folder + device).touch()
    shutil.copy2(LAUNCHER, folder + LAUNCHER_INSIDE)  # last: its presence says the image is whole


_lock = threading.Lock()
_image: RootImage | None = None


IMAGE_PREFIX = "mentorq-sandbox-root-"
# An image folder without a lock file beside it (made before images had one) is left alone until
# it is this old: an image is built in seconds.
UNLOCKED_IMAGE_KEPT_S = 3600
# Nor is any image touched in its first minute: another process may have made its lock file and
# not yet taken the lock (its folder's time moves while it builds).
NEW_IMAGE_KEPT_S = 60


def root_image() -> RootImage:
    """Built once per worker process (again if something removed it, say a /tmp cleaner)."""
    global _image
    with _lock:
        if _image is None or not os.path.exists(_image.folder + LAUNCHER_INSIDE):
            stdlib = _stdlib_directories()
            remove_abandoned_images()
            folder = tempfile.mkdtemp(prefix=IMAGE_PREFIX)
            _hold(folder)
            _build(folder, stdlib)
            _remove_at_exit(folder)
            masked = tuple(
                os.path.join(directory, name)
                for directory in stdlib
                for name in ("site-packages", "dist-packages")
                if os.path.isdir(os.path.join(directory, name))
            )
            _image = RootImage(shutil.which("bwrap"), folder, tuple(stdlib), masked)
        return _image


_held: list[int] = []  # the lock files' descriptors, open for the process's life


def _hold(folder: str) -> None:
    """Mark the image in use: a shared lock on `<folder>.lock`, held by this process and the
    children it forks (they share the image) until the last of them ends, however it ends."""
    fd = os.open(folder + ".lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_SH)
    _held.append(fd)


def remove_abandoned_images(directory: str | None = None) -> int:
    """Remove the images no process holds any more; how many. A worker's prefork child leaves
    with os._exit and a killed worker runs nothing at all, so `atexit` alone left a 30 MB image
    behind per worker process (16 in /tmp after one day of test and benchmark runs)."""
    removed = 0
    for folder in Path(directory or tempfile.gettempdir()).glob(IMAGE_PREFIX + "*"):
        if folder.suffix == ".lock" or not folder.is_dir():
            continue
        lock = Path(f"{folder}.lock")
        age_s = time.time() - folder.stat().st_mtime
        kept = _in_use(lock) if lock.exists() else age_s < UNLOCKED_IMAGE_KEPT_S
        if kept or age_s < NEW_IMAGE_KEPT_S:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        lock.unlink(missing_ok=True)
        removed += 1
    return removed


def _in_use(lock: Path) -> bool:
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # releases the lock just taken, if taken
    return False


def _remove_at_exit(folder: str) -> None:
    builder = os.getpid()  # forked children share the image: only the process that built it removes it

    def remove() -> None:
        if os.getpid() == builder:
            shutil.rmtree(folder, ignore_errors=True)
            Path(f"{folder}.lock").unlink(missing_ok=True)

    atexit.register(remove)


def bwrap_command(image: RootImage, *, scratch_bytes: int, files: dict[str, int]) -> list[str]:
    """`bwrap ...` up to (not including) the command it runs: `files` are {name: readable fd}, copied
    into /sandbox. Other inherited descriptors stay open across (bwrap passes them on)."""
    assert image.bwrap is not None
    command = [
        image.bwrap,
        "--unshare-user",
        "--unshare-all",
        "--disable-userns",
        "--uid",
        str(NOBODY),
        "--gid",
        str(NOBODY),
        "--cap-drop",
        "ALL",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--hostname",
        "sandbox",
        "--ro-bind",
        image.folder,
        "/",
    ]
    for directory in image.stdlib:
        command += ["--ro-bind", directory, directory]
    for path in image.masked:
        command += ["--ro-bind", image.folder + EMPTY, path]
    for device in DEVICES:
        command += ["--dev-bind", device, device]
    command += ["--size", str(scratch_bytes), "--perms", "0700", "--tmpfs", SANDBOX_DIR]
    for name, fd in files.items():
        command += ["--perms", "0600", "--file", str(fd), f"{SANDBOX_DIR}/{name}"]
    return command + ["--chdir", SANDBOX_DIR]
