"""Resource suggestions on the real stack: real documents, real hybrid search, the model's picks
scripted through the fake Ollama server, and every pick checked against what the search returned."""

from __future__ import annotations

import json
import uuid

from tests.conftest import ApiClient
from tests.documents.test_api import ingest
from tests.profiles.support import wait_job
from tests.support.fake_ollama import FakeOllama


def suggest(client: ApiClient, **body) -> dict:
    response = client.post("/api/learning/resources", json=body)
    assert response.status_code == 202, response.text
    job = wait_job(client, response.json()["id"])
    assert job["status"] == "succeeded", job["error"]
    return job["output"]


def test_picks_are_checked_deduplicated_and_topped_up(client: ApiClient, fake_ollama: FakeOllama):
    word = f"zorbulation{uuid.uuid4().hex[:6]}"
    collection = f"res-{uuid.uuid4().hex[:6]}"
    docs = {}
    for angle in ["basics", "worked examples", "common mistakes", "history"]:
        document = ingest(
            client,
            f"{angle.replace(' ', '-')}.md",
            f"# {word.title()} {angle}\n\nThis note covers {word} {angle} in depth, step by step.\n".encode(),
            collection=collection,
        )
        assert document["status"] == "ready", document["error"]
        docs[document["id"]] = document
    ids = list(docs)
    # The learner's weakest skill must reach the prompt (the model is told what to do with it).
    client.post(
        "/api/profiles/progress", json={"completed_task": "quiz", "skills": ["recursion"], "score": 0.1}
    )
    chunk_of = {
        doc_id: client.post("/v1/search", json={"query": word, "collections": [collection], "k": 10}).json()
        for doc_id in ids[:1]
    }
    first_chunk = next(
        item["chunk_id"] for item in chunk_of[ids[0]]["items"] if item["document_id"] == ids[0]
    )
    other_chunk = next(
        item["chunk_id"] for item in chunk_of[ids[0]]["items"] if item["document_id"] != ids[0]
    )
    fake_ollama.script(
        word,
        json.dumps(
            {
                "resources": [
                    # Cites one of its own chunks and one of another document's: the second goes.
                    {
                        "document_id": ids[0],
                        "level": "beginner",
                        "why": "Starts from zero, for a beginner.",
                        "cited_chunk_ids": [first_chunk, other_chunk],
                    },
                    {"document_id": ids[0], "level": "beginner", "why": "Again!", "cited_chunk_ids": []},
                    # Picked but left unexplained (a small model does): kept, explained by code.
                    {"document_id": ids[1], "level": None, "why": "", "cited_chunk_ids": []},
                    {
                        "document_id": str(uuid.uuid4()),
                        "level": None,
                        "why": "Invented.",
                        "cited_chunk_ids": [],
                    },
                ]
            }
        ),
    )
    output = suggest(client, query=f"{word} for beginners", k=3)
    resources = output["resources"]
    assert len(resources) == 3 and len({r["document_id"] for r in resources}) == 3
    assert {r["document_id"] for r in resources} <= set(ids)
    assert resources[0] == {
        "document_id": ids[0],
        "title": docs[ids[0]]["title"],
        "url": None,
        "resource_type": resources[0]["resource_type"],
        "level": "beginner",
        "why": "Starts from zero, for a beginner.",
        "cited_chunk_ids": [first_chunk],
        "explained_by_model": True,
    }
    assert [r["explained_by_model"] for r in resources] == [True, False, False]
    assert resources[1]["document_id"] == ids[1] and docs[ids[1]]["title"] in resources[1]["why"]
    assert (output["dropped_invented"], output["duplicates_replaced"], output["dropped_citations"]) == (
        1,
        1,
        1,
    )
    assert output["shortfall"] is None and output["relevant_documents"] == 4
    # The resources prompt, told apart by its contract in the system message. The learner's insight
    # job (queued by the progress event) also searches the library, can find these documents and
    # may run after this job, so the last prompt naming the word is not always this one.
    prompt = next(
        body["messages"][-1]["content"]
        for path, body in reversed(fake_ollama.bodies)
        if path == "/api/chat"
        and word in json.dumps(body)
        and "You recommend study resources" in body["messages"][0]["content"]
    )
    data = json.loads(prompt.removeprefix("<data>").removesuffix("</data>"))
    assert data["learner"]["weakest_skills"] == ["recursion"]


def test_a_thin_library_is_a_shortfall_not_an_invention(client: ApiClient, fake_ollama: FakeOllama):
    word = f"quillotrope{uuid.uuid4().hex[:6]}"
    only = ingest(client, "only.md", f"# {word}\n\nThe one note about {word}.\n".encode(), collection="thin")
    fake_ollama.script(
        word,
        json.dumps(
            {"resources": [{"document_id": str(uuid.uuid4()), "why": "Made up.", "cited_chunk_ids": []}]}
        ),
    )
    output = suggest(client, query=word)
    assert [r["document_id"] for r in output["resources"]] == [only["id"]]
    assert output["dropped_invented"] == 1 and "1 document" in output["shortfall"]


def test_nothing_relevant_means_no_resources_and_no_model_call(client: ApiClient, fake_ollama: FakeOllama):
    before = fake_ollama.requests["/api/chat"]
    output = suggest(client, query=f"xyzzyplugh{uuid.uuid4().hex[:6]} frobnicated")
    assert output["resources"] == [] and output["relevant_documents"] == 0 and output["shortfall"]
    assert fake_ollama.requests["/api/chat"] == before


def test_a_library_too_long_for_the_models_context_is_shown_smaller(
    client: ApiClient, fake_ollama: FakeOllama
) -> None:
    """A small model's context (2,048 tokens for the local one) that the whole library overflows:
    the job shows one passage a document, then as many documents as slots, instead of failing."""
    word = f"quillium{uuid.uuid4().hex[:6]}"
    collection = f"res-{uuid.uuid4().hex[:6]}"
    filler = " ".join(f"{word} detail {n} is worth a careful second look." for n in range(40))
    ids = []
    for angle in ["basics", "practice", "pitfalls", "history", "theory", "tools"]:
        document = ingest(
            client,
            f"{angle}.md",
            f"# {word.title()} {angle}\n\n{filler}\n\n## More\n\n{filler}\n".encode(),
            collection=collection,
        )
        assert document["status"] == "ready", document["error"]
        ids.append(document["id"])

    def prompt_words(body: dict) -> int:
        return sum(len(message["content"].split()) for message in body["messages"])

    # Find the size of the full prompt, then allow a little more than the smallest library needs.
    fake_ollama.context_words = 1  # every prompt is refused: the job fails, each shape was tried
    response = client.post("/api/learning/resources", json={"query": f"{word} basics", "k": 3})
    failed = wait_job(client, response.json()["id"])
    assert failed["status"] == "failed" and failed["error"]["code"] == "context_too_long"
    sizes = [
        prompt_words(body)
        for path, body in fake_ollama.bodies
        if path == "/api/chat" and word in str(body) and '"library"' in body["messages"][-1]["content"]
    ]
    assert len(sizes) == 3 and sizes[0] > sizes[1] > sizes[2], sizes

    fake_ollama.context_words = sizes[2]
    fake_ollama.script(
        word,
        json.dumps(
            {
                "resources": [
                    {"document_id": ids[0], "level": None, "why": "Basics first.", "cited_chunk_ids": []}
                ]
            }
        ),
    )
    output = suggest(client, query=f"{word} basics", k=3)
    assert len(output["resources"]) == 3
    assert {r["document_id"] for r in output["resources"]} <= set(ids)
