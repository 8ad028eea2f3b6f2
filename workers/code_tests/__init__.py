"""Run code against its tests in the sandbox and decide each verdict here, in the worker: the publish
gate's check of a coding exercise and the grader of a coding submission use this one function.

One sandbox run per submission: the harness (harness.py) loads `solution.py` and reports each
visible check's value or output on the report channel; once it says `visible done`, the runner
sends the hidden checks' calls and inputs on its stdin (workers/sandbox `Exchange`), so nothing
of a hidden test is in the sandbox while the visible tests' results can still change, and what a
hidden test expects never enters it at all. Each verdict is then decided here: a call's value
against `expected` by value, a program's output against `expected_stdout` (verdicts.py).

A test in assert form runs beside the learner's code and is reported by it, so it is a check the
learner sees, not a score (core/code_tests). No test's source or expectation is ever put in a
result: a failing hidden test is counted, never shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.exercises.code_tests import CodeTest, as_call_test
from workers.code_tests.verdicts import Reported, expected_value, parse_line, same_stdout, same_value
from workers.sandbox import SandboxLimits
from workers.sandbox.runner import Exchange, run_python

HARNESS = Path(__file__).with_name("harness.py").read_text(encoding="utf-8")
VISIBLE_DONE = b"visible done"
# How a check's own exception reads as an outcome (anything else is `error`).
RAISED = {"AssertionError": "failed", "MemoryError": "memory", "PermissionError": "forbidden"}


@dataclass
class TestOutcome:
    name: str
    outcome: (
        str  # passed | failed | error | memory | forbidden | timeout | output_limit | no_result | not_run
    )
    hidden: bool
    error: str | None = None
    scored: bool = True  # False for an assert test: reported by the learner's own process


@dataclass
class TestRun:
    """How the code fared: per test, and how the sandbox run ended (`limit` when a limit ended it)."""

    outcomes: list[TestOutcome] = field(default_factory=list)
    sandbox_status: str = "ok"

    @property
    def scored(self) -> list[TestOutcome]:
        return [outcome for outcome in self.outcomes if outcome.scored]

    @property
    def passed(self) -> int:
        return sum(outcome.outcome == "passed" for outcome in self.scored)

    @property
    def total(self) -> int:
        return len(self.scored)

    @property
    def all_passed(self) -> bool:
        """Every test passed, the checks included (what the reference solution must do)."""
        return self.total > 0 and all(outcome.outcome == "passed" for outcome in self.outcomes)

    @property
    def all_scored_passed(self) -> bool:
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


def run_tests(code: str, tests: list[dict[str, Any]], *, limits: SandboxLimits | None = None) -> TestRun:
    """`tests`: CodeTest-shaped dicts (`hidden` included). Never raises for what the code does."""
    read = [as_call_test(CodeTest.model_validate(test)) for test in tests]
    # A hidden test only its own code can judge (written before hidden tests had to be call or
    # stdin tests) is not run: its expectation would enter the sandbox.
    runnable = [index for index, test in enumerate(read) if not (test.hidden and not test.scored)]
    visible = [
        (index, read[index].form, _payload(read[index])) for index in runnable if not read[index].hidden
    ]
    hidden = [(index, read[index].form, _payload(read[index])) for index in runnable if read[index].hidden]
    needs_module = any(test.form != "stdin" for test in read)
    result = run_python(
        {
            "solution.py": code,
            "harness.py": HARNESS,
            "checks.py": f"MODULE = {needs_module!r}\nVISIBLE = {visible!r}\n",
        },
        "harness.py",
        limits=limits,
        exchange=Exchange(VISIBLE_DONE, repr(hidden).encode() if hidden else b""),
    )
    if result.status == "sandbox_unavailable":
        return TestRun(sandbox_status="sandbox_unavailable")
    reports = _first_reports(
        result.messages, visible={i for i, *_ in visible}, hidden={i for i, *_ in hidden}
    )
    outcomes = []
    for index, test in enumerate(read):
        if index not in runnable:
            outcomes.append(
                TestOutcome(test.name, "not_run", test.hidden, "an assert test may not be hidden", False)
            )
            continue
        reported = reports.get(index)
        if reported is None:  # the run ended before this test reported: the limit it hit is its outcome
            outcome = result.status if result.status not in ("ok", "error") else "no_result"
            outcomes.append(TestOutcome(test.name, outcome, test.hidden, None, test.scored))
        else:
            outcome, error = _verdict(test, reported)
            outcomes.append(TestOutcome(test.name, outcome, test.hidden, error, test.scored))
    return TestRun(outcomes=outcomes, sandbox_status=result.status)


def _payload(test: CodeTest) -> str:
    if test.form == "call":
        return test.call or ""
    return (test.stdin if test.form == "stdin" else test.code) or ""


def _first_reports(messages: list[bytes], *, visible: set[int], hidden: set[int]) -> dict[int, Reported]:
    """The first well-formed report of each check, in its phase: a visible check's before `visible
    done`, a hidden check's after (the hidden checks were not in the sandbox before)."""
    reports: dict[int, Reported] = {}
    phase = visible
    for line in messages:
        if line == VISIBLE_DONE:
            phase = hidden
            continue
        parsed = parse_line(line)
        if parsed is not None and parsed[0] in phase and parsed[0] not in reports:
            reports[parsed[0]] = parsed[1]
    return reports


def _verdict(test: CodeTest, reported: Reported) -> tuple[str, str | None]:
    """(outcome, error) for one test from what the sandbox reported about it."""
    if reported.tag == "raised" or reported.tag == "failed":
        name = reported.payload
        return RAISED.get(name, "error"), name
    if reported.tag == "unrepresentable":
        return ("output_limit", None) if test.form == "stdin" else ("failed", f"returned {reported.payload}")
    if test.form == "call" and reported.tag == "value":
        same = same_value(reported.payload, expected_value(test.expected or "None"))
        return ("passed", None) if same else ("failed", "wrong value")
    if test.form == "stdin" and reported.tag == "stdout":
        return (
            ("passed", None)
            if same_stdout(reported.payload, test.expected_stdout or "")
            else ("failed", None)
        )
    if test.form == "assert" and reported.tag == "passed":
        return "passed", None
    return "failed", "a report of the wrong kind"
