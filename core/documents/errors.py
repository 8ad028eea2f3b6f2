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
    # Recordings (workers/recordings/): met in the transcribe stage, never at upload.
    "corrupt_recording": 422,  # FFmpeg cannot read or decode it
    "no_audio_track": 422,  # a video without sound, or a container with no audio stream
    "recording_too_long": 413,  # over MENTORQ_MAX_AUDIO_SECONDS (by its header, or once decoded)
    "no_speech": 422,  # decoded whole, and the VAD heard nobody speak
    # Fetching a document from a URL (workers/documents/fetch.py). The fault is the URL's or its
    # server's: 4xx for what the caller named, 502/504 (as a gateway would) for what the server did.
    "url_forbidden": 422,  # private/loopback/metadata address, non-http(s) scheme, malformed URL
    "url_not_found": 422,  # the server answered 404 or 410
    "url_http_error": 502,  # any other non-2xx answer, or a broken/undecodable answer
    "url_unreachable": 502,  # DNS failure, connection refused, TLS handshake or certificate failure
    "url_timeout": 504,  # no complete answer within the overall deadline
    "url_too_large": 413,  # the body is over the size limit
    "url_redirect_loop": 422,  # a redirect cycle, or more redirects than allowed
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
