"""Documents and collections: upload, fetch, list, delete, re-ingest; the Library page."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from api.jobs.schemas import ErrorRead, JobRead
from core.recordings import SpeakerCount, SpeakerName

ResourceType = Literal["paper", "tutorial", "course", "video"]
Level = Literal["beginner", "intermediate", "advanced"]


class DocumentMeta(BaseModel):
    """What a client may say about a document it submits."""

    model_config = ConfigDict(extra="forbid")

    collection: str = Field("default", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    title: str | None = Field(None, max_length=500)
    tags: list[str] = Field(default_factory=list, max_length=32)
    resource_type: ResourceType | None = None
    level: Level | None = None
    speakers: SpeakerCount | None = Field(
        None,
        description=(
            "a recording's number of speakers, when the uploader knows it (a call between two "
            "people): the diarizer gives that many; unset, it finds how many"
        ),
    )


class DocumentFromUrl(DocumentMeta):
    url: AnyHttpUrl


class DocumentFromText(DocumentMeta):
    title: str = Field(min_length=1, max_length=500)
    text: str = Field(min_length=1)
    format: Literal["text", "markdown", "html"] = "markdown"


class ChunkRead(BaseModel):
    id: int
    position: int
    text: str
    heading_path: list[str]
    start_s: float | None
    end_s: float | None
    page: int | None
    token_count: int
    speakers: list[str] = Field(description="who speaks in it (a transcript's), in order of first speech")


class TranscriptWord(BaseModel):
    word: str
    start_s: float
    end_s: float


class TranscriptSegmentRead(BaseModel):
    start_s: float
    end_s: float
    text: str
    words: list[TranscriptWord] = []
    speaker: str | None = Field(
        None, description="who says it: S1, S2, ... in order of first speech (diarization), or a name"
    )


class TranscriptRead(BaseModel):
    """A recording's transcript: cues with their times (seconds from the start), words with theirs
    where the engine gives them. Also as `.vtt` and `.srt`."""

    document_id: uuid.UUID
    title: str | None
    engine: str
    language: str | None
    duration_s: float
    segments: list[TranscriptSegmentRead]


class SpeakerRead(BaseModel):
    name: str = Field(description="S1, S2, ... as diarization found them, or a name")
    cues: int = Field(description="the transcript's cues this speaker speaks")
    speaking_s: float
    chunks: int = Field(description="searchable passages this speaker speaks in")


class SpeakerList(BaseModel):
    """A document's speakers (a recording's, or an ingested subtitle file's), in order of first speech."""

    document_id: uuid.UUID
    items: list[SpeakerRead]


class SpeakerRename(BaseModel):
    model_config = ConfigDict(extra="forbid")

    speaker: SpeakerName = Field(description="the speaker as the transcript names it now")
    name: SpeakerName = Field(description="the new name; another speaker's name merges the two")


class SpeakerRenamed(SpeakerList):
    renamed_cues: int
    renamed_chunks: int
    merged: bool


class DocumentRead(BaseModel):
    id: uuid.UUID
    collection: str
    shared: bool
    title: str | None
    source_url: str | None
    filename: str | None
    format: str | None
    tags: list[str]
    resource_type: str | None
    level: str | None
    status: Literal["pending", "processing", "ready", "failed"]
    error: dict[str, Any] | None
    chunk_count: int
    byte_size: int | None
    content_hash: str | None
    parent_id: uuid.UUID | None
    ingest_job_id: uuid.UUID | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    chunks: list[ChunkRead] | None = None


class SubmittedDocument(BaseModel):
    """One item of a submission: the document and its ingest job, or why it was refused."""

    filename: str | None = None
    action: Literal["created", "replaced", "unchanged", "rejected"]
    document: DocumentRead | None = None
    job: JobRead | None = None
    error: ErrorRead | None = None


class SubmittedDocuments(BaseModel):
    items: list[SubmittedDocument]


class DocumentList(BaseModel):
    items: list[DocumentRead]
    next_cursor: str | None = None


class CollectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str | None = Field(None, max_length=2000)
    shared: bool = Field(False, description="a shared library every user reads; admins only")


class CollectionRead(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    shared: bool = Field(description="a library every user reads (neither a user's nor a course's)")
    course_id: uuid.UUID | None = Field(
        None, description="the LTI course whose members alone read it (GET /v1/lti/courses)"
    )
    writable: bool
    created_at: datetime


class CollectionList(BaseModel):
    items: list[CollectionRead]
