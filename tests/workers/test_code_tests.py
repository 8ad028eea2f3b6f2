"""Verdicts decided outside the learner's process: the grader against submissions that try to
forge their grade, read the hidden tests, leak them through the visible ones, or break the report.
No stack needed: the sandbox is a child process of the test, as on a worker."""

from __future__ import annotations

import pytest

from core.exercises.code_tests import CodeTest, as_call_test, code_test_violations
from workers.code_tests import run_tests
from workers.code_tests.verdicts import parse_line, same_stdout, same_value
from workers.sandbox import SandboxLimits

LIMITS = SandboxLimits(cpu_s=2, wall_s=5, memory_bytes=128 * 1024 * 1024, output_bytes=256 * 1024)
SECRET = "918273645"  # a hidden test's expected value: no submission may ever see it
TESTS = [
    {"name": "small", "call": "add(2, 3)", "expected": "5"},
    {"name": "converted assert", "code": "assert add(1, 1) == 2"},
    {"name": "a check", "code": "total = add(1, 2)\nassert total == 3"},
    {"name": "big", "call": "add(918273640, 5)", "expected": SECRET, "hidden": True},
    {"name": "program", "stdin": "3 4\n", "expected_stdout": "7\n", "hidden": True},
]
SOLUTION = (
    "def add(a, b):\n    return a + b\n\n"
    "if __name__ == '__main__':\n    a, b = map(int, input().split())\n    print(add(a, b))\n"
)
OLD_MARKER = "\\x1emqreport\\x1e"  # the report marker of the harness before this one


def grade(code: str, tests=TESTS):
    run = run_tests(code, tests, limits=LIMITS)
    return run, {o.name: o.outcome for o in run.outcomes}


def test_a_correct_solution_passes_every_form():
    run, outcomes = grade(SOLUTION)
    assert outcomes == dict.fromkeys(outcomes, "passed")
    assert (run.passed, run.total, run.all_scored_passed) == (4, 4, True)
    # The multi-line assert test is a check: shown, not scored.
    assert [o.name for o in run.outcomes if not o.scored] == ["a check"]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        (
            "prints the old report marker with every test passed, then exits",
            "import os\n"
            f"print('{OLD_MARKER}' + repr([{{'name': n, 'outcome': 'passed'}} for n in "
            "['small', 'converted assert', 'a check', 'big', 'program']]))\n"
            "os._exit(0)\n",
        ),
        (
            "does the same from atexit",
            "import atexit, os\n"
            f"atexit.register(lambda: (print('{OLD_MARKER}[]'), os._exit(0)))\n"
            "def add(a, b):\n    return 0\n",
        ),
        (
            "writes 'passed' for every index on the report channel, then exits",
            "import os, sys\n"
            "for i in range(10):\n    os.write(int(sys.argv[1]), (repr((i, 'passed')) + '\\n').encode())\n"
            "os._exit(0)\n",
        ),
        (
            "replaces exec and eval with ones that say yes",
            "import builtins\nbuiltins.exec = lambda *a, **k: None\nbuiltins.eval = lambda *a, **k: True\n",
        ),
        (
            "returns an object equal to everything, printing as anything",
            "class Yes(int):\n"
            "    def __eq__(self, other): return True\n"
            "    def __repr__(self): return '5'\n"
            "def add(a, b):\n    return Yes(0)\n",
        ),
        (
            "walks the harness's frames for expectations",
            "import sys\n"
            "def add(a, b):\n"
            "    frame, found = sys._getframe(), []\n"
            "    while frame:\n"
            "        found += [v for v in frame.f_locals.values() if isinstance(v, int) and v > 1000]\n"
            "        frame = frame.f_back\n"
            "    return found[0] if found else 0\n",
        ),
        (
            "declares the visible tests done at once",
            "import os, sys\nos.write(int(sys.argv[1]), b'visible done\\n')\n",
        ),
    ],
)
def test_no_forgery_earns_a_verdict(name: str, code: str):
    run, outcomes = grade(code)
    assert run.passed == 0, (name, outcomes)
    assert outcomes["big"] != "passed" and outcomes["program"] != "passed", (name, outcomes)


