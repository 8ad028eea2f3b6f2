"""The extractive style (tasks/ask/extractive.py): the embedded model can only pick passage
sentences, which reach the answer verbatim with their markers; code, markup and questions are never
offered; an id it was not offered is refused."""

from __future__ import annotations

import json
import uuid

import pytest

from core.settings import get_settings
from tasks.ask import extractive
from tasks.ask.grounded_answer import Passage, prose_sentences, split_sentences
from workers.llm.base import ChatResult, LLMInvalidOutput, generation_style
from workers.retrieval import Retrieved

FORGETTING = (
    "The forgetting curve shows how memories fade. Without review, about half of new material is "
    "forgotten within a day. Why do we forget? document.write('<b>review</b>'); Reviewing at "
    "growing intervals keeps it."
)
COOKING = "Pasta cooks in salted boiling water. Drain it when it is al dente."


def passage(label: int, text: str) -> Passage:
    return Passage(label, Retrieved(label, uuid.uuid4(), f"doc {label}", text, "library", 0.5))


def test_sentences_are_read_across_wrapped_lines_and_list_items_stay_apart():
    markdown = (
        "## Why spacing works\n\nMemories fade along a forgetting curve: steeply at first, then more\n"
        "slowly. Every review flattens it.\n\n- Review after one day.\n- Then after three days.\n"
    )
    assert prose_sentences(markdown) == [
        "## Why spacing works",
        "Memories fade along a forgetting curve: steeply at first, then more slowly.",
        "Every review flattens it.",
        "Review after one day.",
        "Then after three days.",
    ]
    # A recognizer's transcript has no punctuation: a long run keeps its cues' lines.
    cues = "\n".join(["welcome to the lecture on the testing effect when you test yourself"] * 5)
    assert prose_sentences(cues) == cues.splitlines()


class Picking:
    """A provider that answers each structured call with the next scripted JSON."""

    name = "local"

    def __init__(self, *answers: dict) -> None:
        self.answers = [json.dumps(answer) for answer in answers]
        self.schemas: list[dict] = []

    def chat(self, messages, *, model=None, json_schema=None, options=None, on_token=None):
        self.schemas.append(json_schema)
        return ChatResult(self.answers.pop(0), "SmolLM2-135M-Instruct", "local", 10, 5)


@pytest.fixture
def model() -> str:
    return get_settings().embed_model


def test_offered_sentences_are_prose_ranked_by_likeness_to_the_question(model):
    offered = extractive.candidates(
        "How fast do we forget new material?", [passage(1, COOKING), passage(2, FORGETTING)], model=model
    )
    texts = [c.text for c in offered]
    assert texts[0] == "Without review, about half of new material is forgotten within a day."
    assert offered[0].label == 2 and [c.id for c in offered] == [f"S{n}" for n in range(1, len(offered) + 1)]
    assert not any("?" in t or "document.write" in t for t in texts)  # a question, code: never offered
    assert [c.similarity for c in offered] == sorted((c.similarity for c in offered), reverse=True)


def test_the_answer_is_the_chosen_sentences_verbatim_with_their_markers(model):
    passages = [passage(1, COOKING), passage(2, FORGETTING)]
    provider = Picking({"quotes": ["S1", "S1", "S2"]})
    streamed: list[str] = []
    result = extractive.quote(
        provider, "How fast do we forget new material?", passages, embed_model=model, on_token=streamed.append
    )

    offered = provider.schemas[0]["properties"]["quotes"]["items"]["enum"]
    assert offered[:2] == ["S1", "S2"] and provider.schemas[0]["properties"]["quotes"]["minItems"] == 1
    sentences = split_sentences(result.text)
    assert sentences[0] == ("Without review, about half of new material is forgotten within a day.", [2])
    assert len(sentences) == 2  # the repeated pick once
    assert streamed == [result.text]  # the composed answer, not the model's JSON


def test_an_id_that_was_not_offered_is_refused_after_one_correction(model):
    provider = Picking({"quotes": ["S99"]}, {"quotes": ["document.write"]})
    with pytest.raises(LLMInvalidOutput, match="not ids of the sentences shown"):
        extractive.quote(provider, "forgetting?", [passage(1, FORGETTING)], embed_model=model, on_token=print)


def test_auto_quotes_on_the_embedded_model_only(monkeypatch):
    assert generation_style(Picking()) == "extractive"
    ollama = type("Ollama", (), {"name": "ollama"})()
    assert generation_style(ollama) == "written"
    monkeypatch.setenv("MENTORQ_GENERATION_STYLE", "extractive")
    get_settings.cache_clear()
    try:
        assert generation_style(ollama) == "extractive"
    finally:
        get_settings.cache_clear()
