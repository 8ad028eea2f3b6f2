"""The request guard (api/request_guard.py) in front of a small FastAPI app with the real error handlers:
no stack needed, so the streaming edge cases (a body cut into one-byte chunks) run in milliseconds.
The same rules on the live stack, route by route, are in test_bad_input.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from starlette.datastructures import UploadFile

from api.errors import install_error_handlers
from api.request_guard import RequestGuard


def guarded_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestGuard, max_bytes=1_000_000)

    @app.post("/form")
    async def form(request: Request) -> dict:
        fields = await request.form()
        return {
            name: {"filename": value.filename, "type": value.content_type}
            if isinstance(value, UploadFile)
            else value
            for name, value in fields.items()
        }

    return app


def send(body: bytes, content_type: str, *, chunk: int | None = None) -> httpx.Response:
    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(body), chunk or len(body)):
            yield body[start : start + (chunk or len(body))]

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=guarded_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://guard") as client:
            return await client.post("/form", content=pieces(), headers={"content-type": content_type})

    return asyncio.run(go())


def part(headers: list[bytes], data: bytes = b"x") -> bytes:
    return b"--B\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + data + b"\r\n"


def body(*parts: bytes) -> bytes:
    return b"".join(parts) + b"--B--\r\n"


FILE = b'Content-Disposition: form-data; name="files"; filename="notes.txt"'


def refused_at(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "invalid_text"
    [error] = problem["errors"]
    return error["path"]


@pytest.mark.parametrize("chunk", [None, 1, 7])
def test_a_part_s_headers_are_checked_however_the_body_is_cut(chunk: int | None) -> None:
    """A header's name or value arriving in pieces (one byte per chunk) is still read whole."""
    response = send(
        body(part([FILE, b"Content-Type: text/pl\x00ain"])), "multipart/form-data; boundary=B", chunk=chunk
    )
    assert refused_at(response) == "form.files.content-type"
    response = send(
        body(part([b'Content-Disposition: form-data; name="files"; filename="a\x01.txt"'])),
        "multipart/form-data; boundary=B",
        chunk=chunk,
    )
    assert refused_at(response) == "form.files.filename"


def test_the_last_content_disposition_of_a_part_is_the_one_checked() -> None:
    """Starlette keeps a part's last Content-Disposition; a clean first one must not cover a bad second."""
    second = b'Content-Disposition: form-data; name="files"; filename="b\x00.txt"'
    response = send(body(part([FILE, second])), "multipart/form-data; boundary=B")
    assert refused_at(response) == "form.files.filename"


def test_any_header_of_a_part_is_held_to_the_rule() -> None:
    response = send(body(part([FILE, b"X-Note: a\x1bb"])), "multipart/form-data; boundary=B")
    assert refused_at(response) == "form.files.x-note"


@pytest.mark.parametrize("charset", ["utf-8", "latin-1", "utf-16", "no-such-charset"])
def test_clean_parts_pass_in_any_charset_the_parser_accepts(charset: str) -> None:
    """The check decodes as Starlette does, so a charset whose bytes hold 0x00 (UTF-16) is no false alarm."""
    encoding = charset if charset != "no-such-charset" else "latin-1"  # Starlette falls back to latin-1
    title = part([b'Content-Disposition: form-data; name="title"'], "Café".encode(encoding))
    response = send(body(title, part([FILE])), f"multipart/form-data; boundary=B; charset={charset}")
    assert response.status_code == 200, response.text
    assert response.json() == {"title": "Café", "files": {"filename": "notes.txt", "type": None}}


def test_tab_is_the_one_control_character_a_type_may_hold() -> None:
    response = send(
        body(part([FILE, b"Content-Type: text/plain;\tcharset=utf-8"])), "multipart/form-data; boundary=B"
    )
    assert response.status_code == 200, response.text
    assert response.json()["files"]["type"] == "text/plain;\tcharset=utf-8"


def test_file_contents_are_bytes_and_never_checked() -> None:
    response = send(body(part([FILE], b"\x00\x01\x85\xff")), "multipart/form-data; boundary=B")
    assert response.status_code == 200, response.text
