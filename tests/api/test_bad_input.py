"""Never a 5xx for bad input: each request below answered 500 once; now each is a 4xx with a stable code.

NUL characters and unpaired surrogates are refused by one rule for every text a client sends
(api/request_guard.py): 422 `invalid_text`, naming the field, and nothing is stored.
"""

from __future__ import annotations

import io
import json
import zipfile

import httpx
import pytest

from tests.api.test_errors import assert_problem, job_count
from tests.conftest import ApiClient
from tests.documents.test_api import wait_document
from tests.support.stack import Stack, wait_until

NUL = "\u0000"


def post_json(client: ApiClient, path: str, document: object) -> httpx.Response:
    """JSON sent as written (httpx would refuse to encode a lone surrogate itself)."""
    return client.post(path, content=json.dumps(document), headers={"content-type": "application/json"})


def bad_text(response: httpx.Response, path: str) -> None:
    body = assert_problem(response, 422, "invalid_text")
    assert [error["path"] for error in body["errors"]] == [path]


@pytest.mark.parametrize(
    ("input", "path"),
    [
        ({"prompt": f"hello{NUL}world"}, "input.prompt"),
        ({"prompt": "hi", "model": f"llama{NUL}"}, "input.model"),
        ({"prompt": "hi", "options": {"stop": [f"a{NUL}"]}}, "input.options.stop[0]"),
        (
            {"prompt": "hi", "format": {"type": "object", "properties": {f"k{NUL}": {"type": "string"}}}},
            "input.format.properties.k?",
        ),
        ({"messages": [{"role": "user", "content": f"{NUL}"}]}, "input.messages[0].content"),
    ],
)
def test_nul_in_a_chat_job_is_refused(client: ApiClient, stack: Stack, input: dict, path: str) -> None:
    bad_text(post_json(client, "/v1/jobs", {"kind": "chat", "input": input}), path)
    assert job_count(stack, client) == 0


@pytest.mark.parametrize("text", [f"active{NUL}recall", "\udfff"])
def test_nul_or_a_lone_surrogate_in_embed_texts_is_refused(
    client: ApiClient, stack: Stack, text: str
) -> None:
    bad_text(
        post_json(client, "/v1/jobs", {"kind": "embed", "input": {"texts": ["fine", text]}}), "input.texts[1]"
    )
    assert job_count(stack, client) == 0


def test_nul_in_document_metadata_is_refused(client: ApiClient, stack: Stack) -> None:
    bad_text(post_json(client, "/v1/documents/text", {"title": f"t{NUL}", "text": "x"}), "title")
    bad_text(
        post_json(client, "/v1/documents/text", {"title": "t", "text": "x", "tags": [f"{NUL}"]}), "tags[0]"
    )
    bad_text(
        post_json(client, "/v1/documents/url", {"url": "http://127.0.0.1/x", "title": f"{NUL}"}), "title"
    )
    bad_text(
        post_json(client, "/v1/collections", {"name": "notes", "description": f"a{NUL}b"}), "description"
    )
    # A text document with a NUL in it is refused outright (it used to answer 202 `rejected`).
    bad_text(post_json(client, "/v1/documents/text", {"title": "t", "text": f"one{NUL}two"}), "text")
    assert stack.sql("SELECT count(*) FROM documents WHERE owner_id = %s", client.user_id) == [(0,)]


def test_nul_in_multipart_fields_is_refused_but_not_in_file_bytes(client: ApiClient) -> None:
    response = client.post(
        "/v1/documents", files={"files": ("a.md", b"# A")}, data={"title": f"x{NUL}y", "collection": "notes"}
    )
    bad_text(response, "form.title")
    binary = client.post("/v1/documents", files={"files": ("b.txt", b"text with a \x00 byte inside")})
    # The file's own type decides (here: not text, 415), never the text rule.
    assert binary.status_code in (202, 415, 422)
    if binary.status_code != 202:
        assert binary.json()["code"] != "invalid_text"


def test_nul_in_search_query_and_filters_is_refused(client: ApiClient) -> None:
    bad_text(post_json(client, "/v1/search", {"query": f"spacing{NUL}"}), "query")
    bad_text(
        post_json(client, "/v1/search", {"query": "spacing", "filters": {"tags": [NUL]}}), "filters.tags[0]"
    )


