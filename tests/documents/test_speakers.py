"""Who said it, in an ingested subtitle file with named speakers: the passages searches find and
answers cite carry their speakers, a search or a question can be limited to some, and a rename or
a merge reaches the passages, the citations and the answers cached before it. (A recording's
diarized speakers take the same path: tests/recordings/test_recording_ingest.py.)"""

from __future__ import annotations

from contextlib import closing

import pytest

from tests.ask.test_ask import ask
from tests.conftest import ApiClient
from tests.console.support import console_sign_in, csrf_token
from tests.documents.test_api import ingest
from tests.support.fake_ollama import FakeOllama
from tests.support.stack import Stack

LEE = [
    "Welcome to office hours. Today we look at how the hippocampus consolidates new memories.",
    "Consolidation happens mostly during deep sleep, when the hippocampus replays the day.",
    "The replay strengthens connections in the cortex, so the memory no longer needs the hippocampus.",
    "That is why a night of sleep after studying helps more than another hour of rereading.",
    "Researchers saw this replay in rats running mazes, and later in people learning word lists.",
    "So protect your sleep in the week before an exam; it is part of studying, not a break from it.",
]
SAM = [
    "I have a question about the replay you mentioned a moment ago.",
    "My guess was that the amygdala does the consolidation, because emotional days are remembered best.",
    "Is the amygdala involved at all, or is it only the hippocampus doing the work during sleep?",
    "And does a short afternoon nap count as the kind of sleep that consolidates memories?",
    "I usually nap for twenty minutes after lunch when I have studied in the morning.",
    "If naps count, I would rather nap than stay up late rereading my notes.",
]
LEE_AGAIN = [
    "Good questions. The amygdala tags emotional events so that they are replayed more often.",
    "But the hippocampus still does the replay itself; the amygdala only raises the priority.",
    "Naps help too when they include deep sleep, which takes about sixty to ninety minutes to reach.",
    "A twenty minute nap refreshes attention but rarely reaches the deep sleep that consolidates.",
]


def office_hours_vtt() -> bytes:
    cues = [("Dr. Lee", line) for line in LEE] + [("Sam", line) for line in SAM]
    cues += [("Dr. Lee", line) for line in LEE_AGAIN]
    blocks = ["WEBVTT"]
    for index, (speaker, line) in enumerate(cues):
        start = index * 6
        blocks.append(
            f"00:{start // 60:02d}:{start % 60:02d}.000 --> 00:{start // 60:02d}:{start % 60 + 5:02d}.500"
        )
        blocks[-1] += f"\n<v {speaker}>{line}</v>"
    return ("\n\n".join(blocks) + "\n").encode()


@pytest.fixture
def office_hours(client: ApiClient) -> dict:
    document = ingest(client, "office-hours.vtt", office_hours_vtt(), collection="office-hours")
    assert document["status"] == "ready", document["error"]
    return document


def search(client: ApiClient, query: str, **filters) -> list[dict]:
    body = {"query": query, "collections": ["office-hours"], "k": 10, "filters": filters}
    response = client.post("/v1/search", json=body)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_passages_carry_their_speakers_and_a_search_can_keep_to_some(client: ApiClient, office_hours: dict):
    speakers = client.get(f"/v1/documents/{office_hours['id']}/speakers").json()["items"]
    assert [s["name"] for s in speakers] == ["Dr. Lee", "Sam"]
    assert all(s["chunks"] >= 1 for s in speakers)
    everyone = search(client, "does the amygdala consolidate memories during sleep")
    assert {tuple(hit["speakers"]) for hit in everyone} >= {("Sam",), ("Dr. Lee",)}
    sams = search(client, "does the amygdala consolidate memories during sleep", speakers=["Sam"])
    assert sams and all("Sam" in hit["speakers"] for hit in sams)
    assert all(
        "amygdala" not in hit["text"] or "guess" in hit["text"] or "involved" in hit["text"] for hit in sams
    )
    assert search(client, "amygdala", speakers=["Nobody"]) == []
    # A filter is a list of plain names: markup or a control character is refused, not searched.
    bad = client.post("/v1/search", json={"query": "sleep", "filters": {"speakers": ["<v Sam>"]}})
    assert bad.status_code == 422


