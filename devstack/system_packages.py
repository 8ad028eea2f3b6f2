"""The Debian packages mentorq needs outside Python, each with what it is for and how to tell it is there.

Two sets. `platform`: what a running platform uses, so what `make dev` and `make demo` install (a
fresh machine has none of them: before, only `make test` installed the sandbox's bubblewrap, and
the README's first command failed its exercise step with `sandbox_unavailable`). `test`: what the
suite runs for real besides (nginx, Chromium, Prometheus, ...); `make test` installs both.

    python -m devstack.system_packages install platform   # check; install what is missing, as root
    python -m devstack.system_packages check platform     # check only: exit 1 naming what is missing

Standard library only: the Makefile runs it before anything is installed. Not root, no `apt-get`,
or an install that leaves a package missing: it stops with the packages' names and the command to
run, and exits 1. The mapping from the sandbox's layers and the settings' font files to packages
is tested against the code that uses them (tests/test_system_packages.py), so a new need without
its package fails there, not on a newcomer's machine.
"""

from __future__ import annotations

import ctypes.util
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SystemPackage:
    name: str  # Debian's package name
    purpose: str  # what in mentorq needs it, for the message a newcomer reads
    command: str | None = None  # present when this is on PATH
    file: str | None = None  # present when this file exists
    library: str | None = None  # present when ctypes finds this shared library
    apt_options: tuple[str, ...] = ()

    def present(self) -> bool:
        if self.command is not None and shutil.which(self.command) is None:
            return False
        if self.file is not None and not Path(self.file).is_file():
            return False
        return self.library is None or _library_loads(self.library)

    def provides(self) -> str:
        """What it puts on the machine, as a newcomer would look for it."""
        return self.command or self.library and f"lib{self.library}" or Path(self.file or self.name).name


def _library_loads(name: str) -> bool:
    found = ctypes.util.find_library(name)
    candidates = [found] if found else []
    candidates.append(f"/usr/lib/{platform.machine()}-linux-gnu/lib{name}.so.2")
    for candidate in candidates:
        try:
            ctypes.CDLL(candidate)
        except OSError:
            continue
        return True
    return False


DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
WQY = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"

# The code sandbox's layers that a package provides (workers/sandbox/): the others are the kernel's
# (Landlock) or always there (rlimits).
SANDBOX_LAYER_PACKAGES = {"namespaces": "bubblewrap", "seccomp": "libseccomp2"}
KERNEL_LAYERS = frozenset({"rlimits", "landlock"})

PLATFORM = (
    SystemPackage(
        "bubblewrap",
        "the code sandbox's fresh root and namespaces (grading, the exercise gate)",
        command="bwrap",
    ),
    SystemPackage("libseccomp2", "the code sandbox's system-call allow-list", library="seccomp"),
    SystemPackage("fonts-dejavu-core", "match reports as PDF (the text font)", file=DEJAVU),
    SystemPackage("fonts-wqy-microhei", "match reports as PDF (the CJK fallback font)", file=WQY),
)

TEST = (
    SystemPackage(
        "nginx-light", "tests/test_proxy.py and tests/hosts run the production proxy", command="nginx"
    ),
    SystemPackage(
        "chromium", "tests/console drives the admin console through Playwright", file="/usr/bin/chromium"
    ),
    SystemPackage("poppler-utils", "tests/matches reads the PDF reports back", command="pdftotext"),
    SystemPackage("iproute2", "tests/hosts builds the topology's network namespaces", command="ip"),
    SystemPackage(
        "espeak-ng",
        "tests/recordings speaks conversations in several voices (diarization)",
        command="espeak-ng",
    ),
    # Not its node exporter and the rest of its recommendations.
    SystemPackage(
        "prometheus",
        "tests/metrics scrapes a live stack",
        command="prometheus",
        apt_options=("--no-install-recommends",),
    ),
)

SETS = {"platform": PLATFORM, "test": PLATFORM + TEST}


def missing(packages: tuple[SystemPackage, ...]) -> list[SystemPackage]:
    return [package for package in packages if not package.present()]


def describe(packages: list[SystemPackage]) -> str:
    return "\n".join(f"  - {p.name} ({p.provides()}): {p.purpose}" for p in packages)


def install_command(packages: list[SystemPackage]) -> str:
    """The shell command that installs `packages`, as a person types it (one line per option set)."""
    lines = [
        " ".join(["sudo apt-get install -y", *options, *names]) for options, names in _by_options(packages)
    ]
    return " && ".join(lines)


def _by_options(packages: list[SystemPackage]) -> list[tuple[tuple[str, ...], list[str]]]:
    """The packages' names grouped by the apt-get options they install with, in order."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for package in packages:
        groups.setdefault(package.apt_options, []).append(package.name)
    return list(groups.items())


class CannotInstall(Exception):
    """What is missing could not be installed here; the message says what to run instead."""


def install(packages: list[SystemPackage], *, say=print) -> None:
    """apt-get install `packages` (as root, or through `sudo -n` where that asks no password)."""
    if not packages:
        return
    apt = shutil.which("apt-get")
    if apt is None:
        raise CannotInstall(
            "mentorq needs these system packages, and this machine has no apt-get to install them:\n"
            f"{describe(packages)}\n"
            "Install them (or their equivalents) with your system's package manager, then run this again."
        )
    prefix: list[str] = []
    if os.geteuid() != 0:
        sudo = shutil.which("sudo")
        if sudo is None or subprocess.run([sudo, "-n", "true"], capture_output=True).returncode != 0:
            raise CannotInstall(
                "mentorq needs these Debian packages, and installing them needs root:\n"
                f"{describe(packages)}\n"
                f"Run:\n  sudo apt-get update && {install_command(packages)}\nthen run this again."
            )
        prefix = [sudo, "-n"]
    say(f"installing the system packages mentorq needs:\n{describe(packages)}")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*prefix, apt, "update", "-q"], check=True, env=environment)
    for options, names in _by_options(packages):
        subprocess.run([*prefix, apt, "install", "-y", "-q", *options, *names], check=True, env=environment)


def ensure(packages: tuple[SystemPackage, ...], *, say=print) -> None:
    """Install what is missing of `packages`, then check again: raises CannotInstall if any still is."""
    try:
        install(missing(packages), say=say)
    except subprocess.CalledProcessError as exc:
        raise CannotInstall(f"apt-get failed ({exc}); the packages:\n{describe(missing(packages))}") from None
    still = missing(packages)
    if still:
        raise CannotInstall(
            "these packages are installed but what they provide is still not found (a hidden or "
            f"removed file, or another PATH?):\n{describe(still)}"
        )


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("check", "install") or argv[1] not in SETS:
        print(f"usage: python -m devstack.system_packages check|install {'|'.join(SETS)}", file=sys.stderr)
        return 2
    action, packages = argv[0], SETS[argv[1]]
    if action == "check":
        absent = missing(packages)
        if absent:
            print(
                f"missing system packages:\n{describe(absent)}\nInstall them: {install_command(absent)}",
                file=sys.stderr,
            )
            return 1
        return 0
    try:
        ensure(packages)
    except CannotInstall as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