def test_nul_in_the_query_string_is_refused(client: ApiClient) -> None:
    bad_text(client.get("/v1/jobs?kind=%00"), "query.kind")
    bad_text(client.get("/v1/documents?collection=a%00b"), "query.collection")


def test_nul_in_the_login_form_is_refused_without_an_account(stack: Stack) -> None:
    response = httpx.post(
        f"{stack.api_url}/auth/jwt/login", data={"username": f"a{NUL}@b.c", "password": "x"}
    )
    bad_text(response, "form.username")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("collection", "my notes"),
        ("resource_type", "book"),
        ("level", "expert"),
        ("tags", ",".join(f"t{i}" for i in range(33))),
        ("title", "x" * 501),
    ],
)
def test_bad_upload_metadata_is_a_422_naming_the_field(client: ApiClient, field: str, value: str) -> None:
    response = client.post("/v1/documents", files={"files": ("a.md", b"# A")}, data={field: value})
    body = assert_problem(response, 422, "validation_error")
    assert any(error["path"].startswith(field) for error in body["errors"]), body


@pytest.mark.parametrize("value", [b"wait=\xb2", b"wait=" + b"9" * 5000, b"wait=", b"wait=-1"])
def test_a_malformed_prefer_wait_is_a_400(client: ApiClient, stack: Stack, value: bytes) -> None:
    submit = client.post("/v1/jobs", json={"kind": "debug.sleep", "input": {}}, headers={"Prefer": value})
    assert_problem(submit, 400, "invalid_prefer")
    assert job_count(stack, client) == 0
    job = client.post("/v1/jobs", json={"kind": "debug.sleep", "input": {}}).json()
    assert_problem(client.get(f"/v1/jobs/{job['id']}", headers={"Prefer": value}), 400, "invalid_prefer")


def test_other_preferences_are_still_ignored(client: ApiClient) -> None:
    response = client.post(
        "/v1/jobs",
        json={"kind": "debug.sleep", "input": {}},
        headers={"Prefer": "respond-async, handling=lenient"},
    )
    assert response.status_code == 202


@pytest.mark.parametrize("value", [b"\xb2", b"9" * 5000, b"99999999999999999999", b"-3", b"abc"])
def test_a_malformed_last_event_id_is_a_400_not_a_dead_stream(client: ApiClient, value: bytes) -> None:
    job = client.post(
        "/v1/jobs", json={"kind": "debug.sleep", "input": {}}, headers={"Prefer": "wait=30"}
    ).json()
    response = client.get(f"/v1/jobs/{job['id']}/events", headers={"Last-Event-ID": value})
    assert_problem(response, 400, "invalid_last_event_id")


def test_the_largest_event_id_still_streams_to_done(client: ApiClient) -> None:
    job = client.post(
        "/v1/jobs", json={"kind": "debug.sleep", "input": {}}, headers={"Prefer": "wait=30"}
    ).json()
    with client.stream(
        "GET", f"/v1/jobs/{job['id']}/events", headers={"Last-Event-ID": str(2**63 - 1)}
    ) as stream:
        assert stream.status_code == 200
        assert "event: done" in "".join(stream.iter_text())


def nested_format(depth: int) -> str:
    """A JSON schema nested `depth` objects deep, written as text (json.dumps recurses too)."""
    return '{"type": "object", "properties": {"a": ' * depth + '{"type": "string"}' + "}}" * depth


@pytest.mark.parametrize("depth", [70, 900, 3000])
def test_a_deeply_nested_body_is_malformed_json(client: ApiClient, stack: Stack, depth: int) -> None:
    body = '{"kind": "chat", "input": {"prompt": "hi", "format": ' + nested_format(depth) + "}}"
    response = client.post("/v1/jobs", content=body, headers={"content-type": "application/json"})
    assert_problem(response, 400, "malformed_json")
    assert job_count(stack, client) == 0


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(client: ApiClient, stack: Stack, constant: str) -> None:
    format_ = '{"type": "number", "maximum": ' + constant + "}"
    body = '{"kind": "chat", "input": {"prompt": "hi", "format": ' + format_ + "}}"
    response = client.post("/v1/jobs", content=body, headers={"content-type": "application/json"})
    assert_problem(response, 400, "malformed_json")
    assert job_count(stack, client) == 0


