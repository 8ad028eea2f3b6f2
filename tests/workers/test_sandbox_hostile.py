"""Hostile programs against the code sandbox: every family of system calls the policy refuses, tried
directly through ctypes (as a learner who found `syscall()` would), and the ways out of the file
system the fresh root closes. No stack needed: the sandbox is a child process of the test.

Each refused call is tried twice: in the full sandbox, and with the seccomp layer alone on this
(root) test process, where without the filter the call would succeed or fail differently (unshare(0)
and setuid(0) succeed as root, io_uring_setup(1, NULL) answers EFAULT, ...): so a pass shows the
allow-list itself refusing it, not only the namespaces. Calls that would change the host if the
filter let them through (sethostname, kexec_load, SysV IPC objects) are tried only in the full
sandbox, inside its own namespaces. The numbers are x86_64's.
"""

from __future__ import annotations

import errno
import os
import platform
import signal

import pytest

from workers.sandbox import SandboxLimits, run_python

pytestmark = pytest.mark.skipif(
    platform.machine() != "x86_64", reason="the hostile programs use x86_64 system call numbers"
)

LIMITS = SandboxLimits(cpu_s=2, wall_s=5, memory_bytes=128 * 1024 * 1024, output_bytes=64 * 1024)
ALL = ("rlimits", "namespaces", "landlock", "seccomp")

SYSCALL = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
result = libc.syscall({number}, *[ctypes.c_long(a) for a in {args!r}])
print(result, ctypes.get_errno())
"""

# (family, call, number, args, safe to try with the filter alone on this host)
REFUSED = [
    ("sockets", "socket(AF_UNIX)", 41, (1, 1, 0), True),
    ("sockets", "socket(AF_INET)", 41, (2, 1, 0), True),
    ("sockets", "socket(AF_NETLINK)", 41, (16, 3, 0), True),
    ("sockets", "socketpair", 53, (1, 1, 0, 0), True),
    ("io_uring", "io_uring_setup", 425, (1, 0), True),
    ("io_uring", "io_uring_enter", 426, (0, 0, 0, 0, 0, 0), True),
    ("io_uring", "io_uring_register", 427, (0, 0, 0, 0), True),
    ("other processes", "ptrace(PTRACE_TRACEME)", 101, (0, 0, 0, 0), True),
    ("other processes", "process_vm_readv", 310, (1, 0, 0, 0, 0, 0), True),
    ("other processes", "process_vm_writev", 311, (1, 0, 0, 0, 0, 0), True),
    ("other processes", "pidfd_open(1)", 434, (1, 0), True),
    ("other processes", "pidfd_getfd", 438, (0, 0, 0), True),
    ("other processes", "kcmp", 312, (0, 0, 0, 0, 0), True),
    ("kernel interfaces", "bpf", 321, (0, 0, 0), True),
    ("kernel interfaces", "perf_event_open", 298, (0, 0, -1, -1, 0), True),
    ("kernel interfaces", "userfaultfd", 323, (0,), True),
    ("kernel interfaces", "fanotify_init", 300, (0, 0), True),
    ("kernel interfaces", "syslog(SIZE_BUFFER)", 103, (10, 0, 0), True),
    ("kernel interfaces", "iopl(0)", 172, (0,), True),
    ("kernel interfaces", "landlock_create_ruleset", 444, (0, 0, 1), True),
    ("kernel interfaces", "seccomp(GET_ACTION_AVAIL)", 317, (2, 0, 0), True),
    ("kernel interfaces", "prctl(PR_GET_DUMPABLE)", 157, (3, 0, 0, 0, 0), True),
    ("kernel interfaces", "memfd_create", 319, (0, 0), True),
    ("keyring", "keyctl(GET_KEYRING_ID)", 250, (0, -1, 0), True),
    ("keyring", "add_key", 248, (0, 0, 0, 0, 0), True),
    ("keyring", "request_key", 249, (0, 0, 0, 0), True),
    ("mounts", "mount", 165, (0, 0, 0, 0, 0), True),
    ("mounts", "umount2", 166, (0, 0), True),
    ("mounts", "pivot_root", 155, (0, 0), True),
    ("mounts", "chroot", 161, (0,), True),
    ("mounts", "fsopen", 430, (0, 0), True),
    ("mounts", "open_tree", 428, (-1, 0, 0), True),
    ("mounts", "move_mount", 429, (-1, 0, -1, 0, 0), True),
    ("mounts", "mount_setattr", 442, (-1, 0, 0, 0, 0), True),
    ("mounts", "name_to_handle_at", 303, (-1, 0, 0, 0, 0), True),
    ("mounts", "open_by_handle_at", 304, (-1, 0, 0), True),
    ("namespaces", "unshare(0)", 272, (0,), True),
    ("namespaces", "unshare(CLONE_NEWUSER)", 272, (0x10000000,), True),
    ("namespaces", "setns", 308, (-1, 0), True),
    ("personality", "personality(query)", 135, (0xFFFFFFFF,), True),
    ("new processes", "execve", 59, (0, 0, 0), True),
    ("new processes", "execveat", 322, (-1, 0, 0, 0, 0), True),
    ("new processes", "fork", 57, (), False),
    ("new processes", "vfork", 58, (), False),
    ("new processes", "clone(SIGCHLD)", 56, (17, 0, 0, 0, 0), False),
    (
        "new processes",
        "clone(CLONE_THREAD|CLONE_NEWNET)",
        56,
        (0x00010000 | 0x00000100 | 0x00000800 | 0x40000000, 0, 0, 0, 0),
        True,
    ),
    ("identity", "setuid(0)", 105, (0,), True),
    ("identity", "setresuid", 117, (-1, -1, -1), True),
    ("identity", "capset", 126, (0, 0), True),
    ("system", "settimeofday(NULL)", 164, (0, 0), True),
    ("system", "clock_settime", 227, (0, 0), True),
    ("system", "adjtimex", 159, (0,), True),
    ("system", "sethostname", 170, (0, 0), False),
    ("system", "acct", 163, (0,), False),
    ("system", "reboot", 169, (0, 0, 0, 0), False),
    ("system", "kexec_load", 246, (0, 0, 0, 0), False),
    ("system", "init_module", 175, (0, 0, 0), True),
    ("system", "finit_module", 313, (-1, 0, 0), True),
    ("system", "delete_module", 176, (0, 0), True),
    ("system", "swapon", 167, (0, 0), True),
    ("system", "quotactl", 179, (0, 0, 0, 0), True),
    ("system", "mknod", 133, (0, 0, 0), True),
    ("SysV IPC", "msgget", 68, (0, 0o600), False),
    ("SysV IPC", "shmget", 29, (0, 4096, 0o600), False),
    ("SysV IPC", "semget", 64, (0, 1, 0o600), False),
    ("terminals", "ioctl(TIOCSTI)", 16, (0, 0x5412, 0), True),
]
REFUSED_IDS = [call for _, call, *_ in REFUSED]


def run(code: str, *, attempt=ALL, required=ALL):
    return run_python({"main.py": code}, "main.py", limits=LIMITS, required=required, attempt=attempt)


def refused(result, expected_errno: int = errno.EPERM) -> bool:
    """The call answered -1 with the filter's errno."""
    if result.status != "ok":
        return False
    answer, code = result.stdout.split()
    return int(answer) == -1 and int(code) == expected_errno


