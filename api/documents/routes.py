"""/v1/collections and /v1/documents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from fastapi.responses import PlainTextResponse

from api.documents import service as document_service
from api.documents.schemas import (
    CollectionCreate,
    CollectionList,
    CollectionRead,
    DocumentFromText,
    DocumentFromUrl,
    DocumentList,
    DocumentMeta,
    DocumentRead,
    SpeakerList,
    SpeakerRename,
    SpeakerRenamed,
    SubmittedDocument,
    SubmittedDocuments,
    TranscriptRead,
)
from api.errors import ProblemError
from api.openapi import problems
from api.shared import CurrentUser, SessionDep
from core.recordings import MAX_SPEAKERS, TranscriptSegment, to_srt, to_vtt

router = APIRouter(prefix="/v1", tags=["documents"])


@router.get("/collections", response_model=CollectionList)
async def list_collections(session: SessionDep, user: CurrentUser) -> CollectionList:
    """Your collections and the shared libraries."""
    return await document_service.list_collections(session, user=user)


@router.post("/collections", response_model=CollectionRead, status_code=201, responses=problems(403, 409))
async def create_collection(
    request: CollectionCreate, session: SessionDep, user: CurrentUser
) -> CollectionRead:
    """A private collection, or (admins) a shared library."""
    return await document_service.create_collection(session, user=user, request=request)


def _submission_status(items: list[SubmittedDocument], response: Response) -> SubmittedDocuments:
    accepted = [item for item in items if item.action != "rejected"]
    if not accepted and items:
        codes = {item.error.code for item in items if item.error}
        status = 415 if codes == {"unsupported_type"} else 413 if codes <= {"too_large"} else 422
        first = items[0].error
        raise ProblemError(
            status,
            first.code,
            first.message,
            errors=[{"path": item.filename or "file", "message": item.error.message} for item in items],
        )
    response.status_code = 202
    return SubmittedDocuments(items=items)


@router.post("/documents", response_model=SubmittedDocuments, status_code=202, responses=problems(403, 415))
async def upload_documents(
    session: SessionDep,
    user: CurrentUser,
    response: Response,
    files: Annotated[
        list[UploadFile],
        File(
            description="one or many files: txt, md, html, pdf, docx, srt, vtt, zip, and recordings "
            "(wav, flac, mp3, m4a/aac, ogg/opus, webm, mp4, mkv: transcribed, known by content)"
        ),
    ],
    collection: Annotated[str, Form()] = "default",
    title: Annotated[str | None, Form()] = None,
    tags: Annotated[list[str], Form(description="repeat the field, or comma-separate")] = [],  # noqa: B006
    resource_type: Annotated[str | None, Form()] = None,
    level: Annotated[str | None, Form()] = None,
    speakers: Annotated[
        str | None,
        Form(
            # Read as digits: a form field typed int took whatever Python's int() takes, "2_0" as
            # 20 among them. DocumentMeta checks the count (core/recordings.py SpeakerCount).
            pattern=r"^[0-9]{1,3}$",
            description=f"a recording's number of speakers (1 to {MAX_SPEAKERS}), when known: "
            "the diarizer gives that many",
        ),
    ] = None,
) -> SubmittedDocuments:
    """Each file becomes a document with its own `ingest` job (202); refused files are listed with a code."""
    meta = DocumentMeta.model_validate(
        {
            "collection": collection,
            "title": title,
            "resource_type": resource_type or None,
            "level": level or None,
            "speakers": int(speakers) if speakers else None,
            "tags": [tag.strip() for value in tags for tag in value.split(",") if tag.strip()],
        }
    )
    uploads = [
        document_service.Upload(
            filename=file.filename, content_type=file.content_type, content=await file.read()
        )
        for file in files
    ]
    items = await document_service.submit_uploads(session, user=user, uploads=uploads, meta=meta)
    return _submission_status(items, response)


@router.post("/documents/url", response_model=SubmittedDocument, status_code=202, responses=problems(403))
async def document_from_url(
    request: DocumentFromUrl, session: SessionDep, user: CurrentUser
) -> SubmittedDocument:
    """A worker fetches the URL (timeouts, 404s and private addresses fail the document's job)."""
    return await document_service.submit_url(session, user=user, url=str(request.url), meta=request)


@router.post("/documents/text", response_model=SubmittedDocument, status_code=202, responses=problems(403))
async def document_from_text(
    request: DocumentFromText, session: SessionDep, user: CurrentUser
) -> SubmittedDocument:
    """Text, Markdown or HTML sent in the body."""
    return await document_service.submit_text(
        session, user=user, text=request.text, text_format=request.format, meta=request
    )


@router.get("/documents", response_model=DocumentList, responses=problems(404))
async def list_documents(
    session: SessionDep,
    user: CurrentUser,
    collection: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> DocumentList:
    """Documents you can read, newest first."""
    return await document_service.list_documents(
        session, user=user, collection=collection, limit=limit, cursor=cursor
    )


@router.get("/documents/{document_id}", response_model=DocumentRead, response_model_exclude_none=False)
async def get_document(
    document_id: str, session: SessionDep, user: CurrentUser, include: Annotated[str | None, Query()] = None
) -> DocumentRead:
    """One document; `?include=chunks` adds its searchable chunks."""
    return await document_service.get_document(
        session, user=user, document_id=document_id, include_chunks=include == "chunks"
    )


@router.get("/documents/{document_id}/transcript", response_model=TranscriptRead, responses=problems(404))
async def get_transcript(document_id: str, session: SessionDep, user: CurrentUser) -> TranscriptRead:
    """A recording's transcript: cues with start and end times, and word times where the engine gives them."""
    return await document_service.get_transcript(session, user=user, document_id=document_id)


@router.get(
    "/documents/{document_id}/transcript.vtt",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/vtt": {}}}, **problems(404)},
)
async def get_transcript_vtt(document_id: str, session: SessionDep, user: CurrentUser) -> PlainTextResponse:
    """The transcript as a WebVTT file."""
    transcript = await document_service.get_transcript(session, user=user, document_id=document_id)
    return PlainTextResponse(to_vtt(_segments(transcript)), media_type="text/vtt")


@router.get(
    "/documents/{document_id}/transcript.srt",
    response_class=PlainTextResponse,
    responses={200: {"content": {"application/x-subrip": {}}}, **problems(404)},
)
async def get_transcript_srt(document_id: str, session: SessionDep, user: CurrentUser) -> PlainTextResponse:
    """The transcript as a SubRip (.srt) file."""
    transcript = await document_service.get_transcript(session, user=user, document_id=document_id)
    return PlainTextResponse(to_srt(_segments(transcript)), media_type="application/x-subrip")


def _segments(transcript: TranscriptRead) -> list[TranscriptSegment]:
    return [TranscriptSegment.from_json(segment.model_dump()) for segment in transcript.segments]


@router.get("/documents/{document_id}/speakers", response_model=SpeakerList, responses=problems(404))
async def list_speakers(document_id: str, session: SessionDep, user: CurrentUser) -> SpeakerList:
    """Who speaks in a recording (or an ingested subtitle file), in order of first speech: the names
    a search's or a question's `speakers` filter takes."""
    return await document_service.list_speakers(session, user=user, document_id=document_id)


@router.post(
    "/documents/{document_id}/speakers/rename", response_model=SpeakerRenamed, responses=problems(403, 404)
)
async def rename_speaker(
    document_id: str, request: SpeakerRename, session: SessionDep, user: CurrentUser
) -> SpeakerRenamed:
    """Rename a speaker (S2 -> "Dr. Lee"), or merge it into another by giving that one's name: the
    transcript, its WebVTT and SRT files, the passages searches find and the citations that point at
    them show the new name."""
    return await document_service.rename_speaker(session, user=user, document_id=document_id, request=request)


@router.delete("/documents/{document_id}", status_code=204, responses=problems(403))
async def delete_document(document_id: str, session: SessionDep, user: CurrentUser) -> Response:
    """Delete a document with its chunks and embeddings."""
    await document_service.delete_document(session, user=user, document_id=document_id)
    return Response(status_code=204)
