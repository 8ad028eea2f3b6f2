"""A refused LTI message: a stable code the error page shows and the metrics count."""

from __future__ import annotations


class LtiError(Exception):
    """Why an LTI message was refused: `code` is stable (`lti_*`), `message` says it to a person."""

    def __init__(self, code: str, message: str, *, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
