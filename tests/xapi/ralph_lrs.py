"""Ralph's LRS (ralph-malph 5.1.0) on its filesystem backend, as the xAPI tests' Learning Record
Store: `python tests/xapi/ralph_lrs.py PORT` with the interpreter of Ralph's own virtualenv
(.venv-ralph, made by `make test`) and RALPH_* variables naming its folder and credentials file.

One change to Ralph, and why: its filesystem backend writes a file with the CREATE operation,
which refuses a file that exists, so every POST after the first answers 500 ("overwrite is not
allowed"). It appends here, as an LRS keeps every statement it gets; everything else (validation,
deduplication by id, 409 for a differing statement, GET with filters) is Ralph's own code."""

from __future__ import annotations

import sys

import uvicorn
from ralph.backends.data.base import BaseOperationType
from ralph.backends.data.fs import FSDataBackend


def main() -> None:
    FSDataBackend.default_operation_type = BaseOperationType.APPEND
    from ralph.api import app

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")


if __name__ == "__main__":
    main()