@pytest.mark.parametrize(("family", "call", "number", "args", "safe"), REFUSED, ids=REFUSED_IDS)
def test_each_refused_call_fails_in_the_sandbox(family, call, number, args, safe):
    result = run(SYSCALL.format(number=number, args=args))
    assert refused(result), (family, call, result.status, result.stdout, result.stderr[-300:])


@pytest.mark.parametrize(
    ("family", "call", "number", "args", "safe"),
    [case for case in REFUSED if case[4]],
    ids=[c[1] for c in REFUSED if c[4]],
)
def test_the_allow_list_alone_refuses_each_call(family, call, number, args, safe):
    result = run(SYSCALL.format(number=number, args=args), attempt=("seccomp",), required=("seccomp",))
    assert refused(result), (family, call, result.status, result.stdout, result.stderr[-300:])


def test_without_the_filter_those_calls_would_not_be_refused_so():
    # The control: the same programs with every layer but seccomp answer otherwise, so the
    # refusals above are the filter's doing (unshare(0) succeeds, io_uring_setup(1, NULL) is EFAULT).
    no_filter = ("rlimits", "namespaces", "landlock")
    unshare = run(SYSCALL.format(number=272, args=(0,)), attempt=no_filter, required=no_filter)
    uring = run(SYSCALL.format(number=425, args=(1, 0)), attempt=no_filter, required=no_filter)
    assert unshare.stdout.split()[0] == "0", unshare.stderr
    assert uring.stdout.split() == ["-1", str(errno.EFAULT)], uring.stderr


def test_clone3_answers_enosys_so_threads_fall_back_to_clone():
    result = run(SYSCALL.format(number=435, args=(0, 0)))
    assert refused(result, errno.ENOSYS), result.stdout


def test_threads_still_work():
    code = "import threading\nt = threading.Thread(target=print, args=('thread ran',))\nt.start(); t.join()"
    assert run(code).stdout == "thread ran\n"