def test_an_empty_zip_is_a_failed_document_not_a_ready_one(client: ApiClient) -> None:
    archive = io.BytesIO()
    zipfile.ZipFile(archive, "w").close()
    response = client.post(
        "/v1/documents", files={"files": ("empty.zip", archive.getvalue(), "application/zip")}
    )
    assert response.status_code == 202, response.text
    document = wait_document(client, response.json()["items"][0]["document"]["id"])
    assert document["status"] == "failed" and document["error"]["code"] == "empty_document"
    job = client.get(f"/v1/jobs/{document['ingest_job_id']}").json()
    wait_until(lambda: client.get(f"/v1/jobs/{job['id']}").json()["status"] == "failed", timeout=30)
    assert client.get(f"/v1/jobs/{job['id']}").json()["error"]["code"] == "empty_document"


def test_a_prompt_longer_than_the_model_s_context_fails_with_its_own_code(
    client: ApiClient, fake_ollama
) -> None:
    fake_ollama.context_words = 50
    job = client.post(
        "/v1/jobs", json={"kind": "chat", "input": {"prompt": "word " * 200}}, headers={"Prefer": "wait=30"}
    ).json()
    assert job["status"] == "failed" and job["error"]["code"] == "context_too_long"
    assert job["attempts"] == 1  # the same prompt would fail again: not retried


# --- multipart part names and types (items 9 of issue 23) -----------------------------------------

UPLOAD_PATHS = {"/v1/documents": "files", "/api/profiles/ingest": "file"}


def multipart(parts: list[tuple[list[bytes], bytes]], *, charset: str | None = None) -> tuple[bytes, str]:
    """A multipart body written byte for byte (httpx would escape or refuse what these tests send)."""
    body = b""
    for headers, data in parts:
        body += (
            b"--BOUNDARY\r\n" + b"".join(header + b"\r\n" for header in headers) + b"\r\n" + data + b"\r\n"
        )
    content_type = "multipart/form-data; boundary=BOUNDARY" + (f"; charset={charset}" if charset else "")
    return body + b"--BOUNDARY--\r\n", content_type


def file_part(
    field: bytes, filename: bytes, content_type: bytes = b"text/plain"
) -> tuple[list[bytes], bytes]:
    disposition = b'Content-Disposition: form-data; name="' + field + b'"; filename="' + filename + b'"'
    return [disposition, b"Content-Type: " + content_type], b"I have used Python for three years."


def post_multipart(
    client: httpx.Client, path: str, parts: list, *, charset: str | None = None
) -> httpx.Response:
    body, content_type = multipart(parts, charset=charset)
    return client.post(path, content=body, headers={"content-type": content_type})


def nothing_stored(stack: Stack, client: ApiClient) -> None:
    assert stack.sql("SELECT count(*) FROM documents WHERE owner_id = %s", client.user_id) == [(0,)]
    assert job_count(stack, client) == 0


@pytest.mark.parametrize("path", sorted(UPLOAD_PATHS))
@pytest.mark.parametrize(
    ("filename", "content_type", "where"),
    [
        (b"notes\x00.txt", b"text/plain", "filename"),  # each of these two was a 500
        (b"notes.txt", b"text/pl\x00ain", "content-type"),
        (b"notes\x1b[2J.txt", b"text/plain", "filename"),  # a terminal escape, for whoever lists files
        (b"notes\x0b.txt", b"text/plain", "filename"),
        (b"notes\x7f.txt", b"text/plain", "filename"),
        (b"notes\x85.txt", b"text/plain", "filename"),  # not UTF-8: read as latin-1, a C1 control
        (b"notes\xc2\x9b.txt", b"text/plain", "filename"),  # UTF-8 for U+009B, a C1 control
        (b"notes.txt", b"text/plain\x9b", "content-type"),
    ],
)
def test_control_characters_in_a_part_s_filename_or_type_are_refused(
    client: ApiClient, stack: Stack, path: str, filename: bytes, content_type: bytes, where: str
) -> None:
    field = UPLOAD_PATHS[path]
    response = post_multipart(client, path, [file_part(field.encode(), filename, content_type)])
    bad_text(response, f"form.{field}.{where}")
    nothing_stored(stack, client)


