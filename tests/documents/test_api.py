"""Ingestion and search end to end: real parsing, real embeddings, real pgvector."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ApiClient, make_admin
from tests.support.stack import Stack, wait_until

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "knowledge"


def upload(client: ApiClient, files: list[tuple[str, bytes, str | None]], **form) -> dict:
    response = client.post(
        "/v1/documents",
        files=[
            ("files", (name, data, content_type or "application/octet-stream"))
            for name, data, content_type in files
        ],
        data=form,
    )
    return {"status": response.status_code, "body": response.json()}


def wait_document(client: ApiClient, document_id: str, timeout: float = 120) -> dict:
    def done() -> bool:
        return client.get(f"/v1/documents/{document_id}").json()["status"] in ("ready", "failed")

    wait_until(done, timeout=timeout, interval=0.25, message=f"document {document_id}")
    return client.get(f"/v1/documents/{document_id}").json()


def ingest(client: ApiClient, name: str, data: bytes, **form) -> dict:
    result = upload(client, [(name, data, None)], **form)
    assert result["status"] == 202, result
    item = result["body"]["items"][0]
    return wait_document(client, item["document"]["id"])


def test_markdown_pdf_and_srt_become_searchable_chunks(client: ApiClient) -> None:
    docs = {
        name: ingest(client, name, (SAMPLES / name).read_bytes(), collection="study")
        for name in ("spaced-repetition.md", "study-skills.pdf", "lecture-memory.srt")
    }
    for name, document in docs.items():
        assert document["status"] == "ready", (name, document["error"])
        assert document["chunk_count"] > 0
    srt = client.get(f"/v1/documents/{docs['lecture-memory.srt']['id']}", params={"include": "chunks"}).json()
    assert all(chunk["start_s"] is not None and chunk["end_s"] > chunk["start_s"] for chunk in srt["chunks"])
    md = client.get(
        f"/v1/documents/{docs['spaced-repetition.md']['id']}", params={"include": "chunks"}
    ).json()
    assert any(chunk["heading_path"] for chunk in md["chunks"])
    assert [chunk["position"] for chunk in md["chunks"]] == list(range(len(md["chunks"])))

    found = client.post("/v1/search", json={"query": "how often should I review flashcards", "k": 5}).json()
    assert found["mode"] == "hybrid" and found["model"] == "all-MiniLM-L6-v2"
    assert len(found["items"]) == 5
    top = found["items"][0]
    assert top["document_title"] and top["collection"] == "study"
    assert top["vector_rank"] is not None or top["keyword_rank"] is not None
    scores = [item["score"] for item in found["items"]]
    assert scores == sorted(scores, reverse=True)

    keyword = client.post("/v1/search", json={"query": "Leitner", "mode": "keyword", "k": 3}).json()
    assert keyword["items"] and all(item["keyword_rank"] for item in keyword["items"])
    assert all("leitner" in item["text"].lower() for item in keyword["items"])
    vector = client.post(
        "/v1/search", json={"query": "memory decays over time", "mode": "vector", "k": 3}
    ).json()
    assert [item["vector_rank"] for item in vector["items"]] == [1, 2, 3]


def test_reingesting_the_same_content_does_nothing_and_a_change_replaces_chunks(
    client: ApiClient, stack: Stack
) -> None:
    first = ingest(client, "notes.md", b"# Notes\n\nInterleaving mixes topics in one session.\n")
    again = upload(client, [("notes.md", b"# Notes\n\nInterleaving mixes topics in one session.\n", None)])
    item = again["body"]["items"][0]
    assert item["action"] == "unchanged" and item["job"] is None and item["document"]["id"] == first["id"]
    changed = upload(
        client, [("notes.md", b"# Notes\n\nDesirable difficulties make learning stick.\n", None)]
    )
    assert changed["body"]["items"][0]["action"] == "replaced"
    final = wait_document(client, first["id"])
    assert final["status"] == "ready"
    chunks = client.get(f"/v1/documents/{first['id']}", params={"include": "chunks"}).json()["chunks"]
    assert [chunk["text"] for chunk in chunks] == ["Desirable difficulties make learning stick."]
    # The old generation is gone from the tables, not only hidden.
    rows = stack.sql("SELECT count(*) FROM chunks WHERE document_id = %s", first["id"])
    assert rows[0][0] == len(chunks)


def test_text_and_filters(client: ApiClient) -> None:
    response = client.post(
        "/v1/documents/text",
        json={
            "title": "Retrieval practice",
            "text": "# Retrieval\n\nTesting yourself beats rereading.",
            "tags": ["memory", "testing"],
            "resource_type": "tutorial",
            "level": "beginner",
            "collection": "tagged",
        },
    )
    assert response.status_code == 202, response.text
    document = wait_document(client, response.json()["document"]["id"])
    assert document["status"] == "ready" and document["tags"] == ["memory", "testing"]
    hits = client.post(
        "/v1/search",
        json={"query": "testing yourself", "filters": {"tags": ["memory"], "type": ["tutorial"]}},
    ).json()
    assert hits["items"] and all(item["document_id"] == document["id"] for item in hits["items"])
    none = client.post(
        "/v1/search", json={"query": "testing yourself", "filters": {"type": ["paper"]}}
    ).json()
    assert none["items"] == []
    only = client.post(
        "/v1/search", json={"query": "testing", "collections": ["tagged"], "mode": "keyword"}
    ).json()
    assert {item["collection"] for item in only["items"]} == {"tagged"}


def test_a_zip_becomes_one_document_per_member(client: ApiClient) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("course/one.md", "# One\n\nChunking groups items.")
        archive.writestr("course/two.srt", "1\n00:00:01,000 --> 00:00:03,000\nSleep consolidates memory.\n")
        archive.writestr("course/empty.txt", "")
    archive_doc = ingest(client, "course.zip", buffer.getvalue(), collection="zips")
    assert archive_doc["status"] == "ready" and archive_doc["format"] == "zip"
    children = [
        d
        for d in client.get("/v1/documents", params={"collection": "zips"}).json()["items"]
        if d["parent_id"]
    ]
    assert len(children) == 3
    finals = {d["filename"]: wait_document(client, d["id"]) for d in children}
    assert finals["one.md"]["status"] == "ready" and finals["two.srt"]["status"] == "ready"
    assert (
        finals["empty.txt"]["status"] == "failed" and finals["empty.txt"]["error"]["code"] == "empty_document"
    )


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage", "corrupt_document"),
        ("empty.md", b"", "empty_document"),
        ("latin1.txt", "caf\xe9 cr\xe8me".encode("latin-1"), "invalid_encoding"),
    ],
)
def test_bad_files_fail_their_own_job_with_a_code(
    client: ApiClient, name: str, data: bytes, code: str
) -> None:
    result = upload(client, [(name, data, None), ("fine.md", b"# Fine\n\nThis one is fine.", None)])
    assert result["status"] == 202
    bad, good = result["body"]["items"]
    bad_doc, good_doc = (
        wait_document(client, bad["document"]["id"]),
        wait_document(client, good["document"]["id"]),
    )
    assert bad_doc["status"] == "failed" and bad_doc["error"]["code"] == code
    assert good_doc["status"] == "ready"  # the rest of the batch is unaffected
    job = client.get(f"/v1/jobs/{bad['job']['id']}").json()
    assert job["status"] == "failed" and job["error"]["code"] == code


def test_unsupported_type_is_415_and_over_the_limit_is_413(client: ApiClient) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    result = upload(client, [("picture.png", png, "image/png")])
    assert result["status"] == 415 and result["body"]["code"] == "unsupported_type"
    mixed = upload(client, [("picture.png", png, "image/png"), ("ok.md", b"# Ok\n\nFine.", None)])
    assert mixed["status"] == 202
    assert [item["action"] for item in mixed["body"]["items"]] == ["rejected", "created"]
    huge = b"# Huge\n\n" + b"word " * 500_000  # 2.5 MB, over the test stack's 2 MB document limit
    too_large = upload(client, [("huge.md", huge, None)])
    assert too_large["status"] == 413 and too_large["body"]["code"] == "too_large"
    huge_text = client.post("/v1/documents/text", json={"title": "Huge", "text": huge.decode()})
    assert huge_text.status_code == 413 and huge_text.json()["code"] == "too_large"


def test_hostile_archives_fail_with_a_code(client: ApiClient) -> None:
    traversal = io.BytesIO()
    with zipfile.ZipFile(traversal, "w") as archive:
        archive.writestr("../evil.md", "# Evil")
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big.txt", b"a" * (60 * 1024 * 1024))  # over the 50 MiB member limit, 60 KB zipped
    for name, data, code in (
        ("t.zip", traversal.getvalue(), "archive_unsafe_path"),
        ("b.zip", bomb.getvalue(), "archive_too_large"),
    ):
        document = ingest(client, name, data)
        assert document["status"] == "failed" and document["error"]["code"] == code, document


def test_users_cannot_see_search_or_delete_each_others_documents(
    client: ApiClient, other_client: ApiClient
) -> None:
    mine = ingest(client, "private.md", b"# Private\n\nMnemonic palaces are vivid.", collection="secret")
    assert other_client.get(f"/v1/documents/{mine['id']}").status_code == 404
    assert other_client.delete(f"/v1/documents/{mine['id']}").status_code == 404
    assert mine["id"] not in [d["id"] for d in other_client.get("/v1/documents").json()["items"]]
    hits = other_client.post("/v1/search", json={"query": "mnemonic palaces", "mode": "keyword"}).json()
    assert mine["id"] not in [item["document_id"] for item in hits["items"]]
    assert (
        other_client.post("/v1/search", json={"query": "x", "collections": ["secret"]}).json()["code"]
        == "collection_not_found"
    )
    assert client.delete(f"/v1/documents/{mine['id']}").status_code == 204
    assert client.get(f"/v1/documents/{mine['id']}").status_code == 404


def test_shared_collections_are_read_by_all_and_written_by_admins(
    client: ApiClient, other_client: ApiClient, stack: Stack
) -> None:
    assert (
        client.post("/v1/collections", json={"name": "library", "shared": True}).json()["code"]
        == "admin_only"
    )
    make_admin(stack, client)
    created = client.post("/v1/collections", json={"name": "library-x", "shared": True})
    assert created.status_code == 201 and created.json()["shared"] is True
    shared = ingest(
        client,
        "guide.md",
        b"# Guide\n\nThe Leitner box system.",
        collection="library-x",
        resource_type="course",
    )
    assert shared["shared"] is True and shared["resource_type"] == "course"
    assert other_client.get(f"/v1/documents/{shared['id']}").status_code == 200
    hits = other_client.post("/v1/search", json={"query": "Leitner", "mode": "keyword"}).json()
    assert shared["id"] in [item["document_id"] for item in hits["items"]]
    refused = upload(other_client, [("mine.md", b"# Mine\n\nx", None)], collection="library-x")
    assert refused["status"] == 403 and refused["body"]["code"] == "collection_read_only"
    assert other_client.delete(f"/v1/documents/{shared['id']}").json()["code"] == "collection_read_only"


def test_search_validation(client: ApiClient) -> None:
    assert client.post("/v1/search", json={"query": "x", "k": 51}).status_code == 422
    assert client.post("/v1/search", json={"query": "x", "mode": "fuzzy"}).status_code == 422
    assert client.post("/v1/search", json={"query": ""}).status_code == 422


def test_keyword_search_takes_plain_questions_and_search_syntax(client: ApiClient) -> None:
    ingest(
        client,
        "review.md",
        b"# Reviews\n\nWait a day, then three days, then a week between reviews.",
        collection="syntax",
    )
    ingest(client, "other.md", b"# Other\n\nA week of sleep helps memory.", collection="syntax")
    ask = {"mode": "keyword", "collections": ["syntax"]}
    plain = client.post("/v1/search", json={"query": "how long should I wait between reviews?", **ask}).json()
    assert [item["document_title"] for item in plain["items"]][:1] == [
        "Reviews"
    ]  # any word matches, most words first
    phrase = client.post("/v1/search", json={"query": '"week of sleep"', **ask}).json()
    assert [item["document_title"] for item in phrase["items"]] == ["Other"]
    excluded = client.post("/v1/search", json={"query": "week -sleep", **ask}).json()
    assert [item["document_title"] for item in excluded["items"]] == ["Reviews"]
