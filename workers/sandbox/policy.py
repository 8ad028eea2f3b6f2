"""The sandbox's system-call policy: an allow-list, compiled by libseccomp.

Only the calls a Python program needs once it is running are allowed: reading and writing the
files it may see, memory, threads, clocks, signals to itself, polling its own descriptors. Every
other call answers EPERM (`clone3` answers ENOSYS, so the C library falls back to `clone`, which
is allowed for threads only). So io_uring, every way to make a socket, ptrace and
`process_vm_*`, bpf, perf events, userfaultfd, the keyring, mounts, namespaces (`unshare`,
`setns`), `personality`, new processes and new programs (`fork`, `vfork`, `clone` without
CLONE_THREAD, `execve`) are refused without being named: a call added to the kernel next year is
refused too. A call of another ABI (i386's `int 0x80`, x32) kills the process.

libseccomp (`libseccomp.so.2`, through ctypes: its whole API here is six functions) turns the
list into a BPF program for this machine once per worker process; the launcher loads that
program in the sandboxed process after its own set-up, the last thing before the program runs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import tempfile
from functools import lru_cache

# What a running CPython calls (read off `strace -f` of the grading harness, a program importing
# most of the standard library, threads, sleeps, MemoryError and deep recursion).
ALLOWED = (
    # files it can see (the fresh root and Landlock decide which)
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
    "pwritev2", "lseek", "close", "close_range", "fstat", "stat", "lstat", "newfstatat", "statx",
    "open", "openat", "access", "faccessat", "faccessat2", "readlink", "readlinkat", "getdents64",
    "getcwd", "chdir", "fchdir", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename",
    "renameat", "renameat2", "ftruncate", "truncate", "fsync", "fdatasync", "fcntl", "dup",
    "dup2", "dup3", "pipe", "pipe2", "umask", "fchmod", "chmod", "fchmodat", "utimensat",
    # memory
    "mmap", "munmap", "mprotect", "mremap", "brk", "madvise",
    # threads and the process itself
    "futex", "set_robust_list", "get_robust_list", "rseq", "set_tid_address", "gettid", "getpid",
    "getppid", "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups",
    "getpgrp", "getpgid", "getsid", "sched_yield", "sched_getaffinity", "sched_getparam",
    "sched_getscheduler", "getpriority", "prlimit64", "getrlimit", "getrusage", "times", "uname",
    "sysinfo", "getcpu", "exit", "exit_group", "wait4", "waitid",
    # clocks
    "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
    "alarm", "setitimer", "getitimer",
    # signals: only its own processes exist in its PID namespace, and Landlock scopes them too
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigsuspend",
    "rt_sigtimedwait", "sigaltstack", "kill", "tkill", "tgkill", "pause",
    # waiting on its own descriptors
    "select", "pselect6", "poll", "ppoll", "epoll_create", "epoll_create1", "epoll_ctl",
    "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd2",
    "getrandom",
)  # fmt: skip
# ioctl only asks a descriptor about itself: is it a terminal, how much is buffered, close on exec,
# blocking. (TIOCSTI, which types into a terminal, is not among them.)
ALLOWED_IOCTLS = {
    "TCGETS": 0x5401,
    "TIOCGWINSZ": 0x5413,
    "FIONREAD": 0x541B,
    "FIONBIO": 0x5421,
    "FIONCLEX": 0x5450,
    "FIOCLEX": 0x5451,
}
CLONE_THREAD = 0x00010000
# A thread never asks for new namespaces; refusing them here is redundant with bubblewrap's
# --disable-userns and the refused unshare, and costs nothing.
CLONE_NEW_NAMESPACES = (
    0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
)

# libseccomp's constants (seccomp.h).
ACT_KILL_PROCESS = 0x80000000
ACT_ALLOW = 0x7FFF0000
FLTATR_ACT_BADARCH = 2
CMP_EQ = 4
CMP_MASKED_EQ = 7
NR_SCMP_ERROR = -1


def act_errno(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


class PolicyUnavailable(OSError):
    """libseccomp is not installed, or refused the policy."""


def _libseccomp() -> ctypes.CDLL:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError as error:
        raise PolicyUnavailable(errno.ENOENT, f"libseccomp is not installed ({error})") from None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_ArgCmp),
    ]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


def _check(result: int, what: str) -> None:
    if result < 0:
        raise PolicyUnavailable(-result, f"libseccomp: {what}: {os.strerror(-result)}")


@lru_cache
def compiled_policy() -> bytes:
    """The allow-list as a BPF program for this machine's ABI (struct sock_filter, 8 bytes each)."""
    lib = _libseccomp()
    ctx = lib.seccomp_init(act_errno(errno.EPERM))
    if not ctx:
        raise PolicyUnavailable(errno.ENOMEM, "libseccomp: seccomp_init failed")
    try:
        _check(lib.seccomp_attr_set(ctx, FLTATR_ACT_BADARCH, ACT_KILL_PROCESS), "bad-arch action")

        def rule(action: int, name: str, *comparisons: tuple[int, int, int, int]) -> None:
            number = lib.seccomp_syscall_resolve_name(name.encode())
            if number == NR_SCMP_ERROR:
                return  # not a call libseccomp knows on this machine
            array = (_ArgCmp * max(1, len(comparisons)))(*[_ArgCmp(*c) for c in comparisons])
            result = lib.seccomp_rule_add_array(ctx, action, number, len(comparisons), array)
            if result == -errno.EDOM:
                return  # the call does not exist on this ABI (e.g. `open` on aarch64)
            _check(result, f"rule for {name}")

        for name in ALLOWED:
            rule(ACT_ALLOW, name)
        for request in ALLOWED_IOCTLS.values():
            rule(ACT_ALLOW, "ioctl", (1, CMP_EQ, request, 0))
        rule(ACT_ALLOW, "clone", (0, CMP_MASKED_EQ, CLONE_THREAD | CLONE_NEW_NAMESPACES, CLONE_THREAD))
        rule(act_errno(errno.ENOSYS), "clone3")
        with tempfile.TemporaryFile() as out:
            _check(lib.seccomp_export_bpf(ctx, out.fileno()), "export")
            out.seek(0)
            program = out.read()
    finally:
        lib.seccomp_release(ctx)
    if not program or len(program) % 8:
        raise PolicyUnavailable(errno.EINVAL, "libseccomp exported no program")
    return program
