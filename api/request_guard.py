"""What every request must be before a route sees it: within its size, and made of storable text.

PostgreSQL cannot store a NUL character in text or JSONB, and UTF-8 cannot encode an unpaired
surrogate; either one used to travel to the database and come back as a 500. One rule covers
every text a client sends: the path, the query string, JSON bodies (keys and values), urlencoded
forms and multipart form fields (not file contents: those are bytes). Such a character is refused
with 422 `invalid_text`, naming where it was. A multipart part's field name, filename and headers
(its Content-Type) are names, not prose: there any control character but tab (C0, DEL, C1) is
refused too, by the same code. JSON bodies may not use NaN or Infinity (they are not JSON, and
JSONB would keep them as null) nor nest deeper than MAX_JSON_DEPTH (400 `malformed_json`).

Each text is decoded here exactly as the app will decode it (the first Content-Type header, its
charset for multipart parts, latin-1 where Starlette falls back to it), so no spelling of a
character (`charset=utf-7`, a second Content-Type, a JSON body declared as something else)
reaches a route unchecked. The body is checked as the app reads it: a refusal is raised from `receive`, as an
HTTPException, so FastAPI's body parsing lets it through to the problem handlers. A body is never
buffered twice: bodies other than forms are checked once whole, as JSON when they are JSON;
multipart bodies are scanned as they stream, file contents never kept.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import RequestRefused, problem_response

MAX_JSON_DEPTH = 64
MAX_FORM_FIELD_BYTES = 1_048_576  # a multipart text field's bytes kept for the check
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Names and media types: every control character but tab (legal whitespace in a header value).
CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")
INVALID_TEXT = "text may not contain NUL characters or unpaired surrogates"
INVALID_NAME = "a part's field name, filename and headers may not contain control characters"


def unstorable_text(path: str, message: str = INVALID_TEXT) -> RequestRefused:
    return RequestRefused(422, "invalid_text", message, errors=[{"path": path, "message": message}])


def check_path(path: str) -> None:
    """The decoded path: its parameters (a collection's name, an instruction's kind) reach SQL."""
    if UNSTORABLE.search(path):
        raise unstorable_text("path")


# --- the checks ---------------------------------------------------------------------------------


def check_query(query_string: bytes) -> None:
    text = query_string.decode("latin-1")
    if "%" not in text and "\x00" not in text:
        return
    for name, value in parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="replace"):
        if UNSTORABLE.search(name) or UNSTORABLE.search(value):
            raise unstorable_text(f"query.{UNSTORABLE.sub('?', name)}")


def check_form(body: bytes) -> None:
    pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace")
    for name, value in pairs:
        if UNSTORABLE.search(name) or UNSTORABLE.search(value):
            raise unstorable_text(f"form.{UNSTORABLE.sub('?', name)}")


def check_json(body: bytes) -> None:
    """NUL and unpaired surrogates only arrive as \\u escapes, NaN as a bare word, depth as brackets:
    a body with none of these (most of them) is not parsed here at all."""
    suspicious = b"\\u" in body or b"NaN" in body or b"Infinity" in body
    if not suspicious and body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return
    try:
        document = json.loads(body, parse_constant=_refuse_constant)
    except RequestRefused:
        raise
    except RecursionError:
        raise _too_deep() from None
    except (ValueError, UnicodeDecodeError):
        return  # not JSON at all: the route's own parsing answers 400 malformed_json
    problem = _first_problem(document)
    if problem is not None:
        raise problem


def _refuse_constant(name: str) -> float:
    raise RequestRefused(400, "malformed_json", f"{name} is not a JSON value")


def _too_deep() -> RequestRefused:
    return RequestRefused(400, "malformed_json", f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")


def _first_problem(document: Any) -> RequestRefused | None:
    """Walk without recursion (a deep document must not exhaust the stack), paths as `a.b[2].c`."""
    stack: list[tuple[Any, int, str]] = [(document, 0, "")]
    while stack:
        value, depth, path = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return _too_deep()
        if isinstance(value, str):
            if UNSTORABLE.search(value):
                return unstorable_text(path or "body")
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if UNSTORABLE.search(key):
                    return unstorable_text(UNSTORABLE.sub("?", child))
                stack.append((item, depth + 1, child))
        elif isinstance(value, list):
            stack.extend((item, depth + 1, f"{path}[{index}]") for index, item in enumerate(value))
    return None


def decode_like_starlette(data: bytes | bytearray, charset: str) -> str:
    """Bytes of a multipart part as Starlette's parser turns them into text (its `_user_safe_decode`)."""
    try:
        return data.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return data.decode("latin-1")


def multipart_charset(options: dict[bytes, bytes]) -> str:
    """The codec Starlette decodes every part's name, filename and text with: the request's charset."""
    charset = options.get(b"charset", b"utf-8").decode("latin-1")
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return "latin-1"


