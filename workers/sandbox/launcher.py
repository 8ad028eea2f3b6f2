"""The sandbox's launcher: confines its own process, then becomes the untrusted program.

Run as `python -I -S launcher.py CONFIG` by workers/sandbox/runner.py, in a fresh process of its
own (so nothing here runs between fork and exec of a threaded worker). Standard library and
ctypes only, and as few modules as will do (no json, no platform): it must work before anything
of the platform can be imported, it is run with no environment, and its start-up is most of the
sandbox's cost.

In order, each layer applied if the kernel has it and the config asks for it:

1. rlimits: CPU seconds, address space, file size, open files, processes, no core dumps.
2. namespaces: a new user, network, mount, IPC and UTS namespace (`unshare`): no network
   interface but a downed loopback, and the scratch directory becomes a size-capped tmpfs
   seen by nothing else.
3. landlock: the file system shrinks to the interpreter's files and the shared libraries
   (read and execute) and the scratch directory (read and write); with ABI 6+, signals to
   processes outside the sandbox and abstract Unix sockets are refused too.
4. seccomp: `socket` is refused, and so are new processes (`fork`, `vfork`, `clone` without
   CLONE_THREAD; `clone3` answers ENOSYS so the C library falls back to `clone`), `ptrace`,
   and signals to any process but this one.

Then it reports what was applied (a Python literal, one line) on the report descriptor, closes
it, and runs MAIN in this same, now confined, interpreter as `__main__` (an exec of a second
interpreter would double the start-up cost and confine nothing more). With `--probe` it applies
every layer it can and reports, without running anything.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import struct
import sys

LIBC = ctypes.CDLL(None, use_errno=True)

# --- namespaces --------------------------------------------------------------------------------

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWNET = 0x10000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x4000, 0x40000


def _check(result: int, what: str) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")
    return result


def enter_namespaces(scratch: str, scratch_mb: int) -> None:
    uid, gid = os.geteuid(), os.getegid()
    _check(LIBC.unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
    # Keep our own ids inside (files we create in the scratch stay ours; no one is root).
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{gid} {gid} 1")
    _check(LIBC.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    # The tmpfs hides what the runner wrote there: carry the (small) files over.
    files = {}
    for name in os.listdir(scratch):
        with open(os.path.join(scratch, name), "rb") as f:
            files[name] = f.read()
    options = f"size={scratch_mb}m,nr_inodes=1024,mode=0700,uid={uid},gid={gid}".encode()
    _check(LIBC.mount(b"tmpfs", scratch.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options), "mount scratch")
    for name, content in files.items():
        with open(os.path.join(scratch, name), "wb") as f:
            f.write(content)


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


# --- seccomp -----------------------------------------------------------------------------------

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
# name: (x86_64, aarch64); None where the architecture has no such call.
CALLS = {
    "socket": (41, 198),
    "fork": (57, None),
    "vfork": (58, None),
    "clone": (56, 220),
    "clone3": (435, 435),
    "ptrace": (101, 117),
    "kill": (62, 129),
    "tkill": (200, 130),
    "tgkill": (234, 131),
    "pidfd_send_signal": (424, 424),
    "pidfd_open": (434, 434),
    "process_vm_readv": (310, 270),
    "process_vm_writev": (311, 271),
}
CLONE_THREAD = 0x00010000
RET_ALLOW, RET_KILL_PROCESS = 0x7FFF0000, 0x80000000
LD_W_ABS, JEQ_K, JSET_K, JGE_K, RET_K = 0x20, 0x15, 0x45, 0x35, 0x06
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2


def _errno(code: int) -> int:
    return 0x00050000 | code


def seccomp_program(machine: str, own_pid: int) -> list[tuple[int, int, int, int]]:
    """The filter as (code, jt, jf, k) instructions; offsets into struct seccomp_data: nr 0, arch 4,
    args[0] 16 (its low 32 bits on these little-endian machines)."""
    column = 0 if machine == "x86_64" else 1
    nr = {name: numbers[column] for name, numbers in CALLS.items() if numbers[column] is not None}
    program: list[tuple[int, int, int, int]] = [
        (LD_W_ABS, 0, 0, 4),
        (JEQ_K, 1, 0, AUDIT_ARCH[machine]),
        (RET_K, 0, 0, RET_KILL_PROCESS),  # another ABI (x32, 32-bit): nothing to run here
        (LD_W_ABS, 0, 0, 0),
    ]
    if machine == "x86_64":
        program += [(JGE_K, 0, 1, 0x40000000), (RET_K, 0, 0, RET_KILL_PROCESS)]  # x32 calls
    refused = {
        "socket": errno.EACCES,
        "fork": errno.EPERM,
        "vfork": errno.EPERM,
        "clone3": errno.ENOSYS,
        "ptrace": errno.EPERM,
        "tkill": errno.EPERM,
        "pidfd_send_signal": errno.EPERM,
        "pidfd_open": errno.EPERM,
        "process_vm_readv": errno.EPERM,
        "process_vm_writev": errno.EPERM,
    }
    for name, code in refused.items():
        if name in nr:
            program += [(JEQ_K, 0, 1, nr[name]), (RET_K, 0, 0, _errno(code))]
    # clone: threads only.
    program += [
        (JEQ_K, 0, 4, nr["clone"]),
        (LD_W_ABS, 0, 0, 16),
        (JSET_K, 0, 1, CLONE_THREAD),
        (RET_K, 0, 0, RET_ALLOW),
        (RET_K, 0, 0, _errno(errno.EPERM)),
    ]
    # kill(pid, ...) and tgkill(tgid, ...): only to this process (or its own group: it leads it).
    program += [(LD_W_ABS, 0, 0, 0)]
    for name in ("kill", "tgkill"):
        program += [
            (JEQ_K, 0, 6, nr[name]),
            (LD_W_ABS, 0, 0, 16),
            (JEQ_K, 2, 0, own_pid),
            (JEQ_K, 1, 0, 0),  # kill(0, sig): the caller's own process group
            (RET_K, 0, 0, _errno(errno.EPERM)),
            (RET_K, 0, 0, RET_ALLOW),
            (LD_W_ABS, 0, 0, 0),
        ]
    return program + [(RET_K, 0, 0, RET_ALLOW)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_seccomp() -> dict:
    machine = os.uname().machine
    if machine not in AUDIT_ARCH:
        raise OSError(errno.ENOSYS, f"no seccomp filter for {machine}")
    program = seccomp_program(machine, os.getpid())
    raw = b"".join(struct.pack("=HBBI", *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(raw, len(raw))
    fprog = _SockFprog(len(program), ctypes.addressof(buffer))
    _check(LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    _check(LIBC.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), "seccomp")
    return {"refused": ["socket", "new processes", "ptrace", "signals to other processes"]}


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


def read_only_paths() -> list[str]:
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
    scratch = config["scratch"]

    def attempt(name: str, action) -> None:
        if name not in wanted:
            return
        try:
            layers[name] = {"active": True, **(action() or {})}
        except OSError as error:
            layers[name] = {"active": False, "reason": str(error)}

    attempt("namespaces", lambda: enter_namespaces(scratch, config["scratch_mb"]))
    os.chdir(scratch)
    attempt("landlock", lambda: restrict_file_system(read_only_paths(), [scratch]))
    attempt("rlimits", lambda: set_rlimits(config["limits"]))
    attempt("seccomp", install_seccomp)  # last: the calls above need what it refuses
    return layers


def parse(argv: list[str]) -> dict:
    """CONFIG is `key=value` arguments (no json: see the module's docstring)."""
    pairs = dict(arg.split("=", 1) for arg in argv)
    return {
        "scratch": pairs["scratch"],
        "scratch_mb": int(pairs["scratch_mb"]),
        "main": pairs.get("main"),
        "report_fd": int(pairs["report_fd"]),
        "layers": pairs["layers"].split(","),
        "limits": {
            key: int(pairs[key]) for key in ("cpu_s", "memory_bytes", "file_bytes", "open_files", "processes")
        },
    }


def run_main(path: str) -> None:
    """`python MAIN`, minus a second interpreter: its directory first on sys.path, run as __main__."""
    sys.argv = [path]
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
    os.close(config["report_fd"])
    if not probe:
        run_main(config["main"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
