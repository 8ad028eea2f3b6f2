"""The sandbox's launcher: confines its own process, then becomes the untrusted program.

Run as `python -I -S launcher.py CONFIG` by workers/sandbox/runner.py, inside the fresh root
bubblewrap made (root.py: new namespaces, nothing visible but the interpreter, its libraries and
the scratch directory, uid 65534, no capabilities). Standard library and ctypes only, and as few
modules as will do (no json, no platform): it is run with no environment, and its start-up is
most of the sandbox's cost.

In order, each layer applied if the kernel has it and the config asks for it:

1. namespaces: not applied here but checked: bubblewrap made them before this process started, so
   this process runs as nobody (65534) in a root without /proc or /etc.
2. landlock: the file system shrinks further: everything read-only but the scratch directory;
   with ABI 6+, signals to processes outside the sandbox and abstract Unix sockets are refused.
3. rlimits: CPU seconds, address space, file size, open files, processes, no core dumps.
4. seccomp: the allow-list libseccomp compiled in the worker (policy.py), read from a descriptor
   and loaded last, since the calls above need what it refuses.

Then it reports what was applied (a Python literal, one line) on the report descriptor and runs
MAIN in this same, now confined, interpreter as `__main__` (an exec of a second interpreter would
double the start-up cost, and exec is refused). The report descriptor is closed first unless the
config keeps it for MAIN (the grading harness writes its results there: sys.argv[1] is its
number). With `--probe` it applies every layer it can and reports, without running anything.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import struct
import sys

LIBC = ctypes.CDLL(None, use_errno=True)
NOBODY = 65534


def _check(result: int, what: str) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")
    return result


# --- namespaces --------------------------------------------------------------------------------


def check_namespaces() -> dict:
    """That bubblewrap's fresh root is what this process sees (it cannot check itself out of one)."""
    if os.getuid() != NOBODY or os.path.exists("/proc/self") or os.path.exists("/etc/passwd"):
        raise OSError(errno.EPERM, "not inside the sandbox's fresh root (bubblewrap did not run)")
    return {"root": "fresh", "uid": NOBODY}


# --- landlock ----------------------------------------------------------------------------------

SYS = {
    "x86_64": {"landlock_create_ruleset": 444, "landlock_add_rule": 445, "landlock_restrict_self": 446},
    "aarch64": {"landlock_create_ruleset": 444, "landlock_add_rule": 445, "landlock_restrict_self": 446},
}
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_READ = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1
PR_SET_NO_NEW_PRIVS = 38


def _syscall(name: str) -> int:
    numbers = SYS.get(os.uname().machine)
    if numbers is None:
        raise OSError(errno.ENOSYS, f"no syscall numbers for {os.uname().machine}")
    return numbers[name]


def landlock_abi() -> int:
    try:
        number = _syscall("landlock_create_ruleset")
    except OSError:
        return 0
    abi = LIBC.syscall(number, None, 0, LANDLOCK_CREATE_RULESET_VERSION)
    return abi if abi > 0 else 0


def _all_fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1  # EXECUTE .. MAKE_SYM (ABI 1)
    if abi >= 2:
        rights |= 1 << 13  # REFER
    if abi >= 3:
        rights |= 1 << 14  # TRUNCATE
    if abi >= 5:
        rights |= 1 << 15  # IOCTL_DEV
    return rights