@pytest.mark.parametrize(
    ("abi", "code"),
    [
        (
            "x32",
            "import ctypes\nlibc = ctypes.CDLL(None)\n"
            "libc.syscall(0x40000000 | 41, 1, 1, 0)\nprint('survived')",
        ),
        (
            "i386 int 0x80",
            # mov eax, 359 (i386 socket); int 0x80; ret, run from an executable page.
            "import ctypes, mmap\n"
            "code = bytes([0xB8, 0x67, 0x01, 0, 0, 0xCD, 0x80, 0xC3])\n"
            "page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
            "page.write(code)\n"
            "address = ctypes.addressof(ctypes.c_char.from_buffer(page))\n"
            "ctypes.CFUNCTYPE(ctypes.c_int)(address)()\n"
            "print('survived')",
        ),
    ],
)
def test_a_call_through_another_abi_kills_the_program(abi, code):
    result = run(code)
    assert (result.status, result.signal) == ("forbidden", signal.SIGSYS), (abi, result.stdout, result.stderr)
    assert "survived" not in result.stdout


def test_only_the_interpreter_and_the_scratch_directory_are_visible():
    result = run(
        "import os\n"
        "print(sorted(os.listdir('/')))\n"
        "print(sorted(os.listdir('/dev')))\n"
        "print(os.getuid(), os.getgid(), os.getpid())\n"
        "print(os.path.exists('/proc'), os.path.exists('/etc/passwd'), os.path.exists('/tmp'))"
    )
    top, devices, ids, exists = result.stdout.splitlines()
    assert set(eval(top)) <= {"sandbox", "mentorq", "dev", "etc", "lib", "lib64", "usr", "root", "opt"}, top
    assert eval(devices) == ["null", "urandom", "zero"]
    assert ids == "65534 65534 2"  # nobody, the second process of its own PID namespace
    assert exists == "False False False"


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "/etc/shadow",
        "/proc/1/environ",
        "/proc/self/environ",
        "/root/.bash_history",
        "/var/run/docker.sock",
        "/tmp",
        os.path.expanduser("~/.ssh"),
        os.getcwd() + "/.mentorq/redis/redis.sock",
        os.getcwd() + "/pyproject.toml",
    ],
)
def test_host_files_and_sockets_are_not_even_names(path: str):
    result = run(f"import os\nprint(os.path.exists({path!r}))\nopen({path!r}, 'rb')")
    assert result.stdout == "False\n" and "FileNotFoundError" in result.stderr, (path, result.stderr[-200:])


def test_the_interpreters_site_packages_are_hidden():
    result = run(
        "import sysconfig, os\n"
        "path = os.path.join(sysconfig.get_paths()['stdlib'], 'site-packages')\n"
        "print(os.listdir(path))"
    )
    assert result.stdout == "[]\n", result.stderr


@pytest.mark.parametrize(
    ("name", "code", "error"),
    [
        ("writes to the interpreter", "import os\nopen(os.__file__, 'a')", "OSError"),
        ("writes to the root", "open('/escaped', 'w')", "OSError"),
        ("makes a directory outside", "import os\nos.mkdir('/dev/x')", "OSError"),
    ],
)
def test_writing_outside_the_scratch_directory_fails(name, code, error):
    result = run(code)
    assert result.status in ("error", "forbidden"), (name, result)
    if result.status == "error":  # a refused syscall kills the program before it can print
        assert error in result.stderr or "PermissionError" in result.stderr, (name, result.stderr)


def test_the_scratch_directory_is_capped():
    result = run(
        "import os\n"
        "chunk = b'x' * 65536\n"
        "try:\n"
        "    for i in range(1000):\n"
        "        with open(f'f{i}', 'wb') as f:\n"
        "            for _ in range(15): f.write(chunk)\n"
        "except OSError as error:\n"
        "    print(error.errno)\n"
    )
    assert result.stdout == f"{errno.ENOSPC}\n", result.stderr


def test_open_files_are_capped():
    result = run(
        "files = []\ntry:\n    while True: files.append(open('/dev/null'))\nexcept OSError as error:\n"
        "    print(error.errno, len(files) < 64)"
    )
    assert result.stdout == f"{errno.EMFILE} True\n", result.stderr


@pytest.mark.parametrize("target", ["1", "-1"])
def test_signals_reach_nothing_outside(target: str):
    # pid 1 is bubblewrap's init in the sandbox's PID namespace (Landlock refuses signals out of the
    # sandbox's domain); -1 is every process it may signal, and there is none.
    result = run(
        f"import os, signal\ntry:\n    os.kill({target}, signal.SIGKILL)\n"
        "except OSError as e:\n    print(e.errno)"
    )
    assert result.stdout.strip() in (str(errno.EPERM), str(errno.ESRCH)), (
        result.stdout,
        result.stderr[-200:],
    )


def test_a_signal_to_its_own_group_reaches_only_itself():
    result = run("import os, signal\nos.kill(0, signal.SIGKILL)\nprint('alive')")
    assert result.signal == signal.SIGKILL and result.stdout == ""
