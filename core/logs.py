"""How every process writes its log: JSON lines in production, a readable line in dev and tests.

MENTORQ_LOG_FORMAT picks `json` or `console` (default: json when MENTORQ_ENV is production).
A JSON line is one object: `time`, `level`, `logger`, `message`, `pid`, the job, kind and user the
line belongs to when the process knows them (`job_id`, `kind`, `user_id`, bound by the job
runtime and the API's sign-in check), the trace it was written in while traces are on
(`trace_id`, core/tracing.py), the fields a call passed as `extra=`, and `exc_info`. The
console line shows the same context in brackets.

What the context is: `bound()` puts fields in a context variable for a block (a job's delivery on
its thread, a request's task), and every record made meanwhile carries them (a record factory,
like core/log_redaction.py's, so Celery's and uvicorn's handlers see them too).

No credential reaches a line: messages, arguments and tracebacks are scrubbed when the record is
made (core/log_redaction.py), and the JSON formatter scrubs every value it writes, the `extra=`
fields included, which the record factory never sees.
"""

from __future__ import annotations

import logging
import sys
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

from core.redaction import scrub
from core.settings import Settings

CONTEXT_FIELDS = ("job_id", "kind", "user_id", "trace_id")
# Never changed in place: each binding sets a new mapping, so a reset gives the old one back whole.
_context: ContextVar[Mapping[str, str]] = ContextVar("mentorq_log_context", default=MappingProxyType({}))
_lock = threading.Lock()
_factory_installed = False
# The loggers uvicorn gives handlers of their own (not propagating to the root's).
_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access")


@contextmanager
def bound(**fields: object) -> Iterator[None]:
    """Within the block, every log record of this thread (or task) carries these fields (None: left out)."""
    token = _context.set({**_context.get(), **_texts(fields)})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: object) -> None:
    """Add fields to the current context for the rest of it (a request's task: it ends with the request)."""
    _context.set({**_context.get(), **_texts(fields)})


def _texts(fields: Mapping[str, object]) -> dict[str, str]:
    return {name: str(value) for name, value in fields.items() if value is not None}


def log_format(settings: Settings) -> str:
    return settings.log_format or ("json" if settings.env == "production" else "console")


def log_format_in(env: Mapping[str, str]) -> str:
    """The format a service started with `env` will use (for the command that starts it)."""
    chosen = env.get("MENTORQ_LOG_FORMAT") or ""
    if chosen in ("json", "console"):
        return chosen
    return "json" if (env.get("MENTORQ_ENV") or "production") == "production" else "console"


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's logging as JSON lines from its first line (`--log-config`): its parent process
    and its workers' start-up lines come before the app, and so before `configure`."""
    handler = {"formatter": "json", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonLines"}},
        "handlers": {"default": handler, "access": handler | {"stream": "ext://sys.stdout"}},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }


class JsonLines(JsonFormatter):
    """One JSON object a line; every string in it scrubbed of this deployment's secrets."""

    def __init__(self) -> None:
        super().__init__(
            ["levelname", "name", "message", "process"],
            rename_fields={"levelname": "level", "name": "logger", "process": "pid"},
            timestamp="time",
        )

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {key: _scrubbed(value) for key, value in log_data.items()}


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {str(key): _scrubbed(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_scrubbed(item) for item in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    return scrub(str(value))


class ConsoleLines(logging.Formatter):
    """`time LEVEL logger [job=… kind=… user=…]: message`, for a person at a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        shown = [f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS if hasattr(record, name)]
        record.context = f" [{' '.join(shown)}]" if shown else ""
        return super().format(record)


def formatter(settings: Settings) -> logging.Formatter:
    return JsonLines() if log_format(settings) == "json" else ConsoleLines()


def configure(settings: Settings, *, level: int | str = logging.INFO) -> None:
    """The process's log lines from now on: the root logger writes to stderr in the configured
    format, and uvicorn's own handlers (which do not propagate) use it too. Call it once the
    process's other logging setup is done (Celery's setup_logging signal, the API's create_app)."""
    _carry_context()
    chosen = formatter(settings)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(chosen)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)  # a library's warning is a line in the same format, not raw text
    for name in _UVICORN:
        for existing in logging.getLogger(name).handlers:
            existing.setFormatter(chosen)


def _carry_context() -> None:
    """Every record made from now on carries the bound fields (once per process)."""
    global _factory_installed
    with _lock:
        if _factory_installed:
            return
        make_record = logging.getLogRecordFactory()

        def with_context(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = make_record(*args, **kwargs)
            for name, value in _context.get().items():
                setattr(record, name, value)
            span = trace.get_current_span().get_span_context()
            if span.is_valid:  # traces on (core/tracing.py): the line names its trace
                record.trace_id = format(span.trace_id, "032x")
            return record

        logging.setLogRecordFactory(with_context)
        _factory_installed = True
