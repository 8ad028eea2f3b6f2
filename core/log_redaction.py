"""Log records that cannot carry a credential, whatever handlers and formatters a process has.

`install()` wraps the logging module's record factory, so every record the process makes (ours,
httpx's `HTTP Request: POST http://…` INFO lines, Celery's, uvicorn's) is scrubbed as it is
created, before any handler sees it (core/redaction.py: URLs in display form, this deployment's
secrets as ***). A filter or a formatter would not hold: Celery and uvicorn replace the handlers and
formatters when they start, and a record reaches every handler of every logger above its own.

What is scrubbed: the message; each argument whose text would show a credential (replaced by its
scrubbed text; numbers and harmless objects are kept as they are, so `%d` and uvicorn's access
formatter, which reads the arguments, still work); the traceback (formatted now, scrubbed, and kept
as the record's `exc_text`, which every standard formatter prints instead of formatting its own);
and the stack. When a credential only appears once the arguments are put into the message (a URL
assembled from pieces), the record keeps the scrubbed message alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from core.redaction import scrubber
from core.settings import Settings

_lock = threading.Lock()
_installed = False
_traceback_formatter = logging.Formatter()


def _scrubbed_argument(value: Any, scrub: Callable[[str], str]) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return scrub(value)
    text = str(value)
    shown = repr(value)
    if scrub(text) != text or scrub(shown) != shown:  # an httpx URL, an exception quoting one
        return scrub(text)
    return value


def scrub_record(record: logging.LogRecord, scrub: Callable[[str], str]) -> None:
    """Scrub a record in place (see the module's docstring)."""
    try:
        if isinstance(record.msg, str):
            record.msg = scrub(record.msg)
        elif scrub(str(record.msg)) != str(record.msg):
            record.msg = scrub(str(record.msg))
        if isinstance(record.args, Mapping):
            record.args = {key: _scrubbed_argument(value, scrub) for key, value in record.args.items()}
        elif record.args:
            record.args = tuple(_scrubbed_argument(value, scrub) for value in record.args)
        rendered = record.getMessage()
        if scrub(rendered) != rendered:
            record.msg, record.args = scrub(rendered), ()
    except Exception:  # noqa: BLE001 - arguments that do not fit the message: log what can be shown
        record.msg, record.args = scrub(f"{record.msg} (arguments: {record.args!r})"), ()
    if record.exc_info and not record.exc_text:
        record.exc_text = scrub(_traceback_formatter.formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = scrub(record.stack_info)


def install(settings: Settings | None = None) -> None:
    """Scrub every log record this process makes from now on; a second call does nothing."""
    global _installed
    with _lock:
        if _installed:
            return
        scrub = scrubber(settings)  # built now: a bad setting fails the start, not a log call
        make_record = logging.getLogRecordFactory()

        def scrubbed_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = make_record(*args, **kwargs)
            scrub_record(record, scrub)
            return record

        logging.setLogRecordFactory(scrubbed_record)
        _installed = True
