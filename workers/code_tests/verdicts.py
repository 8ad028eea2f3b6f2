"""Verdicts, decided in the worker: a value or an output against what a test expects.

Nothing here trusts the sandbox's lines further than as Python literals (parsed, never run), and
nothing the learner's code wrote can raise out of here.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Any

MAX_LINE_BYTES = 262144 + 4096  # the harness's cap on a program's output, and room for the rest
REL_TOL = ABS_TOL = 1e-9


@dataclass(frozen=True)
class Reported:
    """What the sandbox said about one check."""

    tag: str  # value | stdout | raised | unrepresentable | passed | failed
    payload: Any = None


def parse_line(line: bytes) -> tuple[int, Reported] | None:
    """One harness line, `(index, tag[, payload])`; None for anything else (a learner's forgery
    included: it can only spoil its own result)."""
    if len(line) > MAX_LINE_BYTES:
        return None
    try:
        item = ast.literal_eval(line.decode("utf-8"))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError, UnicodeDecodeError):
        return None
    if not isinstance(item, tuple) or not 2 <= len(item) <= 3:
        return None
    index, tag = item[0], item[1]
    if type(index) is not int or not isinstance(tag, str):
        return None
    payload = item[2] if len(item) == 3 else None
    if tag in ("stdout", "raised", "unrepresentable", "failed") and not isinstance(payload, str):
        return None
    if tag == "value" and len(item) != 3:
        return None
    if tag == "passed" and len(item) != 2:
        return None
    if tag not in ("value", "stdout", "raised", "unrepresentable", "passed", "failed"):
        return None
    return index, Reported(tag, payload)


def expected_value(source: str) -> Any:
    """A call test's expectation (validated as a literal when the test was written)."""
    return ast.literal_eval(source.strip())


def same_value(actual: Any, expected: Any) -> bool:
    """Python's `==`, except that a bool is not a number (True is not 1) and floats are equal to
    within a relative and absolute 1e-9 (0.1 + 0.2 is 0.3)."""
    if type(actual) is bool or type(expected) is bool:
        return type(actual) is type(expected) and actual == expected
    numbers = (int, float)
    if type(actual) in numbers and type(expected) in numbers:
        if type(actual) is int and type(expected) is int:
            return actual == expected
        return math.isclose(actual, expected, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    if type(actual) is complex and type(expected) in (complex, int, float):
        expected = complex(expected)
        return same_value(actual.real, expected.real) and same_value(actual.imag, expected.imag)
    if type(actual) is not type(expected):
        return False
    if isinstance(actual, list | tuple):
        return len(actual) == len(expected) and all(map(same_value, actual, expected))
    if isinstance(actual, dict):
        return actual.keys() == expected.keys() and all(same_value(actual[k], expected[k]) for k in actual)
    return actual == expected


def same_stdout(actual: str, expected: str) -> bool:
    """Line by line, trailing whitespace on each line and blank lines at the end ignored (Windows
    line ends are plain ones); everything else, inner spaces and case included, must match."""
    return _lines(actual) == _lines(expected)


def _lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines
