"""A coding exercise's tests: their three forms, and which of them can be trusted with a score.

- **call**: `{"name", "call", "expected", "hidden"}`. The sandbox evaluates `call` (an expression,
  e.g. `add(2, 3)`) with the learner's code and reports the value; the worker compares it with
  `expected` (a Python literal: `5`, `[1, 2]`, `'abc'`, `None`) by value (workers/code_tests).
- **stdin**: `{"name", "stdin", "expected_stdout", "hidden"}` (as Judge0 runs programs). The whole
  program runs as `__main__` with that input; its output is compared with `expected_stdout`, line
  by line, ignoring trailing whitespace on each line and blank lines at the end.
- **assert**: `{"name", "code", "hidden"}`, Python lines (usually asserts) run beside the learner's
  code. Its expectation is inside its code, which runs in the learner's process: such a test is
  shown to the learner and counted as a check, never scored, and may not be hidden. An assert
  test that is one `assert <call> == <literal>` (or `is`) is read as the call test it means.

Only call and stdin tests are scored: their verdicts are decided outside the learner's process,
and a hidden test's expectation never enters the sandbox.
"""

from __future__ import annotations

import ast
import re
from typing import Literal

from pydantic import BaseModel, Field, model_validator

TestForm = Literal["call", "stdin", "assert"]
TEST_NAME = re.compile(r"^[A-Za-z0-9_ .-]{1,100}$")
MAX_STDIN_CHARS = 65536


class CodeTest(BaseModel):
    """One test, in exactly one of the three forms (see the module's docstring)."""

    name: str = Field(
        min_length=1, max_length=100, description="a short name, shown when a visible test fails"
    )
    call: str | None = Field(
        None, max_length=4000, description="call form: an expression calling the solution, e.g. add(2, 3)"
    )
    expected: str | None = Field(
        None, max_length=4000, description="call form: the value it must return, as a Python literal, e.g. 5"
    )
    stdin: str | None = Field(None, max_length=MAX_STDIN_CHARS, description="stdin form: the program's input")
    expected_stdout: str | None = Field(
        None, max_length=MAX_STDIN_CHARS, description="stdin form: what the program must print"
    )
    code: str | None = Field(
        None,
        max_length=4000,
        description="assert form (visible only, not scored): Python lines, usually asserts",
    )
    hidden: bool = Field(False, description="hidden tests are scored for the learner, never shown")

    @model_validator(mode="after")
    def _one_form(self) -> CodeTest:
        forms = [
            self.call is not None or self.expected is not None,
            self.stdin is not None or self.expected_stdout is not None,
            self.code is not None,
        ]
        if sum(forms) != 1:
            raise ValueError("a test has exactly one form: call+expected, stdin+expected_stdout, or code")
        if forms[0]:
            if not self.call or self.expected is None:
                raise ValueError("a call test needs both `call` and `expected`")
            _expression(self.call, "call")
            _literal(self.expected)
        elif forms[1] and (self.stdin is None or self.expected_stdout is None):
            raise ValueError("a stdin test needs both `stdin` and `expected_stdout`")
        elif forms[2] and not self.code.strip():
            raise ValueError("an assert test needs code")
        return self

    @property
    def form(self) -> TestForm:
        if self.call is not None:
            return "call"
        return "stdin" if self.stdin is not None else "assert"

    @property
    def scored(self) -> bool:
        return self.form != "assert"

    def shown(self) -> dict[str, str]:
        """What a learner sees of a visible test."""
        return self.model_dump(exclude_none=True, exclude={"hidden"})


class VisibleTest(BaseModel):
    """A visible test as a learner sees it: its name and its one form's fields."""

    name: str
    call: str | None = None
    expected: str | None = None
    stdin: str | None = None
    expected_stdout: str | None = None
    code: str | None = None


def _expression(source: str, what: str) -> ast.expr:
    try:
        return ast.parse(source.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ValueError(f"`{what}` is not a Python expression") from None


def _literal(source: str) -> object:
    try:
        return ast.literal_eval(source.strip())
    except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError):
        raise ValueError("`expected` is not a Python literal (a number, string, list, dict, ...)") from None


def as_call_test(test: CodeTest) -> CodeTest:
    """An assert test that is one `assert <expression> == <literal>` (or `is`, either way round) as
    the call test it means; any other test as it is."""
    if test.form != "assert" or test.code is None:
        return test
    try:
        tree = ast.parse(test.code.strip())
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return test
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
        return test
    comparison = tree.body[0].test
    if (
        not isinstance(comparison, ast.Compare)
        or len(comparison.ops) != 1
        or not isinstance(comparison.ops[0], ast.Eq | ast.Is)
    ):
        return test
    left, right = comparison.left, comparison.comparators[0]
    for call, expected in ((left, right), (right, left)):
        source = ast.get_source_segment(test.code.strip(), expected)
        if source is not None and _is_literal(source) and not _is_literal(ast.unparse(call)):
            if isinstance(comparison.ops[0], ast.Is) and ast.literal_eval(source) not in (None, True, False):
                return test  # `is` with anything but a singleton compares identity, not value
            return CodeTest(
                name=test.name,
                call=ast.get_source_segment(test.code.strip(), call) or ast.unparse(call),
                expected=source,
                hidden=test.hidden,
            )
    return test


def _is_literal(source: str) -> bool:
    try:
        ast.literal_eval(source)
    except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError):
        return False
    return True


def code_test_violations(tests: list[CodeTest]) -> list[str]:
    """Why a coding exercise's tests may not be published (empty when they may)."""
    reasons = []
    if not tests:
        return ["a coding exercise needs tests"]
    if all(test.hidden for test in tests):
        reasons.append("a coding exercise needs at least one visible test")
    names = [test.name for test in tests]
    if len(set(names)) != len(names):
        reasons.append("test names are not unique")
    if any(not TEST_NAME.match(name) for name in names):
        reasons.append("a test name has characters other than letters, digits, spaces, '.', '_' and '-'")
    read = [as_call_test(test) for test in tests]
    hidden_asserts = [test.name for test in read if test.hidden and not test.scored]
    if hidden_asserts:
        reasons.append(
            f"hidden tests must be call or stdin tests, so their expectation never enters the sandbox: "
            f"{hidden_asserts}"
        )
    if not any(test.scored for test in read):
        reasons.append(
            "a coding exercise needs at least one call or stdin test (assert tests are not scored)"
        )
    return reasons