def restrict_file_system(read_only: list[str], read_write: list[str]) -> dict:
    abi = landlock_abi()
    if abi < 1:
        raise OSError(errno.ENOSYS, "landlock is not available")
    handled = _all_fs_rights(abi)
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    if abi >= 6:
        attr = struct.pack("QQQ", handled, 0, scoped)
    else:
        attr = struct.pack("Q", handled)
    buffer = ctypes.create_string_buffer(attr, len(attr))
    ruleset = _check(
        LIBC.syscall(_syscall("landlock_create_ruleset"), buffer, len(attr), 0), "landlock ruleset"
    )
    try:
        for paths, rights in ((read_only, FS_READ), (read_write, handled)):
            for path in paths:
                try:
                    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except OSError:
                    continue  # a library folder this system does not have
                try:
                    # A file gets only the rights that make sense for a file.
                    allowed = (
                        rights
                        if os.path.isdir(path)
                        else rights & (FS_EXECUTE | FS_READ_FILE | FS_WRITE_FILE)
                    )
                    rule = ctypes.create_string_buffer(struct.pack("=Qi", allowed, fd), 12)
                    _check(
                        LIBC.syscall(
                            _syscall("landlock_add_rule"), ruleset, LANDLOCK_RULE_PATH_BENEATH, rule, 0
                        ),
                        f"landlock rule {path}",
                    )
                finally:
                    os.close(fd)
        _check(LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
        _check(LIBC.syscall(_syscall("landlock_restrict_self"), ruleset, 0), "landlock restrict")
    finally:
        os.close(ruleset)
    return {"abi": abi, "signals_scoped": bool(scoped)}


# --- seccomp ---------------------------------------------------------------------------------

PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_seccomp(fd: int) -> dict:
    """Load the allow-list (a BPF program libseccomp compiled in the worker: policy.py) from `fd`."""
    program = b""
    while chunk := os.read(fd, 65536):
        program += chunk
    os.close(fd)
    if not program or len(program) % 8:
        raise OSError(errno.EINVAL, "no seccomp program came")
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buffer))
    _check(LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    _check(LIBC.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), "seccomp")
    return {"policy": "allow-list", "instructions": len(program) // 8}


# --- rlimits -----------------------------------------------------------------------------------


def set_rlimits(limits: dict) -> dict:
    cpu = int(limits["cpu_s"])
    wanted = {
        resource.RLIMIT_CPU: (cpu, cpu + 1),  # SIGXCPU at the soft limit, SIGKILL a second later
        resource.RLIMIT_AS: (limits["memory_bytes"],) * 2,
        resource.RLIMIT_FSIZE: (limits["file_bytes"],) * 2,
        resource.RLIMIT_NOFILE: (limits["open_files"],) * 2,
        resource.RLIMIT_NPROC: (limits["processes"],) * 2,
        resource.RLIMIT_CORE: (0, 0),
    }
    for which, (soft, hard) in wanted.items():
        resource.setrlimit(which, (soft, hard))
    # RLIMIT_NPROC counts every process of the user and is not enforced for root in the host's
    # user namespace; say so rather than imply it holds.
    return {"processes_enforced": os.geteuid() != 0}


# --- the launcher ------------------------------------------------------------------------------


def read_only_paths(fresh_root: bool) -> list[str]:
    if fresh_root:
        return ["/"]  # all of it was chosen for the program (root.py); the scratch is added writable
    prefix = sys.base_prefix
    paths = [
        prefix,
        "/usr/lib",
        "/usr/lib64",
        "/lib",
        "/lib64",
        "/etc/ld.so.cache",
        "/dev/null",
        "/dev/urandom",
    ]
    return [path for path in paths if os.path.exists(path)]


def apply(config: dict) -> dict:
    """Every layer asked for, in order; what each did or why it could not."""
    layers: dict = {}
    wanted = set(config["layers"])

    def attempt(name: str, action) -> None:
        if name not in wanted:
            return
        try:
            layers[name] = {"active": True, **(action() or {})}
        except OSError as error:
            layers[name] = {"active": False, "reason": str(error)}

    attempt("namespaces", check_namespaces)
    os.chdir(config["scratch"])
    fresh_root = layers.get("namespaces", {}).get("active", False)
    attempt("landlock", lambda: restrict_file_system(read_only_paths(fresh_root), [config["scratch"]]))
    attempt("rlimits", lambda: set_rlimits(config["limits"]))
    attempt("seccomp", lambda: install_seccomp(config["seccomp_fd"]))  # last: the calls above need more
    return layers


def parse(argv: list[str]) -> dict:
    """CONFIG is `key=value` arguments (no json: see the module's docstring)."""
    pairs = dict(arg.split("=", 1) for arg in argv)
    return {
        "scratch": pairs["scratch"],
        "main": pairs.get("main"),
        "report_fd": int(pairs["report_fd"]),
        "keep_report": pairs.get("keep_report") == "1",
        "seccomp_fd": int(pairs.get("seccomp_fd", "-1")),
        "layers": pairs["layers"].split(","),
        "require": [name for name in pairs.get("require", "").split(",") if name],
        "limits": {
            key: int(pairs[key]) for key in ("cpu_s", "memory_bytes", "file_bytes", "open_files", "processes")
        },
    }


def run_main(path: str, extra_args: list[str]) -> None:
    """`python MAIN`, minus a second interpreter: its directory first on sys.path, run as __main__."""
    sys.argv = [path, *extra_args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    with open(path, "rb") as source:
        code = compile(source.read(), path, "exec")
    namespace = {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__}
    exec(code, namespace)  # noqa: S102 - this is the sandbox's one purpose


def main(argv: list[str]) -> int:
    probe = argv[1:2] == ["--probe"]
    config = parse(argv[2:] if probe else argv[1:])
    layers = apply(config)
    os.write(config["report_fd"], (repr({"layers": layers}) + "\n").encode())
    if probe:
        return 0
    if any(not layers.get(name, {}).get("active") for name in config["require"]):
        return 1  # never run the program less confined than the deployment requires
    os.environ.clear()  # bubblewrap sets PWD after clearing the rest; the program gets nothing
    extra_args = []
    if config["keep_report"]:
        extra_args.append(str(config["report_fd"]))
    else:
        os.close(config["report_fd"])
    run_main(config["main"], extra_args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
