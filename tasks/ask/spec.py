"""The `ask` kind: a question answered from the library with inline citations, each checked in code
(tasks/ask/grounded_answer.py), and reused from the answer cache when nothing that decided it changed."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core import lanes
from core.jobspec import JobSpec
from core.recordings import SpeakerName

MAX_QUESTION_CHARS = 2000


class AskInput(BaseModel):
    """Created by POST /api/ask (the collections resolved to ids there)."""

    model_config = ConfigDict(extra="forbid")

    user_id: uuid.UUID
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    collection_ids: list[uuid.UUID]
    k: int = Field(5, ge=1, le=10)
    speakers: list[SpeakerName] = Field(default_factory=list, max_length=16)


class TimeRange(BaseModel):
    start_s: float
    end_s: float


class Citation(BaseModel):
    marker: int
    chunk_id: int = Field(description="stable: resolves after re-ingestion, or says the chunk is gone")
    document_id: uuid.UUID
    title: str
    quote: str
    page: int | None = None
    time_range: TimeRange | None = None
    url: str | None = None
    support: float | None = Field(None, description="cosine similarity of the citing sentence and the quote")
    attributed_by: Literal["model", "checker"] = "model"
    speakers: list[str] = Field(default_factory=list, description="who speaks in the cited passage")


class AnswerSentence(BaseModel):
    text: str
    markers: list[int]
    support: float | None = Field(description="the support model's probability that its passages state it")
    unsupported: bool
    disagrees: str | None = Field(None, description="why it was removed (a kept sentence: none)")


class SentenceVerdict(BaseModel):
    """What the checks decided about one sentence of the model's draft, kept or not."""

    text: str
    start: int = Field(description="where the sentence starts in `draft` (characters)")
    end: int = Field(description="where it ends in `draft`, its citation markers included")
    kind: Literal["claim", "question", "refusal", "connective", "fragment"] = Field(
        description="only a claim is judged; a question, a refusal or a connective is kept as it is; "
        "a fragment of code, markup or JSON is removed"
    )
    kept: bool
    reason: str | None = Field(
        None, description="why it was removed: unsupported, number, fragment or speaker"
    )
    score: float | None = Field(None, description="the support model's probability (claims only)")
    chunk_ids: list[int] = Field(default_factory=list, description="the passages it rests on (kept claims)")


class CheckedAnswer(BaseModel):
    """What ask and tutor answers share: the answer after the citation checks."""

    answer: str
    citations: list[Citation]
    sentences: list[AnswerSentence]
    grounded: bool
    withheld: str | None = Field(None, description="why the model's own answer was not passed on")
    unsupported_sentences: int = Field(
        description="sentences no passage supported: removed from the answer (never shown, never cached)"
    )
    removed: dict[str, int] = Field(
        default_factory=dict,
        description="the removed sentences counted by why: unsupported, number, fragment, speaker",
    )
    dropped_markers: int = Field(description="markers to passages the model was not given")
    citations_corrected: int
    draft: str = Field("", description="the model's text as checked (markup removed)")
    verdicts: list[SentenceVerdict] = Field(
        default_factory=list, description="every sentence of `draft`, kept or removed, and why"
    )
    retrieved: int
    model: str | None
    instructions_version: int | None


class AskOutput(CheckedAnswer):
    question: str
    cached: bool
    cached_from_job_id: uuid.UUID | None = None
    cache_match: Literal["exact", "semantic"] | None = None
    timings_ms: dict[str, float] = Field(
        default_factory=dict, description="search, llm and check, this job's"
    )


SPEC = JobSpec(
    name="ask",
    instructed=True,
    description="Answer a question from the library with checked citations (/api/ask).",
    input_model=AskInput,
    output_model=AskOutput,
    queue=lanes.LLM,
    soft_time_limit=300,
    time_limit=330,
    internal=True,
)
