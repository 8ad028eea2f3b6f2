"""What `mentorq demo` and `mentorq dev` check before they start anything: that this host can run the
code sandbox its workers will require, and has the match reports' fonts.

The demo grades code in the sandbox, so a missing layer stops it at once, naming the package that
brings the layer (before, it started the whole platform and then failed its exercise step with
`sandbox_unavailable`). `mentorq dev` says the same and goes on: everything but running code works.
"""

from __future__ import annotations

from pathlib import Path

from devstack.system_packages import KERNEL_LAYERS, PLATFORM, SANDBOX_LAYER_PACKAGES, install_command

PACKAGES = {package.name: package for package in PLATFORM}


def sandbox_shortfall() -> list[str]:
    """One line per sandbox layer the workers will require and this host cannot apply: why, and the fix."""
    from core.settings import Settings
    from workers.sandbox.runner import probe_for

    # The workers `mentorq dev` and the demo start run with MENTORQ_ENV=dev (devstack.supervisor).
    required = Settings(env="dev").sandbox_require
    found = probe_for(required)
    lines = []
    for layer in found["missing"]:
        reason = found["layers"].get(layer, {}).get("reason") or "not active"
        package = SANDBOX_LAYER_PACKAGES.get(layer)
        if package is not None:
            fix = f"install Debian's {package}: {install_command([PACKAGES[package]])}"
        elif layer in KERNEL_LAYERS:
            fix = "a kernel feature this host lacks (Landlock needs Linux 5.13+ with it enabled)"
        else:
            fix = "see the docs' sandbox page"
        lines.append(f"sandbox layer {layer!r} is missing ({reason}); {fix}")
    if lines:
        lines.append(
            "`make demo` and `make dev` install the packages as root; a host that cannot have a layer "
            f"can accept less with MENTORQ_SANDBOX_REQUIRE (now {','.join(required)})"
        )
    return lines


def missing_report_fonts() -> list[str]:
    """The configured report fonts that are not on this host (match reports as PDF answer 503 without)."""
    from core.settings import Settings

    return [str(path) for path in Settings(env="dev").report_fonts if not Path(path).is_file()]
