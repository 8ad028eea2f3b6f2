"""The one error the document layer raises, with a stable machine code."""

from __future__ import annotations

# code -> the HTTP status an API answers when it meets the error at upload time. Inside an
# `ingest` job the code goes into the job's error as is.
ERROR_STATUS: dict[str, int] = {
    "unsupported_type": 415,
    "too_large": 413,
    "empty_document": 422,
    "corrupt_document": 422,
    "invalid_encoding": 422,
    "archive_unsafe_path": 422,
    "archive_too_large": 413,
    "archive_nested": 422,
}


class DocumentError(Exception):
    """A document (or archive) that cannot be ingested; `code` is one of ERROR_STATUS's keys.

    `member` names the archive member at fault, when there is one.
    """

    def __init__(self, code: str, message: str, *, member: str | None = None):
        if code not in ERROR_STATUS:
            raise ValueError(f"unknown DocumentError code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.member = member

    @property
    def http_status(self) -> int:
        """The status an API answers with for this error."""
        return ERROR_STATUS[self.code]

    def __repr__(self) -> str:
        return f"DocumentError({self.code!r}, {self.message!r})"