def test_the_hidden_expectations_are_nowhere_the_sandbox_can_look():
    # Search every file it can see and every value held in memory, during the visible tests and
    # after the hidden calls came, and fail every test if the secret is found anywhere.
    code = (
        "import gc, os\n"
        "def seen():\n"
        "    text = ''.join(['91827', '3645'])  # not a constant the compiler could fold\n"
        "    number = int(text)\n"
        "    for root, dirs, files in os.walk('/'):\n"
        "        for name in files:\n"
        "            try:\n"
        "                path = os.path.join(root, name)\n"
        "                regular = os.path.isfile(path) and not path.startswith('/dev/')\n"
        "                small = regular and os.path.getsize(path) < 2**20\n"
        "                if small and text.encode() in open(path, 'rb').read():\n"
        "                    return True\n"
        "            except OSError:\n"
        "                pass\n"
        "    for held in gc.get_objects():\n"
        "        values = held.values() if isinstance(held, dict) else held\n"
        "        values = values if isinstance(held, (dict, list, tuple, set)) else ()\n"
        "        for v in list(values):\n"
        "            if (type(v) is int and v == number) or (type(v) is str and text in v): return True\n"
        "    return False\n"
        "def add(a, b):\n"
        "    return -1 if seen() else a + b\n"
    )
    run = run_tests(code, TESTS, limits=SandboxLimits(cpu_s=10, wall_s=20))
    outcomes = {o.name: o.outcome for o in run.outcomes}
    assert outcomes["small"] == "passed" and outcomes["big"] == "passed", outcomes


def test_the_visible_results_are_fixed_before_a_hidden_call_enters():
    # The submission waits for the hidden calls on the real stdin, then tries to rewrite a visible
    # result to say what it learned: the first report of a visible test, before `visible done`, stands.
    code = (
        "import os, sys, threading\n"
        "def add(a, b):\n    return a + b\n"
        "def spy():\n"
        "    hidden = os.read(0, 65536)\n"
        "    os.write(int(sys.argv[1]), (repr((0, 'value', len(hidden))) + '\\n').encode())\n"
        "threading.Thread(target=spy, daemon=True).start()\n"
    )
    run, outcomes = grade(code)
    assert outcomes["small"] == "passed", outcomes


@pytest.mark.parametrize(
    "lines",
    [
        "(['small'], 'passed')",  # a test name that is a list
        "5",  # a bare integer
        "(0,)",
        "(0, 'value')",
        "(0, 'stdout', 7)",
        "('0', 'passed')",
        "(True, 'passed')",
        "(0, 'passed', 'extra', 'more')",
        "[" * 400 + "]" * 400,
        "(0, 'value', " + "9" * 5000 + ")",
        "\\xff\\xfe not utf-8",
        "x" * 200_000,
    ],
)
def test_an_odd_report_line_is_ignored_and_the_run_still_graded(lines: str):
    written = f"({lines!r} + '\\n').encode('utf-8', 'surrogateescape')"
    code = f"import os, sys\nos.write(int(sys.argv[1]), {written})\n"
    code += "def add(a, b):\n    return a + b\n"
    run, outcomes = grade(code)
    assert outcomes["small"] == "passed" and outcomes["big"] == "passed", outcomes


@pytest.mark.parametrize(
    ("name", "code", "outcome"),
    [
        ("does not parse", "def add(a, b)\n    return a + b\n", "error"),
        ("raises", "def add(a, b):\n    return 1 / 0\n", "error"),
        ("loops", "def add(a, b):\n    while True: pass\n", "timeout"),
        ("exhausts memory", "def add(a, b):\n    return bytearray(10**10)\n", "memory"),
        ("returns no literal", "def add(a, b):\n    return object()\n", "failed"),
        ("returns nan", "def add(a, b):\n    return float('nan')\n", "failed"),
        ("kills itself", "import os\ndef add(a, b):\n    os.kill(os.getpid(), 9)\n", "timeout"),
        ("exits at once", "import os\nos._exit(3)\n", "no_result"),
    ],
)
def test_however_the_code_dies_each_test_gets_an_outcome(name: str, code: str, outcome: str):
    run, outcomes = grade(code)
    assert outcomes["small"] == outcome, (name, outcomes)
    assert run.passed == 0 and len(run.outcomes) == len(TESTS)


