"""The `ingest` kind: parse and chunk on a CPU worker, then embed on a GPU worker, then flip.

Stage one writes the new chunks as the document's next generation; stage two embeds them in
batches and, in one transaction, makes that generation the searchable one and drops the old.
A recording goes from stage one to `transcribe` (its own lane), which writes the transcript and
its chunks as the next generation, then to `embed`. Every stage is safe to re-run after a crash:
chunks and the transcript of a generation are rewritten whole, and vectors already stored are kept.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from typing import Any

from sqlalchemy import func, select

from core.catalog import embed_dim
from core.recordings import MAX_SPEAKERS, SPEAKERS_KEY
from core.settings import get_settings
from db import documents, embeddings
from db.jobs import create_job
from db.models import Chunk, Document
from db.unit_of_work import unit_of_work
from tasks.ingest.spec import SPEC, IngestInput, IngestOutput
from workers.documents import (
    MINILM_OVERLAP_TOKENS,
    MINILM_TARGET_TOKENS,
    DocumentError,
    chunk_document,
    detect_format,
    iter_archive,
    parse_document,
)
from workers.documents.fetch import fetch_with_settings
from workers.documents.model import ParsedDocument
from workers.embeddings import get_embedding_provider
from workers.embeddings.index import ensure_index_once
from workers.errors import JobFailure, NextStage
from workers.recordings import (
    enrolled_voices,
    speaker_diarizer,
    speech_engine,
    transcribe,
    transcript_document,
    transcript_row,
)
from workers.runtime import JobContext, job_task

log = logging.getLogger(__name__)


@job_task(SPEC)
def parse_and_chunk(ctx: JobContext, payload: IngestInput) -> IngestOutput | NextStage:
    """Stage one (cpu): fetch if needed, detect, unpack archives, parse, chunk, store the next generation."""
    document_id = payload.document_id
    with unit_of_work() as session:
        loaded = documents.load_for_ingest(session, document_id=document_id)
        if loaded is None:
            raise JobFailure("document_not_found", "the document was deleted before it could be ingested")
        document, content = loaded
        documents.set_document_status(session, document_id=document_id, status="processing")
    try:
        content_type, filename = document.content_type, document.filename
        if content is None:
            ctx.progress("fetching", None, document.source_url)
            content, content_type, filename = _fetch(document)
            if _same_as_searchable(document, content):
                with unit_of_work() as session:
                    documents.set_document_status(session, document_id=document_id, status="ready")
                return IngestOutput(
                    document_id=document_id,
                    format=document.format,
                    title=document.title,
                    chunks=document.chunk_count,
                )
        ctx.progress("parsing")
        kind = detect_format(filename, content_type, content[:8192])
        if kind == "zip":
            return _expand_archive(ctx, document, content)
        if kind == "recording":
            return NextStage("transcribe", "a recording: waiting for a transcription worker")
        parsed = parse_document(content, filename=filename, content_type=content_type)
        ctx.progress("chunking")
        chunks = chunk_document(
            parsed, target_tokens=MINILM_TARGET_TOKENS, overlap_tokens=MINILM_OVERLAP_TOKENS
        )
    except DocumentError as error:
        _fail_document(document_id, error.code, error.message)
        raise JobFailure(error.code, error.message) from error

    count = _store_next_generation(document, parsed, chunks, title=document.title or parsed.title or filename)
    return NextStage("embed", f"{count} chunks waiting for an embed worker")


@job_task(SPEC, stage="transcribe")
def transcribe_recording(ctx: JobContext, payload: IngestInput) -> NextStage:
    """The transcribe stage (its own lane): the recording's transcript, its chunks with their time
    ranges as the next generation (as for SRT), then on to `embed`."""
    settings = get_settings()
    document_id = payload.document_id
    with unit_of_work() as session:
        loaded = documents.load_for_ingest(session, document_id=document_id)
    if loaded is None:
        raise JobFailure("document_not_found", "the document was deleted before it could be transcribed")
    document, content = loaded
    try:
        if content is None:  # from a URL: stage one does not keep the bytes, so they are fetched again
            content, _, _ = _fetch(document)

        def progress(done_s: float, total_s: float | None) -> None:
            share = min(done_s / total_s, 1.0) if total_s else None
            heard = f"{done_s:.0f} of {total_s:.0f} s" if total_s else f"{done_s:.0f} s"
            ctx.progress("transcribing", share, f"{heard} of audio")

        ctx.progress("transcribing", 0.0, f"with {settings.asr_engine}")
        transcript = transcribe(
            content,
            engine=speech_engine(settings),
            max_seconds=settings.max_audio_seconds,
            on_progress=progress,
            diarizer=speaker_diarizer(settings),
            voices=enrolled_voices(settings, collection_id=document.collection_id),
            speaker_count=_speaker_count(document),
        )
    except DocumentError as error:
        _fail_document(document_id, error.code, error.message)
        raise JobFailure(error.code, error.message) from error
    parsed = transcript_document(transcript)
    ctx.progress("chunking")
    chunks = chunk_document(parsed, target_tokens=MINILM_TARGET_TOKENS, overlap_tokens=MINILM_OVERLAP_TOKENS)
    count = _store_next_generation(
        document,
        parsed,
        chunks,
        title=document.title or document.filename,
        transcript=transcript_row(transcript),
    )
    return NextStage("embed", f"{count} chunks of transcript waiting for an embed worker")


def _store_next_generation(
    document: Document,
    parsed: ParsedDocument,
    chunks: list[Any],
    *,
    title: str | None,
    transcript: dict[str, Any] | None = None,
) -> int:
    """Write the chunks (and a recording's transcript) as the document's next generation."""
    generation = document.active_generation + 1
    rows = [
        {
            "position": chunk.position,
            "text": chunk.text,
            "heading_path": chunk.heading_path,
            "start_s": chunk.start_s,
            "end_s": chunk.end_s,
            "page": chunk.page,
            "token_count": chunk.token_count,
            "speakers": chunk.speakers,
        }
        for chunk in chunks
    ]
    with unit_of_work() as session:
        documents.store_pending_generation(
            session,
            document_id=document.id,
            generation=generation,
            rows=rows,
            format=parsed.format,
            title=title,
            metadata={**(document.metadata_ or {}), **_plain(parsed.metadata)},
        )
        if transcript is not None:
            documents.store_pending_transcript(
                session, document_id=document.id, generation=generation, fields=transcript
            )
    return len(rows)


@job_task(SPEC, stage="embed")
def embed_chunks(ctx: JobContext, payload: IngestInput) -> IngestOutput:
    """Stage two (gpu): embed the new generation in batches under the active (and target) model, then flip."""
    settings = get_settings()
    document_id = payload.document_id
    with unit_of_work() as session:
        document = session.get(Document, document_id)
        if document is None:
            raise JobFailure("document_not_found", "the document was deleted while it was being ingested")
        generation = (
            session.execute(
                select(func.max(Chunk.generation)).where(Chunk.document_id == document_id)
            ).scalar_one()
            or document.active_generation
        )
        total = session.execute(
            select(func.count())
            .select_from(Chunk)
            .where(Chunk.document_id == document_id, Chunk.generation == generation)
        ).scalar_one()
        active = embeddings.get_active_model_sync(session, default=settings.embed_model)
    models = [active] + ([settings.embed_model] if settings.embed_model != active else [])
    for model in models:
        _embed_generation(ctx, document_id, generation, model, total)
    with unit_of_work() as session:
        count = documents.activate_generation(session, document_id=document_id, generation=generation)
        document = session.get(Document, document_id, populate_existing=True)
        title, fmt = document.title, document.format
    return IngestOutput(
        document_id=document_id, format=fmt, title=title, chunks=count, embedding_models=models
    )


def _embed_generation(
    ctx: JobContext, document_id: uuid.UUID, generation: int, model: str, total: int
) -> None:
    """Embed the generation's chunks without a vector under `model`, a call at a time: each call's
    chunks are locked, embedded and stored in one transaction, and on a GPU filled up with other
    documents' pending chunks when this one's are fewer than a call holds (db/embeddings.py)."""
    provider = get_embedding_provider(model)
    ensure_index_once(model=model, dim=_dim(provider, model))
    feeding = provider.feeding()
    done = 0
    while True:
        with unit_of_work() as session:
            claim = embeddings.claim_chunks_to_embed(
                session,
                document_id=document_id,
                generation=generation,
                model=model,
                limit=feeding.texts_per_call,
                gather=feeding.gathers,
            )
            if claim is None:
                return
            if not claim.chunks:  # another job embedded the last of them: ask again
                continue
            ctx.progress("embedding", done / total if total else None, f"{model}: {done} of {total} chunks")
            result = provider.embed([text for _, text in claim.chunks], model=model)
            embeddings.store_embeddings(
                session,
                model=model,
                rows=[
                    (chunk_id, vector)
                    for (chunk_id, _), vector in zip(claim.chunks, result.vectors, strict=True)
                ],
            )
        done += claim.own


def _dim(provider: Any, model: str) -> int:
    """The model's vector size: known for the catalog's models, else asked of the model once."""
    return embed_dim(model) or provider.embed(["the size of a vector"], model=model).dim


def _speaker_count(document: Document) -> int | None:
    """The number of speakers the uploader gave (api/documents), if a sane one is kept."""
    count = (document.metadata_ or {}).get(SPEAKERS_KEY)
    return count if type(count) is int and 1 <= count <= MAX_SPEAKERS else None


def _fetch(document: Document) -> tuple[bytes, str | None, str | None]:
    settings = get_settings()
    fetched = fetch_with_settings(document.source_url, settings)
    with unit_of_work() as session:
        documents.set_document_status(
            session,
            document_id=document.id,
            status="processing",
            content_type=fetched.content_type,
            filename=document.filename or fetched.filename,
            content_hash=hashlib.sha256(fetched.content).hexdigest(),
            byte_size=len(fetched.content),
        )
    return fetched.content, fetched.content_type, document.filename or fetched.filename


def _same_as_searchable(document: Document, content: bytes) -> bool:
    """A URL re-fetched with unchanged content: the searchable chunks are already right."""
    return (
        document.active_generation > 0
        and document.content_hash == hashlib.sha256(content).hexdigest()
        and document.chunk_count > 0
    )


def _expand_archive(ctx: JobContext, archive: Document, content: bytes) -> IngestOutput:
    """One document (and ingest job) per archive member; the archive itself holds no chunks."""
    settings = get_settings()
    members = list(iter_archive(content, max_total_bytes=settings.max_archive_unpacked_bytes))
    if not members:
        raise DocumentError("empty_document", "the archive holds no document this platform can read")
    ctx.progress("unpacking", None, f"{len(members)} files")
    children = []
    with unit_of_work() as session:
        for name, data in members:
            child, action = documents.add_archive_member(
                session, archive=archive, member_name=name, content=data
            )
            job = None
            if action != "unchanged":
                job = create_job(
                    session, SPEC, input={"document_id": str(child.id)}, owner_id=archive.owner_id
                )
                child.ingest_job_id = job.id
            children.append(
                {"document_id": str(child.id), "name": name, "job_id": str(job.id) if job else None}
            )
        documents.set_document_status(
            session,
            document_id=archive.id,
            status="ready",
            format="zip",
            chunk_count=0,
            metadata={**(archive.metadata_ or {}), "members": len(members)},
        )
    return IngestOutput(document_id=archive.id, format="zip", title=archive.title, children=children)


def _fail_document(document_id: uuid.UUID, code: str, message: str) -> None:
    with unit_of_work() as session:
        documents.set_document_status(
            session, document_id=document_id, status="failed", error={"code": code, "message": message}
        )


def _plain(metadata: dict) -> dict:
    """Only JSON-friendly metadata values go into the row."""
    return {
        k: v for k, v in metadata.items() if isinstance(v, (str, int, float, bool, list, dict, type(None)))
    }