class _MultipartParts:
    """Streams a multipart body through python-multipart, checking each part's name, filename and
    headers, and the text of the parts that are not files."""

    def __init__(self, boundary: bytes, charset: str):
        self._charset = charset
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: list[tuple[bytes, bytes]] = []
        self._text: bytearray | None = None
        self._name = ""
        self.problem: RequestRefused | None = None
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._begin,
                "on_header_field": self._field,
                "on_header_value": self._value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._data,
                "on_part_end": self._end,
            },
        )

    def write(self, chunk: bytes) -> None:
        try:
            self._parser.write(chunk)
        except MultipartParseError:
            pass  # malformed: Starlette's own parser says so, with its own error

    def _begin(self) -> None:
        self._headers, self._text, self._name = [], None, ""

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]  # a name may arrive in pieces, split across chunks

    def _value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers.append((bytes(self._header_name).lower(), bytes(self._header_value)))
        self._header_name, self._header_value = bytearray(), bytearray()

    def _headers_finished(self) -> None:
        # Starlette keeps the last Content-Disposition; its other headers are read latin-1.
        disposition = next((v for k, v in reversed(self._headers) if k == b"content-disposition"), b"")
        _, options = parse_options_header(disposition)
        self._name = decode_like_starlette(options.get(b"name", b""), self._charset)
        field = f"form.{CONTROL.sub('?', self._name)}"
        if CONTROL.search(self._name):
            return self._refuse(field)
        if b"filename" in options:
            if CONTROL.search(decode_like_starlette(options[b"filename"], self._charset)):
                return self._refuse(f"{field}.filename")
        else:
            self._text = bytearray()
        # The route sees these as Starlette does, latin-1: a byte 0x80-0x9f arrives as a C1 control.
        for name, value in self._headers:
            if name != b"content-disposition" and CONTROL.search(value.decode("latin-1")):
                return self._refuse(f"{field}.{name.decode('latin-1')}")
        return None

    def _refuse(self, path: str) -> None:
        if self.problem is None:
            self.problem = unstorable_text(path, INVALID_NAME)

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._text is not None and len(self._text) < MAX_FORM_FIELD_BYTES:
            self._text += data[start:end]

    def _end(self) -> None:
        if self._text is not None and self.problem is None:
            if UNSTORABLE.search(decode_like_starlette(self._text, self._charset)):
                self.problem = unstorable_text(f"form.{CONTROL.sub('?', self._name)}")


# --- the middleware -----------------------------------------------------------------------------


class RequestGuard:
    """Pure ASGI middleware: the body size cap (Content-Length, then streamed bytes) and the text rules."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, upload_paths: dict[str, int] | None = None):
        self.app = app
        self.default_max_bytes = max_bytes
        # Paths that take file uploads get their own, larger limit: exact, or with `{name}` segments
        # (a course's id) that stand for any one segment.
        self.upload_paths = upload_paths or {}
        self.upload_templates = [
            (re.compile(re.sub(r"\\\{[^/]+\\\}", "[^/]+", re.escape(path))), limit)
            for path, limit in self.upload_paths.items()
            if "{" in path
        ]

    def _max_bytes(self, path: str) -> int:
        if path in self.upload_paths:
            return self.upload_paths[path]
        matching = (limit for template, limit in self.upload_templates if template.fullmatch(path))
        return next(matching, self.default_max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self._max_bytes(scope.get("path", ""))
        declared = _first_header(scope, b"content-length")
        try:
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise _too_large(max_bytes)
            check_path(scope.get("path", ""))
            check_query(scope.get("query_string", b""))
        except RequestRefused as refusal:
            await _refuse(refusal, scope, receive, send)
            return

        check_body = _body_checker(_first_header(scope, b"content-type") or b"")
        received = 0
        buffered = bytearray()
        response_started = False

        async def guarded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > max_bytes:
                    raise _too_large(max_bytes)
                check_body(chunk, not message.get("more_body", False), buffered)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, tracking_send)
        except RequestRefused as refusal:  # raised where nothing in the app turned it into a response
            if not response_started:
                await _refuse(refusal, scope, receive, send)


BodyCheck = Callable[[bytes, bool, bytearray], None]


def _first_header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of a header, the one Starlette's `headers.get` (and so FastAPI) reads."""
    return next((value for key, value in scope.get("headers") or [] if key.lower() == name), None)


def _body_checker(content_type: bytes) -> BodyCheck:
    """How to check a body of this type as it streams in: (chunk, last, buffer) -> raises RequestRefused.

    Forms are checked as forms; every other body as JSON when it parses as JSON, whatever type it
    declares: which bodies a route reads as JSON is the route's business, and a check that guessed
    from the header once missed a JSON body behind a second Content-Type."""
    media_type, options = parse_options_header(content_type)
    if media_type == b"application/x-www-form-urlencoded":
        return _whole(check_form)
    if media_type == b"multipart/form-data" and options.get(b"boundary"):
        parts = _MultipartParts(options[b"boundary"], multipart_charset(options))

        def check(chunk: bytes, last: bool, buffer: bytearray) -> None:
            parts.write(chunk)
            if parts.problem is not None:
                raise parts.problem

        return check
    return _whole(check_json)


def _whole(check: Callable[[bytes], None]) -> BodyCheck:
    def check_when_complete(chunk: bytes, last: bool, buffer: bytearray) -> None:
        buffer += chunk
        if last:
            check(bytes(buffer))

    return check_when_complete


def _too_large(max_bytes: int) -> RequestRefused:
    return RequestRefused(413, "payload_too_large", f"the request body exceeds {max_bytes} bytes")


async def _refuse(refusal: RequestRefused, scope: Scope, receive: Receive, send: Send) -> None:
    response = problem_response(
        refusal.status_code, refusal.code, refusal.detail, errors=refusal.errors, instance=scope.get("path")
    )
    await response(scope, receive, send)
