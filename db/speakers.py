"""A document's speakers (a recording's transcript, an ingested subtitle file's): who speaks, and a
rename or merge of one of them that reaches everything that shows them. Speakers are stored where
they are read, as the names shown (chunks.speakers for searches and citations, the transcript's
cues for the transcript and its files), so a rename rewrites each in one transaction of the
document's live generation and bumps its collection's content version (answers cached before the
rename said the old name)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Chunk, Document, Transcript


@dataclass(frozen=True)
class SpeakerSummary:
    name: str
    cues: int  # the transcript's cues it speaks (0 where only chunks name it: an ingested file's)
    speaking_s: float  # the length of those cues
    chunks: int


async def speakers_of(session: AsyncSession, *, document: Document) -> list[SpeakerSummary]:
    """The live generation's speakers, in order of first speech."""
    rows = await session.execute(
        select(Chunk.speakers)
        .where(Chunk.document_id == document.id, Chunk.generation == document.active_generation)
        .order_by(Chunk.position)
    )
    chunks: dict[str, int] = {}
    for (speakers,) in rows:
        for name in speakers or []:
            chunks[name] = chunks.get(name, 0) + 1
    cues: dict[str, int] = {}
    seconds: dict[str, float] = {}
    transcript = await session.get(Transcript, (document.id, document.active_generation))
    for segment in transcript.segments if transcript is not None else []:
        name = segment.get("speaker")
        if name:
            cues[name] = cues.get(name, 0) + 1
            seconds[name] = seconds.get(name, 0.0) + max(0.0, segment["end_s"] - segment["start_s"])
    order = list(dict.fromkeys([*cues, *chunks]))
    return [
        SpeakerSummary(name, cues.get(name, 0), round(seconds.get(name, 0.0), 3), chunks.get(name, 0))
        for name in order
    ]


@dataclass(frozen=True)
class Renamed:
    cues: int
    chunks: int
    merged: bool  # the new name was already a speaker's: the two are one now


async def rename_speaker(session: AsyncSession, *, document: Document, old: str, new: str) -> Renamed:
    """`old` becomes `new` in the live generation's cues and chunks (a merge when `new` speaks
    already). The document row is locked first, so a rename and a new generation's activation
    are one after the other: the rename never writes to a generation that just stopped being live.
    The caller commits."""
    locked = await session.execute(
        select(Document.active_generation, Document.collection_id)
        .where(Document.id == document.id)
        .with_for_update()
    )
    generation, collection_id = locked.one()
    existing = {summary.name for summary in await speakers_of(session, document=document)}
    merged = new in existing and new != old
    renamed_chunks = 0
    chunk_rows = await session.execute(
        select(Chunk.id, Chunk.speakers).where(
            Chunk.document_id == document.id, Chunk.generation == generation, Chunk.speakers.any(old)
        )
    )
    for chunk_id, speakers in chunk_rows.all():
        renamed = list(dict.fromkeys(new if name == old else name for name in speakers))
        await session.execute(update(Chunk).where(Chunk.id == chunk_id).values(speakers=renamed))
        renamed_chunks += 1
    renamed_cues = 0
    transcript = await session.get(Transcript, (document.id, generation), with_for_update=True)
    if transcript is not None:
        segments = []
        for segment in transcript.segments:
            if segment.get("speaker") == old:
                segment = {**segment, "speaker": new}
                renamed_cues += 1
            segments.append(segment)
        if renamed_cues:
            transcript.segments = segments
    if renamed_chunks or renamed_cues:
        await _content_changed(session, collection_id=collection_id)
    return Renamed(cues=renamed_cues, chunks=renamed_chunks, merged=merged)


async def _content_changed(session: AsyncSession, *, collection_id: uuid.UUID) -> None:
    # As the documents' content-version trigger does for a new generation (migration
    # 2026_11_23_assistant): the collection's answers said the old name.
    await session.execute(
        text(
            """
            INSERT INTO collection_content_versions (collection_id, version) VALUES (:id, 1)
            ON CONFLICT (collection_id) DO UPDATE SET version = collection_content_versions.version + 1
            """
        ),
        {"id": collection_id},
    )
    dropped = text("DELETE FROM answer_cache WHERE collection_ids @> ARRAY[CAST(:id AS uuid)]")
    await session.execute(dropped, {"id": collection_id})
