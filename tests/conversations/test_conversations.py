"""Tutor conversations on the real stack: two turns, the second seeing the first, replies stored
with their citations and replayed after a reload, another user's conversation hidden."""

from __future__ import annotations

import json
import uuid

from db.models import ConversationMessage
from tasks.tutor.history import history
from tests.ask.test_ask import library
from tests.conftest import ApiClient
from tests.profiles.support import wait_job
from tests.support.fake_ollama import FakeOllama


def say(client: ApiClient, conversation_id: str, content: str) -> dict:
    response = client.post(f"/api/conversations/{conversation_id}/messages", json={"content": content})
    assert response.status_code == 202, response.text
    job = wait_job(client, response.json()["id"])
    assert job["status"] == "succeeded", job["error"]
    return job


def test_a_two_turn_conversation_is_remembered_and_replayed(client: ApiClient, fake_ollama: FakeOllama):
    _, word, document_id = library(client)
    created = client.post("/api/conversations", json={})
    assert created.status_code == 201
    conversation = created.json()["id"]
    first_question = f"What is {word}?"
    follow_up = "And how long does one session last?"
    # The follow-up's prompt holds the first question too: its script must be found first.
    fake_ollama.script(follow_up, f"A {word} session lasts twenty minutes [2].")
    fake_ollama.script(
        first_question, f"{word.title()} is a study method where learners explain each idea aloud [1]."
    )
    first = say(client, conversation, first_question)
    assert first["kind"] == "tutor" and first["output"]["grounded"] is True
    assert first["instructions_version"] >= 1

    second = say(client, conversation, follow_up)
    assert second["output"]["turns_seen"] == 2
    chat = [b for p, b in fake_ollama.bodies if p == "/api/chat" and follow_up in json.dumps(b)][-1]
    roles = [m["role"] for m in chat["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert chat["messages"][1]["content"] == first_question and "[1]" not in chat["messages"][2]["content"]
    assert "learner" in json.loads(
        chat["messages"][-1]["content"].removeprefix("<data>\n").removesuffix("\n</data>")
    )

    replay = client.get(f"/api/conversations/{conversation}").json()
    assert [m["role"] for m in replay["messages"]] == ["user", "assistant", "user", "assistant"]
    assert replay["title"] == first_question and replay["pending_job_id"] is None
    reply = replay["messages"][3]
    assert reply["grounded"] is True and reply["job_id"] == second["id"]
    assert reply["citations"][0]["status"] == "current"
    assert reply["citations"][0]["citation"]["document_id"] == document_id
    assert "twenty minutes" in reply["citations"][0]["citation"]["quote"]
    listed = client.get("/api/conversations").json()["items"]
    assert listed[0]["id"] == conversation


def test_another_users_conversation_is_not_found(client: ApiClient, other_client: ApiClient):
    conversation = client.post("/api/conversations", json={"title": "mine"}).json()["id"]
    assert other_client.get(f"/api/conversations/{conversation}").status_code == 404
    posted = other_client.post(f"/api/conversations/{conversation}/messages", json={"content": "hello there"})
    assert posted.status_code == 404 and posted.json()["code"] == "conversation_not_found"
    assert client.get(f"/api/conversations/{uuid.uuid4()}").status_code == 404
    empty = client.post(f"/api/conversations/{conversation}/messages", json={"content": " "})
    assert empty.status_code == 422 and empty.json()["code"] == "question_empty"


def turn(role: str, content: str) -> ConversationMessage:
    return ConversationMessage(role=role, content=content)


def test_history_keeps_recent_turns_in_full_and_summarises_older_ones():
    turns = [
        turn("user", "What is spaced repetition? I keep forgetting."),
        turn("assistant", "Spaced repetition reviews material at growing intervals [1]. It beats cramming."),
        turn("user", "How often should I review?"),
        turn("assistant", "After one day, then three days, then a week [2]."),
    ]
    whole = history(turns, budget_tokens=1000)
    assert whole.summary is None and len(whole.recent) == 4 and "[1]" not in whole.recent[1]["content"]
    cut = history(turns, budget_tokens=25)
    assert [m["content"] for m in cut.recent] == [
        "How often should I review?",
        "After one day, then three days, then a week.",
    ]
    assert cut.summarised == 2
    assert cut.summary == (
        "learner: What is spaced repetition?\ntutor: Spaced repetition reviews material at growing intervals."
    )
    assert history([], budget_tokens=10).recent == []