def test_a_hidden_assert_test_is_never_run():
    tests = [
        {"name": "visible", "call": "f()", "expected": "1"},
        {"name": "legacy hidden", "code": "x = f()\nassert x == 1", "hidden": True},
    ]
    run, outcomes = grade("def f():\n    return 1\n", tests)
    assert outcomes == {"visible": "passed", "legacy hidden": "not_run"} and run.total == 1


@pytest.mark.parametrize(
    ("actual", "expected", "same"),
    [
        (5, 5, True),
        (0.1 + 0.2, 0.3, True),
        (2, 2.0, True),
        (True, 1, False),
        (1, True, False),
        ([1, 2], (1, 2), False),
        ({"a": [1.0, 2]}, {"a": [1, 2.0000000001]}, True),
        ({1, 2}, {2, 1}, True),
        ("5", 5, False),
        (None, 0, False),
        (float("inf"), float("inf"), True),
        (complex(1, 2), complex(1, 2), True),
        ([1, [2, [3]]], [1, [2, [4]]], False),
    ],
)
def test_values_compare_by_value(actual, expected, same):
    assert same_value(actual, expected) is same


@pytest.mark.parametrize(
    ("actual", "expected", "same"),
    [
        ("7\n", "7", True),
        ("7  \n\n\n", "7", True),
        ("a\r\nb\r\n", "a\nb", True),
        ("7 8", "7  8", False),
        ("A", "a", False),
        ("\n7", "7", False),
        ("1\n\n2", "1\n2", False),
    ],
)
def test_outputs_compare_line_by_line_ignoring_trailing_whitespace(actual, expected, same):
    assert same_stdout(actual, expected) is same


def test_parse_line_takes_only_well_formed_reports():
    assert parse_line(b"(3, 'value', [1, 2])")[1].payload == [1, 2]
    assert parse_line(b"(3, 'passed')")[1].tag == "passed"
    for bad in (
        b"(3, 'value')",
        b"(3, 'nope', 1)",
        b"(3.0, 'passed')",
        b"__import__('os')",
        b"(3, 'raised', 1)",
    ):
        assert parse_line(bad) is None, bad


@pytest.mark.parametrize(
    ("code", "call", "expected"),
    [
        ("assert add(2, 3) == 5", "add(2, 3)", "5"),
        ("assert 5 == add(2, 3)", "add(2, 3)", "5"),
        ("assert is_even(3) is False", "is_even(3)", "False"),
        ("assert f('a') == ['a', 'b']  # a comment", "f('a')", "['a', 'b']"),
    ],
)
def test_an_assert_test_that_compares_a_call_with_a_literal_reads_as_a_call_test(code, call, expected):
    read = as_call_test(CodeTest(name="t", code=code, hidden=True))
    assert (read.form, read.call, read.expected, read.hidden) == ("call", call, expected, True)


@pytest.mark.parametrize(
    "code",
    [
        "assert add(2, 3) == 5 and add(0, 0) == 0",
        "x = add(2, 3)\nassert x == 5",
        "assert add(2, 3)",
        "assert add(2, 3) is 5",
        "assert add(2, 3) == add(3, 2)",
    ],
)
def test_other_assert_tests_stay_checks(code):
    assert as_call_test(CodeTest(name="t", code=code)).form == "assert"


def test_the_publish_rules_refuse_hidden_asserts_and_unscored_exercises():
    visible_check = CodeTest(name="check", code="x = f()\nassert x")
    hidden_check = CodeTest(name="hidden check", code="x = f()\nassert x == 1", hidden=True)
    reasons = code_test_violations([visible_check, hidden_check])
    assert any("hidden tests must be call or stdin tests" in r for r in reasons)
    assert any("needs at least one call or stdin test" in r for r in reasons)
    good = [visible_check, CodeTest(name="hidden", call="f()", expected="1", hidden=True)]
    assert code_test_violations(good) == []


@pytest.mark.parametrize(
    "fields",
    [
        {"call": "f()"},
        {"expected": "1"},
        {"call": "f(", "expected": "1"},
        {"call": "f()", "expected": "object()"},
        {"call": "f()", "expected": "1", "code": "assert f() == 1"},
        {"stdin": "1"},
        {},
    ],
)
def test_a_test_has_exactly_one_complete_form(fields):
    with pytest.raises(ValueError):
        CodeTest(name="t", **fields)
