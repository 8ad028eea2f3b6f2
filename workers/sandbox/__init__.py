"""The code sandbox: learner code runs here, never in a worker process (runner.py, launcher.py)."""

from workers.sandbox.runner import SandboxLimits, SandboxResult, probe, run_python

__all__ = ["SandboxLimits", "SandboxResult", "probe", "run_python"]