def test_an_answer_says_who_said_it_and_never_puts_a_guess_in_the_lecturers_mouth(
    client: ApiClient, office_hours: dict, fake_ollama: FakeOllama
):
    question = "Which part of the brain consolidates memories during sleep?"
    fake_ollama.script(
        question,
        "At 0:00, Dr. Lee says the hippocampus replays the day during deep sleep [1]. "
        "Dr. Lee says the amygdala does the consolidation, because emotional days are remembered best [2].",
    )
    output = ask(client, question, collections=["office-hours"], k=10)["output"]
    kept = [s["text"] for s in output["sentences"] if not s["unsupported"]]
    assert kept and all("amygdala does the consolidation" not in text for text in kept), output["sentences"]
    assert output["removed"].get("speaker") == 1, output["removed"]
    cited = {tuple(c["speakers"]) for c in output["citations"]}
    assert ("Dr. Lee",) in cited and all(c["time_range"] for c in output["citations"])

    only_sam = "Which part of the brain did the student guess consolidates memories?"
    fake_ollama.script(only_sam, "Sam guessed the amygdala does the consolidation [1].")
    answer = ask(client, only_sam, collections=["office-hours"], speakers=["Sam"])["output"]
    assert answer["grounded"] and {tuple(c["speakers"]) for c in answer["citations"]} == {("Sam",)}


def test_a_rename_and_a_merge_reach_passages_citations_and_cached_answers(
    client: ApiClient, other_client: ApiClient, office_hours: dict, fake_ollama: FakeOllama
):
    document_id = office_hours["id"]
    question = "How long does a nap take to reach deep sleep?"
    fake_ollama.script(question, "A nap takes about sixty to ninety minutes to reach deep sleep [1].")
    first = ask(client, question, collections=["office-hours"])
    assert first["output"]["cached"] is False
    assert ask(client, question, collections=["office-hours"])["output"]["cached"] is True

    renamed = client.post(
        f"/v1/documents/{document_id}/speakers/rename", json={"speaker": "Dr. Lee", "name": "Dr. Ana Lee"}
    )
    assert renamed.status_code == 200, renamed.text
    body = renamed.json()
    assert [s["name"] for s in body["items"]] == ["Dr. Ana Lee", "Sam"] and body["merged"] is False
    assert body["renamed_chunks"] >= 2 and body["renamed_cues"] == 0  # a subtitle file has no transcript row
    assert all("Dr. Lee" not in hit["speakers"] for hit in search(client, "deep sleep naps"))
    answer = client.get(f"/api/ask/{first['id']}")
    assert answer.status_code == 200, answer.text
    cited = answer.json()["citations"]
    assert cited and all(c["citation"]["speakers"] == ["Dr. Ana Lee"] for c in cited)
    # The cached answer was written under the old name: the rename dropped it.
    assert ask(client, question, collections=["office-hours"])["output"]["cached"] is False

    merged = client.post(
        f"/v1/documents/{document_id}/speakers/rename", json={"speaker": "Sam", "name": "Dr. Ana Lee"}
    )
    assert merged.status_code == 200 and merged.json()["merged"] is True
    assert [s["name"] for s in merged.json()["items"]] == ["Dr. Ana Lee"]
    assert all(hit["speakers"] == ["Dr. Ana Lee"] for hit in search(client, "amygdala nap"))

    missing = client.post(
        f"/v1/documents/{document_id}/speakers/rename", json={"speaker": "Sam", "name": "X"}
    )
    assert missing.status_code == 404 and missing.json()["code"] == "speaker_not_found"
    hostile = client.post(
        f"/v1/documents/{document_id}/speakers/rename",
        json={"speaker": "Dr. Ana Lee", "name": "Lee</v><v Evil"},
    )
    assert hostile.status_code == 422
    stranger = other_client.post(
        f"/v1/documents/{document_id}/speakers/rename", json={"speaker": "Dr. Ana Lee", "name": "X"}
    )
    assert stranger.status_code == 404


def test_an_admin_renames_a_speaker_on_the_consoles_speakers_page(
    stack: Stack, admin_client: ApiClient, client: ApiClient, office_hours: dict
):
    """Another user's private recording: the admin's console page lists its speakers and renames one."""
    document_id = office_hours["id"]
    signed_in = console_sign_in(stack, admin_client)
    with closing(signed_in.client) as console:
        collection_id = stack.sql("SELECT collection_id FROM documents WHERE id = %s", document_id)[0][0]
        library = console.get(f"/admin/library/{collection_id}")
        assert f"/admin/library/documents/{document_id}/speakers" in library.text
        page = console.get(f"/admin/library/documents/{document_id}/speakers")
        assert page.status_code == 200 and "Dr. Lee" in page.text and "Sam" in page.text
        token = csrf_token(console, "/admin")
        path = f"/admin/library/documents/{document_id}/speakers/rename"
        done = console.post(path, data={"csrf_token": token, "speaker": "Sam", "name": "Samira Okafor"})
        assert done.status_code == 303 and done.headers["location"].endswith("notice=renamed")
        refused = console.post(path, data={"csrf_token": token, "speaker": "Nobody", "name": "X"})
        assert refused.status_code == 404 and "speaker_not_found" in refused.text
        forged = console.post(path, data={"speaker": "Samira Okafor", "name": "Y"})
        assert forged.status_code == 403
    names = [s["name"] for s in client.get(f"/v1/documents/{document_id}/speakers").json()["items"]]
    assert names == ["Dr. Lee", "Samira Okafor"]