@pytest.mark.parametrize("path", sorted(UPLOAD_PATHS))
def test_a_control_character_in_a_part_s_field_name_is_refused(
    client: ApiClient, stack: Stack, path: str
) -> None:
    bad_text(post_multipart(client, path, [file_part(b"fi\x01le", b"notes.txt")]), "form.fi?le")
    nothing_stored(stack, client)


def test_a_multipart_charset_cannot_smuggle_a_nul_past_the_check(client: ApiClient, stack: Stack) -> None:
    """Starlette decodes names and fields with the request's charset: in UTF-7, `+AAA-` is NUL and
    `+2AA-` an unpaired surrogate. The check decodes the same way (the NUL ones were 500s)."""
    title = ([b'Content-Disposition: form-data; name="title"'], b"one+AAA-two")
    bad_text(
        post_multipart(client, "/v1/documents", [file_part(b"files", b"a.md"), title], charset="utf-7"),
        "form.title",
    )
    surrogate = ([b'Content-Disposition: form-data; name="title"'], b"one+2AA-two")
    response = post_multipart(
        client, "/v1/documents", [file_part(b"files", b"a.md"), surrogate], charset="utf-7"
    )
    bad_text(response, "form.title")
    response = post_multipart(client, "/v1/documents", [file_part(b"files", b"a+AAA-.md")], charset="utf-7")
    bad_text(response, "form.files.filename")
    nothing_stored(stack, client)


def test_a_second_content_type_header_does_not_hide_the_body_from_the_check(
    client: ApiClient, stack: Stack
) -> None:
    """The app reads the first Content-Type; the check once read the last, and skipped the body (500)."""
    body, content_type = multipart(
        [file_part(b"files", b"a.md"), ([b'Content-Disposition: form-data; name="title"'], b"x\x00y")]
    )
    headers = [("content-type", content_type), ("content-type", "text/plain")]
    bad_text(client.post("/v1/documents", content=body, headers=headers), "form.title")
    document = json.dumps({"kind": "chat", "input": {"prompt": f"a{NUL}b"}})
    headers = [("content-type", "application/json"), ("content-type", "text/plain")]
    bad_text(client.post("/v1/jobs", content=document, headers=headers), "input.prompt")
    nothing_stored(stack, client)


def test_a_json_body_without_a_content_type_is_checked_too(client: ApiClient, stack: Stack) -> None:
    """Which bodies a route reads as JSON is not the guard's guess: any body that is JSON is checked."""
    response = client.post("/v1/jobs", content=json.dumps({"kind": "chat", "input": {"prompt": f"a{NUL}"}}))
    assert response.request.headers.get("content-type") is None
    bad_text(response, "input.prompt")
    assert job_count(stack, client) == 0


def test_a_nul_in_the_path_is_refused(client: ApiClient) -> None:
    for path in ("/v1/collections/notes%00x", "/v1/jobs/a%00b", "/v1/admin/instructions/ask%00"):
        bad_text(client.get(path), "path")


def test_real_names_and_types_still_pass(client: ApiClient, stack: Stack) -> None:
    """UTF-8 names (their bytes include 0x80-0x9f, which is not C1 once decoded) and a tab in a type
    (legal whitespace in a header value) are fine; only control characters are refused."""
    parts = [file_part(b"files", "€ résumé 日本.txt".encode(), b"text/plain;\tcharset=utf-8")]
    response = post_multipart(client, "/v1/documents", parts)
    assert response.status_code == 202, response.text
    assert response.json()["items"][0]["filename"] == "€ résumé 日本.txt"
    [(content_type,)] = stack.sql("SELECT content_type FROM documents WHERE owner_id = %s", client.user_id)
    assert content_type == "text/plain;\tcharset=utf-8"


def test_the_console_upload_is_held_to_the_same_rule(stack: Stack, admin_client: ApiClient) -> None:
    from tests.console.support import console_sign_in, csrf_token

    console = console_sign_in(stack, admin_client).client  # type: ignore[attr-defined]
    before = stack.sql("SELECT count(*) FROM documents")
    token = ([b'Content-Disposition: form-data; name="csrf_token"'], csrf_token(console, "/admin").encode())
    body, content_type = multipart([token, file_part(b"files", b"notes\x00.md", b"text/markdown")])
    response = console.post("/admin/library/upload", content=body, headers={"content-type": content_type})
    bad_text(response, "form.files.filename")
    assert stack.sql("SELECT count(*) FROM documents") == before
