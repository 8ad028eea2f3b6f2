"""The first command installs what the platform it starts needs (issue 41).

`make demo` once installed only Python packages, so on a fresh machine its exercise step failed with
`sandbox_unavailable`: bubblewrap was installed by `make test` alone, and CI, which runs `make test`
first, never saw it. These tests tie the list the Makefile installs to the code that needs it, and
run the checks and the demo on this machine with a package hidden (a private mount namespace where
the package's file is /dev/null), as on a machine without it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.settings import SANDBOX_LAYERS, Settings
from devstack import system_packages
from devstack.system_packages import KERNEL_LAYERS, PLATFORM, SANDBOX_LAYER_PACKAGES, TEST
from tests.support.stack import REPO

PLATFORM_NAMES = {package.name for package in PLATFORM}


def test_every_sandbox_layer_is_the_kernels_or_a_platform_package() -> None:
    for layer in SANDBOX_LAYERS:
        assert (layer in KERNEL_LAYERS) != (layer in SANDBOX_LAYER_PACKAGES), layer
    assert set(SANDBOX_LAYER_PACKAGES.values()) <= PLATFORM_NAMES


def test_the_default_report_fonts_come_from_platform_packages() -> None:
    provided = {package.file for package in PLATFORM if package.file}
    fonts = Settings(env="dev").report_fonts
    assert fonts and set(fonts) <= provided


def test_the_test_set_adds_to_the_platform_set_and_names_each_package_once() -> None:
    names = [package.name for package in PLATFORM + TEST]
    assert len(names) == len(set(names))
    assert system_packages.SETS["test"][: len(PLATFORM)] == PLATFORM


def _make_dry_run(target: str, tmp_path: Path) -> list[str]:
    """The commands `make TARGET` would run on a machine with no .venv yet (make -n, a fresh VENV)."""
    result = subprocess.run(
        ["make", "-n", target, f"VENV={tmp_path / 'venv'}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.splitlines()


@pytest.mark.parametrize(
    ("target", "packages"), [("demo", "platform"), ("dev", "platform"), ("test", "test")]
)
def test_each_make_target_installs_its_system_packages_before_python(
    target: str, packages: str, tmp_path
) -> None:
    commands = _make_dry_run(target, tmp_path)
    install = f"python3 -m devstack.system_packages install {packages}"
    assert install in commands, commands
    first_pip = next(i for i, line in enumerate(commands) if "pip install" in line)
    assert commands.index(install) < first_pip, "system packages are checked before the long Python install"


# --- on this machine, with a package hidden ------------------------------------------------------------


def _hidden_paths(package: system_packages.SystemPackage) -> list[str]:
    """The real files whose absence makes `package` absent: what it provides, links resolved."""
    if package.command:
        found = shutil.which(package.command)
        return [os.path.realpath(found)] if found else []
    if package.library:
        matches = sorted(Path("/usr/lib").glob(f"*-linux-gnu/lib{package.library}.so.*"))
        return sorted({os.path.realpath(path) for path in matches})
    return [os.path.realpath(package.file)] if package.file and Path(package.file).exists() else []


def _run_hiding(
    paths: list[str], argv: list[str], *, as_nobody: bool = False, timeout: float = 120, env=None
) -> subprocess.CompletedProcess:
    """`argv` in a private mount namespace where each of `paths` is /dev/null (so not a program, a
    library or a font), optionally as uid 65534."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.fail(
            "these tests hide files in a mount namespace, which needs root and unshare (CI runs as root)"
        )
    mounts = "".join(f"mount --bind /dev/null {shlex.quote(path)} && " for path in paths)
    command = shlex.join(argv)
    if as_nobody:
        command = f"setpriv --reuid=65534 --regid=65534 --clear-groups {command}"
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", f"{mounts}exec {command}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def _package(name: str) -> system_packages.SystemPackage:
    return next(package for package in PLATFORM if package.name == name)


def _present_or_fail(package: system_packages.SystemPackage) -> list[str]:
    paths = _hidden_paths(package)
    assert paths and package.present(), f"{package.name} must be installed here (make test installs it)"
    return paths


@pytest.mark.parametrize("layer", sorted(SANDBOX_LAYER_PACKAGES))
def test_hiding_a_layers_package_is_what_the_sandbox_and_the_check_both_see(layer: str) -> None:
    """The package list and the sandbox agree on what each package provides: hide it and the
    sandbox's own probe loses that layer, and the preflight names the package."""
    package = _package(SANDBOX_LAYER_PACKAGES[layer])
    paths = _present_or_fail(package)
    code = (
        "import json; from devstack.preflight import sandbox_shortfall; "
        "from workers.sandbox.runner import probe_for; "
        f"missing = probe_for({SANDBOX_LAYERS!r})['missing']; "
        "print(json.dumps({'missing': missing, 'lines': sandbox_shortfall()}))"
    )
    result = _run_hiding(paths, [sys.executable, "-c", code])
    assert result.returncode == 0, result.stderr
    import json

    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert layer in found["missing"]
    assert any(package.name in line and repr(layer) in line for line in found["lines"]), found["lines"]
    check = _run_hiding(paths, [sys.executable, "-m", "devstack.system_packages", "check", "platform"])
    assert check.returncode == 1 and package.name in check.stderr


def test_the_demo_stops_at_once_naming_the_package_when_bubblewrap_is_missing() -> None:
    paths = _present_or_fail(_package("bubblewrap"))
    started = time.monotonic()
    result = _run_hiding(paths, [str(REPO / ".venv" / "bin" / "mentorq"), "demo"], timeout=120)
    took = time.monotonic() - started
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "bubblewrap" in out and "apt-get install -y bubblewrap" in out, out
    assert "nothing was started" in out and "postgres" not in out, out
    print(f"the demo stopped after {took:.1f} s:\n{out}")


def test_installing_as_a_user_who_is_not_root_stops_with_the_command_to_run() -> None:
    paths = _present_or_fail(_package("bubblewrap"))
    # Debian's own python3: the project's interpreter lies under /root, which nobody can read.
    result = _run_hiding(
        paths,
        ["/usr/bin/python3", "-m", "devstack.system_packages", "install", "platform"],
        as_nobody=True,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "needs root" in result.stderr and "sudo apt-get install -y bubblewrap" in result.stderr, (
        result.stderr
    )


def test_installing_without_apt_get_stops_naming_the_packages() -> None:
    bubblewrap = _present_or_fail(_package("bubblewrap"))
    apt_get = shutil.which("apt-get")
    assert apt_get, "this machine has apt-get"
    result = _run_hiding(
        [*bubblewrap, os.path.realpath(apt_get)],
        [sys.executable, "-m", "devstack.system_packages", "install", "platform"],
    )
    assert result.returncode == 1
    assert "no apt-get" in result.stderr and "bubblewrap (bwrap)" in result.stderr, result.stderr
