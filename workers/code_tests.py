"""Run code against its tests in the sandbox: the publish gate's check of a coding exercise and the
grader of a coding submission use this one function.

The code under test is `solution.py`; each test is a few lines of Python (usually `assert`s) run
in a namespace holding the solution's names. A small harness (HARNESS) runs them one by one in the
sandbox and prints one report (a Python literal) after a marker line. The harness shares its process with the
code it tests, so a submission could forge that report: that only changes its own author's score,
and the sandbox's layers (not the report) are what protect the host. No test's source is ever
put in a result: a failing hidden test is counted, never shown.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from workers.sandbox import SandboxLimits, run_python

MARKER = "\x1emqreport\x1e"
HARNESS = (
    '''
import sys
sys.path.insert(0, ".")
from tests_data import TESTS as tests
try:
    import solution
    names = dict(vars(solution))
    load_error = None
except BaseException as error:  # noqa - the report says what happened
    names, load_error = {}, error
def outcome(error):
    if isinstance(error, AssertionError):
        return "failed"
    if isinstance(error, MemoryError):
        return "memory"
    if isinstance(error, PermissionError):
        return "forbidden"
    return "error"
results = []
for test in tests:
    error = load_error
    if error is None:
        try:
            exec(test["code"], dict(names))
        except BaseException as raised:  # noqa
            error = raised
    if error is None:
        results.append({"name": test["name"], "outcome": "passed"})
    else:
        results.append({"name": test["name"], "outcome": outcome(error), "error": type(error).__name__})
sys.stdout.flush()
print("'''
    + MARKER
    + """" + repr(results))
"""
)


@dataclass
class TestOutcome:
    name: str
    outcome: str  # passed | failed | error | memory | forbidden | timeout | output_limit | ...
    hidden: bool
    error: str | None = None


@dataclass
class TestRun:
    """How the code fared: per test, and how the sandbox run ended (`limit` when a limit ended it)."""

    outcomes: list[TestOutcome] = field(default_factory=list)
    sandbox_status: str = "ok"

    @property
    def passed(self) -> int:
        return sum(outcome.outcome == "passed" for outcome in self.outcomes)

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def all_passed(self) -> bool:
        return self.total > 0 and self.passed == self.total

    @property
    def limit(self) -> str | None:
        """The limit the run hit, if one ended it or a test ran into one."""
        if self.sandbox_status not in ("ok", "error"):
            return self.sandbox_status
        for outcome in self.outcomes:
            if outcome.outcome in ("memory", "forbidden"):
                return outcome.outcome
        return None


def run_tests(code: str, tests: list[dict], *, limits: SandboxLimits | None = None) -> TestRun:
    """`tests`: [{name, code, hidden}]. Never raises for what the code does."""
    payload = [{"name": test["name"], "code": test["code"]} for test in tests]
    result = run_python(
        # Tests as a Python literal, the report as one too: `json` would cost the sandboxed
        # interpreter about 5 ms of imports on every run.
        {"solution.py": code, "tests_data.py": f"TESTS = {payload!r}\n", "harness.py": HARNESS},
        "harness.py",
        limits=limits,
    )
    if result.status == "sandbox_unavailable":
        return TestRun(sandbox_status="sandbox_unavailable")
    report = None
    # A forged or broken report is only ever parsed as a literal (never evaluated), in the worker.
    if MARKER in result.stdout:
        try:
            report = ast.literal_eval(result.stdout.rsplit(MARKER, 1)[1].strip().splitlines()[0])
        except (ValueError, SyntaxError, IndexError, MemoryError, RecursionError):
            report = None
    by_name = {item.get("name"): item for item in report or [] if isinstance(item, dict)}
    outcomes = []
    for test in tests:
        item = by_name.get(test["name"])
        if item is None:  # the run ended before this test reported: the limit it hit is its outcome
            outcome, error = (result.status if result.status not in ("ok",) else "error"), None
        else:
            outcome, error = str(item.get("outcome")), item.get("error")
        outcomes.append(TestOutcome(test["name"], outcome, bool(test.get("hidden")), error))
    return TestRun(outcomes=outcomes, sandbox_status=result.status)
