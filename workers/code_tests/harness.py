"""The grading harness: runs in the sandbox, beside the learner's code, and decides nothing.

It is copied into the sandbox as `harness.py` with the learner's `solution.py` and `checks.py`
(the visible checks), and run by the sandbox's launcher (standard library only, no json: its
imports are the sandbox's cost). For each check it writes one line, a Python literal, on the
report channel (the descriptor in sys.argv[1]), apart from whatever the learner's code prints:

    (index, "value", <the call's value as a literal>)     a call check
    (index, "stdout", "<what the program printed>")       a stdin check
    (index, "raised", "ExceptionName")                    either, when the code raised
    (index, "unrepresentable", "why")                     a value that is not a plain literal
    (index, "passed") / (index, "failed", "Name")         an assert check (the test's own code)

After the visible checks it writes `visible done`; the worker answers on stdin with the hidden
checks (a literal list), which only now enter the sandbox, and only their calls and inputs: the
values they expect never do. The worker compares values and outputs with the expectations itself
(workers/code_tests). Since the learner's code shares this process, it can write such lines too,
or replace anything here: that can only spoil its own results, never earn a verdict, because it
never sees what is expected (and an assert check, whose expectation is in its code, is shown to
the learner but not scored).
"""

import builtins
import io
import os
import sys

CHANNEL = int(sys.argv[1])
VISIBLE_DONE = "visible done"
MAX_DEPTH = 100
MAX_LITERAL_CHARS = 65536
MAX_STDOUT_BYTES = 262144


def line(index, tag, text=None):
    """One report line; `text` is already literal text (a value's, or a repr)."""
    return f"({index}, {tag!r})" if text is None else f"({index}, {tag!r}, {text})"


def send(text):
    data = (text + "\n").encode("utf-8", "backslashreplace")
    while data:
        data = data[os.write(CHANNEL, data) :]


class Unrepresentable(Exception):
    pass


def literal(value, depth=0):
    """The value as Python literal text, for exactly the built-in literal types (a subclass could
    print anything as its repr); anything else is Unrepresentable."""
    if depth > MAX_DEPTH:
        raise Unrepresentable("nested too deep")
    kind = type(value)
    if value is None or kind is bool or kind is str or kind is bytes:
        return repr(value)
    if kind is int:
        try:
            return repr(value)
        except ValueError:
            raise Unrepresentable("an integer too large to print") from None
    if kind is float:
        if value != value:
            raise Unrepresentable("nan")
        if value in (float("inf"), float("-inf")):
            return "1e999" if value > 0 else "-1e999"
        return repr(value)
    if kind is complex:
        literal(value.real, depth + 1), literal(value.imag, depth + 1)  # nan has no literal
        if abs(value.real) == float("inf") or abs(value.imag) == float("inf"):
            raise Unrepresentable("an infinite complex number")
        return repr(value)
    if kind is list:
        return "[" + ", ".join(literal(item, depth + 1) for item in value) + "]"
    if kind is tuple:
        inner = ", ".join(literal(item, depth + 1) for item in value)
        return "(" + inner + ("," if len(value) == 1 else "") + ")"
    if kind is dict:
        pairs = (literal(k, depth + 1) + ": " + literal(v, depth + 1) for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    if kind is set or kind is frozenset:
        return "{" + ", ".join(literal(item, depth + 1) for item in value) + "}" if value else "set()"
    raise Unrepresentable("a value of type " + kind.__name__)


def result_of_call(index, expression, names):
    if "__error__" in names:  # solution.py itself did not load: every call fails as it did
        return line(index, "raised", repr(type(names["__error__"]).__name__))
    try:
        value = eval(expression, dict(names))  # noqa: S307 - the learner's own code, in the sandbox
    except BaseException as error:  # noqa: BLE001 - the report says what happened
        return line(index, "raised", repr(type(error).__name__))
    try:
        text = literal(value)
    except (Unrepresentable, RecursionError) as why:
        return line(index, "unrepresentable", repr(str(why) or "recursive"))
    if len(text) > MAX_LITERAL_CHARS:
        return line(index, "unrepresentable", repr("a value too large"))
    return line(index, "value", text)


def result_of_assert(index, code, names):
    if "__error__" in names:
        return line(index, "failed", repr(type(names["__error__"]).__name__))
    try:
        exec(code, dict(names))  # noqa: S102
    except BaseException as error:  # noqa: BLE001
        return line(index, "failed", repr(type(error).__name__))
    return line(index, "passed")


class CappedBytes(io.BytesIO):
    """A program's stdout: kept up to a cap, the rest counted as too much."""

    overflow = False

    def write(self, data):
        size = len(data)
        if self.tell() + size > MAX_STDOUT_BYTES:
            self.overflow = True
            data = data[: max(0, MAX_STDOUT_BYTES - self.tell())]
        super().write(data)
        return size


def result_of_program(index, program, stdin_text):
    """Run the whole program as __main__ with this input, its stdout captured."""
    if isinstance(program, BaseException):
        return line(index, "raised", repr(type(program).__name__))
    real_stdin, real_stdout = sys.stdin, sys.stdout
    captured = CappedBytes()
    out = io.TextIOWrapper(captured, encoding="utf-8", write_through=True)
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin_text.encode("utf-8")), encoding="utf-8")
    sys.stdout = out
    raised = None
    try:
        exec(program, {"__name__": "__main__", "__builtins__": builtins})  # noqa: S102
    except SystemExit as stop:
        if stop.code not in (None, 0):
            raised = "SystemExit"
    except BaseException as error:  # noqa: BLE001
        raised = type(error).__name__
    finally:
        sys.stdin, sys.stdout = real_stdin, real_stdout
        try:
            out.flush()
            out.detach()  # or the wrapper, once dropped, closes what it captured
        except BaseException:  # noqa: BLE001, S110 - whatever the program did to its stdout
            pass
    if captured.closed:
        return line(index, "raised", repr("ValueError"))
    if raised:
        return line(index, "raised", repr(raised))
    if captured.overflow:
        return line(index, "unrepresentable", repr("too much output"))
    return line(index, "stdout", repr(captured.getvalue().decode("utf-8", "replace")))


def run(checks, names, program):
    for index, form, payload in checks:
        if form == "call":
            send(result_of_call(index, payload, names))
        elif form == "stdin":
            send(result_of_program(index, program, payload))
        else:
            send(result_of_assert(index, payload, names))


def load(module):
    """The learner's code (for stdin checks) and, when calls or asserts need them, the names its
    module defines (importing it runs it once)."""
    sys.stdin = io.StringIO("")  # the real stdin is the hidden checks' channel, not the learner's
    try:
        with open("solution.py", "rb") as source:
            program = compile(source.read(), "solution.py", "exec")
    except BaseException as error:  # noqa: BLE001
        program = error
    if not module:
        return {}, program
    try:
        import solution

        names = dict(vars(solution))
    except BaseException as error:  # noqa: BLE001
        names = {"__builtins__": builtins, "__error__": error}
    return names, program


def main():
    from checks import MODULE, VISIBLE

    names, program = load(MODULE)
    run(VISIBLE, names, program)
    send(VISIBLE_DONE)
    payload = b""
    while chunk := os.read(0, 65536):
        payload += chunk
    if payload:
        # A literal the worker wrote; `eval` of it here spares importing `ast` in every sandbox.
        run(eval(payload.decode("utf-8")), names, program)  # noqa: S307


main()
