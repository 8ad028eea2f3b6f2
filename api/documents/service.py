"""Document use cases: collections, document submission (files, URL, text), reading, deleting."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.documents.schemas import (
    ChunkRead,
    CollectionCreate,
    CollectionList,
    CollectionRead,
    DocumentList,
    DocumentMeta,
    DocumentRead,
    SpeakerList,
    SpeakerRead,
    SpeakerRename,
    SpeakerRenamed,
    SubmittedDocument,
    TranscriptRead,
)
from api.errors import ProblemError
from api.jobs.service import job_read
from api.quotas import check_collection_quota, check_job_quota
from api.shared import (
    Upload,
    check_fetchable_url,
    decode_cursor,
    encode_cursor,
    get_or_404,
    parse_id,
    require_admin,
)
from core.documents.detect import detect_format
from core.documents.errors import DocumentError
from core.recordings import SPEAKERS_KEY
from core.settings import get_settings
from db import course_scope
from db import documents as document_queries
from db import jobs as job_queries
from db import speakers as speaker_queries
from db.models import Collection, Document, Job, User
from db.unit_of_work import commit_async
from tasks.ingest.spec import SPEC as INGEST

# What the admin check says only admins may do here (403 admin_only).
ADMINS_ONLY = "manage every collection"
DOCUMENT_NOT_FOUND = {"code": "document_not_found", "detail": "no such document"}


# --- collections ------------------------------------------------------------------------------


def _writable(collection: Collection, user: User, taught: set[uuid.UUID]) -> bool:
    """Whether the user may add to and delete from it: their own; a shared library if an admin; a
    course's if an admin or one of the course's Instructors or Administrators (`taught`)."""
    if collection.course_id is not None:
        return user.is_superuser or collection.course_id in taught
    return collection.owner_id == user.id or (collection.owner_id is None and user.is_superuser)


async def _taught(session: AsyncSession, user: User, collections: list[Collection]) -> set[uuid.UUID]:
    """The courses the user teaches, read only when a course's collection is among `collections`."""
    if not any(collection.course_id for collection in collections):
        return set()
    return await course_scope.taught_courses(session, user_id=user.id)


async def _require_writable(session: AsyncSession, *, user: User, collection: Collection) -> None:
    if _writable(collection, user, await _taught(session, user, [collection])):
        return
    if collection.course_id is not None:
        raise ProblemError(
            403,
            "lti_instructor_only",
            f"only the course's instructors and admins change its collection {collection.name!r}",
        )
    raise ProblemError(
        403, "collection_read_only", f"only admins change the shared collection {collection.name!r}"
    )


def collection_read(collection: Collection, user: User, taught: set[uuid.UUID]) -> CollectionRead:
    return CollectionRead(
        id=collection.id,
        name=collection.name,
        description=collection.description,
        shared=collection.shared,
        course_id=collection.course_id,
        writable=_writable(collection, user, taught),
        created_at=collection.created_at,
    )


async def list_collections(session: AsyncSession, *, user: User) -> CollectionList:
    collections = await document_queries.visible_collections(session, user_id=user.id)
    taught = await _taught(session, user, collections)
    return CollectionList(items=[collection_read(collection, user, taught) for collection in collections])


async def create_collection(
    session: AsyncSession, *, user: User, request: CollectionCreate, course_id: uuid.UUID | None = None
) -> CollectionRead:
    """A private collection, a shared library (admins), or the library of the course `course_id`
    (the caller has checked that the user teaches it: POST /v1/lti/courses/{id}/collections)."""
    if course_id is not None and request.shared:
        raise ProblemError(
            422, "collection_course_shared", "a course's collection is read by its members only, not shared"
        )
    if request.shared and not user.is_superuser:
        raise ProblemError(403, "admin_only", "only admins create shared collections")
    private = not request.shared and course_id is None
    if private:
        await check_collection_quota(session, user=user)
    collection = await document_queries.create_collection(
        session,
        name=request.name,
        owner_id=user.id if private else None,
        description=request.description,
        course_id=course_id,
    )
    if collection is None:
        raise ProblemError(409, "collection_exists", f"a collection named {request.name!r} already exists")
    await commit_async(session)
    return collection_read(collection, user, {course_id} if course_id else set())


async def _collection_for_write(session: AsyncSession, *, user: User, name: str) -> Collection:
    """The user's collection of that name (created on first use), else a course's or shared one the
    user may write (a course's: its instructors; a shared one: admins). An admin's upload to a
    shared collection's name goes to it, never to a course collection an instructor named alike
    (which would hand the admin's documents to that course)."""
    collection = None
    if user.is_superuser:
        collection = await document_queries.find_shared_collection(session, name=name)
    collection = collection or await document_queries.find_collection(session, user_id=user.id, name=name)
    if collection is None:
        await check_collection_quota(session, user=user)
        return await document_queries.get_or_create_private_collection(session, user_id=user.id, name=name)
    await _require_writable(session, user=user, collection=collection)
    return collection


async def readable_collection_ids(
    session: AsyncSession, *, user: User, names: list[str] | None = None
) -> list[uuid.UUID]:
    """Ids of the named collections the user can read (all when `names` is None); 404 for an unknown name."""
    collections = await document_queries.visible_collections(session, user_id=user.id)
    if names is None:
        return [collection.id for collection in collections]
    by_name: dict[str, Collection] = {}
    for collection in collections:  # own collections first, so they win over a shared one of the same name
        by_name.setdefault(collection.name, collection)
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise ProblemError(404, "collection_not_found", f"no such collection: {', '.join(unknown)}")
    return [by_name[name].id for name in names]


# --- submission -------------------------------------------------------------------------------


async def submit_uploads(
    session: AsyncSession, *, user: User, uploads: list[Upload], meta: DocumentMeta
) -> list[SubmittedDocument]:
    """One document and ingest job per file; unsupported or oversized files are refused one by one."""
    collection = await _collection_for_write(session, user=user, name=meta.collection)
    return await _submit_into(session, user=user, collection=collection, uploads=uploads, meta=meta)


async def _submit_into(
    session: AsyncSession, *, user: User, collection: Collection, uploads: list[Upload], meta: DocumentMeta
) -> list[SubmittedDocument]:
    settings = get_settings()
    items: list[SubmittedDocument] = []
    pending: list[tuple[SubmittedDocument, Document, str]] = []
    for upload in uploads:
        try:
            if len(upload.content) > settings.max_document_bytes:
                raise DocumentError("too_large", f"the file is over {settings.max_document_bytes} bytes")
            detect_format(upload.filename, upload.content_type, upload.content[:8192])
        except DocumentError as error:
            items.append(_rejected(upload.filename, error.code, error.message))
            continue
        document, action = await document_queries.upsert_document(
            session,
            collection_id=collection.id,
            owner_id=user.id,
            source_key=f"file:{upload.filename or hashlib.sha256(upload.content).hexdigest()}",
            content=upload.content,
            content_hash=hashlib.sha256(upload.content).hexdigest(),
            fields={
                **_meta_fields(meta, title=meta.title if len(uploads) == 1 else None),
                "filename": upload.filename,
                "content_type": upload.content_type,
                "source_url": None,
            },
        )
        item = SubmittedDocument(filename=upload.filename, action=action)
        items.append(item)
        pending.append((item, document, action))
    await _finish_submission(session, user=user, collection=collection, pending=pending)
    return items


async def submit_url(session: AsyncSession, *, user: User, url: str, meta: DocumentMeta) -> SubmittedDocument:
    """A document fetched by a worker (so the API host never downloads anything)."""
    check_fetchable_url(url, field="url")
    collection = await _collection_for_write(session, user=user, name=meta.collection)
    document, action = await document_queries.upsert_document(
        session,
        collection_id=collection.id,
        owner_id=user.id,
        source_key=f"url:{url}",
        content=None,
        content_hash=None,
        fields={
            **_meta_fields(meta, title=meta.title),
            "source_url": url,
            "filename": None,
            "content_type": None,
        },
    )
    # A URL is always fetched again: only the worker can tell whether its content changed.
    item = SubmittedDocument(filename=None, action="created" if action == "created" else "replaced")
    await _finish_submission(
        session, user=user, collection=collection, pending=[(item, document, item.action)]
    )
    return item


async def submit_text(
    session: AsyncSession, *, user: User, text: str, text_format: str, meta: DocumentMeta
) -> SubmittedDocument:
    extension = {"text": "txt", "markdown": "md", "html": "html"}[text_format]
    content = text.encode("utf-8")
    if len(content) > get_settings().max_document_bytes:
        raise ProblemError(413, "too_large", "the text is over the document size limit")
    uploads = [Upload(filename=f"{meta.title}.{extension}", content_type=None, content=content)]
    [item] = await submit_uploads(session, user=user, uploads=uploads, meta=meta)
    return item


def _meta_fields(meta: DocumentMeta, *, title: str | None) -> dict[str, Any]:
    return {
        "title": title,
        "tags": sorted(set(meta.tags)),
        "resource_type": meta.resource_type,
        "level": meta.level,
        # Read by the transcribe stage (tasks/ingest/task.py); a re-upload without it forgets it.
        "metadata": {SPEAKERS_KEY: meta.speakers} if meta.speakers else {},
    }


def _rejected(filename: str | None, code: str, message: str) -> SubmittedDocument:
    return SubmittedDocument(filename=filename, action="rejected", error={"code": code, "message": message})


async def _finish_submission(
    session: AsyncSession,
    *,
    user: User,
    collection: Collection,
    pending: list[tuple[SubmittedDocument, Document, str]],
) -> None:
    """Create an ingest job per new or changed document (canceling a superseded one), commit, publish."""
    changed = sum(action != "unchanged" for _, _, action in pending)
    if changed:
        await check_job_quota(session, user=user, new_jobs=changed)
    jobs: list[Job] = []
    for _item, document, action in pending:
        if action != "unchanged":
            job = await _new_ingest_job(session, document=document, owner_id=user.id)
            document.ingest_job_id = job.id
            jobs.append(job)
    await commit_async(session)
    job_by_id = {job.id: job for job in jobs}
    for item, document, _ in pending:
        await session.refresh(document)
        item.document = document_read(document, collection, job_by_id.get(document.ingest_job_id))
        job = job_by_id.get(document.ingest_job_id)
        item.job = job_read(job) if job is not None else None


async def _new_ingest_job(session: AsyncSession, *, document: Document, owner_id: uuid.UUID) -> Job:
    """An ingest job for the document, canceling the one it supersedes (the caller records it)."""
    if document.ingest_job_id is not None:
        await job_queries.cancel_job(session, job_id=document.ingest_job_id)
    return job_queries.create_job(session, INGEST, input={"document_id": str(document.id)}, owner_id=owner_id)


# --- reading ----------------------------------------------------------------------------------


def document_read(
    document: Document, collection: Collection, job: Job | None, chunks: list | None = None
) -> DocumentRead:
    """The document as clients see it; a pending one whose ingest job ended badly shows that job's error."""
    status, error = document.status, document.error
    if status in ("pending", "processing") and job is not None and job.status in ("failed", "canceled"):
        status = "failed"
        error = job.error or {"code": "ingest_canceled", "message": "the ingest job was canceled"}
    return DocumentRead(
        id=document.id,
        collection=collection.name,
        shared=collection.shared,
        title=document.title,
        source_url=document.source_url,
        filename=document.filename,
        format=document.format,
        tags=document.tags or [],
        resource_type=document.resource_type,
        level=document.level,
        status=status,
        error=error,
        chunk_count=document.chunk_count,
        byte_size=document.byte_size,
        content_hash=document.content_hash,
        parent_id=document.parent_id,
        ingest_job_id=document.ingest_job_id,
        metadata=document.metadata_ or {},
        created_at=document.created_at,
        updated_at=document.updated_at,
        chunks=[ChunkRead.model_validate(chunk, from_attributes=True) for chunk in chunks]
        if chunks is not None
        else None,
    )


async def _reads(session: AsyncSession, documents: list[Document]) -> list[DocumentRead]:
    collection_ids = {document.collection_id for document in documents}
    job_ids = [document.ingest_job_id for document in documents if document.ingest_job_id]
    collections = {
        c.id: c
        for c in (
            await session.execute(select(Collection).where(Collection.id.in_(collection_ids)))
        ).scalars()
    }
    jobs = (
        {j.id: j for j in (await session.execute(select(Job).where(Job.id.in_(job_ids)))).scalars()}
        if job_ids
        else {}
    )
    return [document_read(d, collections[d.collection_id], jobs.get(d.ingest_job_id)) for d in documents]


async def list_documents(
    session: AsyncSession, *, user: User, collection: str | None, limit: int, cursor: str | None
) -> DocumentList:
    ids = await readable_collection_ids(session, user=user, names=[collection] if collection else None)
    return await _document_page(session, collection_ids=ids, limit=limit, cursor=cursor)


async def _document_page(
    session: AsyncSession, *, collection_ids: list[uuid.UUID], limit: int, cursor: str | None
) -> DocumentList:
    """One page of the collections' documents, newest first."""
    before = decode_cursor(cursor) if cursor else None
    found = await document_queries.list_documents(
        session, collection_ids=collection_ids, limit=limit + 1, before=before
    )
    page, more = found[:limit], len(found) > limit
    return DocumentList(
        items=await _reads(session, page), next_cursor=encode_cursor(page[-1]) if more else None
    )


async def _visible_document(session: AsyncSession, *, user: User, document_id: str) -> Document:
    document_id = parse_id(document_id, **DOCUMENT_NOT_FOUND)  # before the collections are read
    ids = await readable_collection_ids(session, user=user)
    return await get_or_404(
        document_id,
        lambda parsed: document_queries.get_document(session, document_id=parsed, collection_ids=ids),
        **DOCUMENT_NOT_FOUND,
    )


async def get_document(
    session: AsyncSession, *, user: User, document_id: str, include_chunks: bool
) -> DocumentRead:
    document = await _visible_document(session, user=user, document_id=document_id)
    [read] = await _reads(session, [document])
    if include_chunks:
        read.chunks = [
            ChunkRead.model_validate(chunk, from_attributes=True)
            for chunk in await document_queries.document_chunks(session, document=document)
        ]
    return read


async def get_transcript(session: AsyncSession, *, user: User, document_id: str) -> TranscriptRead:
    """A recording's transcript as searches see it (its active generation); 404 for a document
    that has none (not a recording, or not transcribed yet)."""
    document = await _visible_document(session, user=user, document_id=document_id)
    transcript = await document_queries.active_transcript(session, document=document)
    if transcript is None:
        detail = "this document has no transcript (it is not a recording, or its ingest has not finished)"
        raise ProblemError(404, "transcript_not_found", detail)
    return TranscriptRead(
        document_id=document.id,
        title=document.title,
        engine=transcript.engine,
        language=transcript.language,
        duration_s=transcript.duration_s,
        segments=transcript.segments,
    )


async def list_speakers(session: AsyncSession, *, user: User, document_id: str) -> SpeakerList:
    """Who speaks in a document the user can read, in order of first speech."""
    document = await _visible_document(session, user=user, document_id=document_id)
    return SpeakerList(document_id=document.id, items=await _speakers(session, document))


async def rename_speaker(
    session: AsyncSession, *, user: User, document_id: str, request: SpeakerRename
) -> SpeakerRenamed:
    """Rename one of a document's speakers (or merge it into another), by whoever may change the
    document: its transcript, its files, its passages and their citations show the new name."""
    document = await _visible_document(session, user=user, document_id=document_id)
    collection = await session.get(Collection, document.collection_id)
    await _require_writable(session, user=user, collection=collection)
    return await _rename_speaker(session, document=document, request=request)


async def admin_speakers(
    session: AsyncSession, *, user: User, document_id: str
) -> tuple[Document, SpeakerList]:
    """Any document's speakers (the console's speakers page), with the document."""
    document = await _any_document(session, user=user, document_id=document_id)
    return document, SpeakerList(document_id=document.id, items=await _speakers(session, document))


async def admin_rename_speaker(
    session: AsyncSession, *, user: User, document_id: str, request: SpeakerRename
) -> SpeakerRenamed:
    """An admin's rename or merge of any document's speaker (the console)."""
    document = await _any_document(session, user=user, document_id=document_id)
    return await _rename_speaker(session, document=document, request=request)


async def _rename_speaker(
    session: AsyncSession, *, document: Document, request: SpeakerRename
) -> SpeakerRenamed:
    names = [summary.name for summary in await speaker_queries.speakers_of(session, document=document)]
    if request.speaker not in names:
        known = ", ".join(names[:20]) or "none"
        detail = f"{request.speaker!r} speaks nowhere in this document (speakers: {known})"
        raise ProblemError(404, "speaker_not_found", detail)
    renamed = await speaker_queries.rename_speaker(
        session, document=document, old=request.speaker, new=request.name
    )
    await commit_async(session)
    return SpeakerRenamed(
        document_id=document.id,
        items=await _speakers(session, document),
        renamed_cues=renamed.cues,
        renamed_chunks=renamed.chunks,
        merged=renamed.merged,
    )


async def _speakers(session: AsyncSession, document: Document) -> list[SpeakerRead]:
    summaries = await speaker_queries.speakers_of(session, document=document)
    return [SpeakerRead(**vars(summary)) for summary in summaries]


async def delete_document(session: AsyncSession, *, user: User, document_id: str) -> None:
    """Delete with its chunks and embeddings; a shared document only by an admin."""
    document = await _visible_document(session, user=user, document_id=document_id)
    collection = await session.get(Collection, document.collection_id)
    await _require_writable(session, user=user, collection=collection)
    await _delete(session, document)


async def _delete(session: AsyncSession, document: Document) -> None:
    """The document with its chunks and embeddings; its ingest job, if still running, is canceled."""
    if document.ingest_job_id is not None:
        await job_queries.cancel_job(session, job_id=document.ingest_job_id)
    await document_queries.delete_document(session, document_id=document.id)
    await commit_async(session)


# --- admins (the console's library page) ------------------------------------------------------

ADMIN_COLLECTIONS_SHOWN = 500


async def admin_collections(session: AsyncSession, *, user: User) -> list[Any]:
    """Every collection, shared and per-user, with its owner and documents counted by state."""
    require_admin(user, to=ADMINS_ONLY)
    return await document_queries.collections_overview(session, limit=ADMIN_COLLECTIONS_SHOWN)


async def admin_collection(session: AsyncSession, *, user: User, collection_id: str) -> Collection:
    """Any collection by id (another user's private one too)."""
    require_admin(user, to=ADMINS_ONLY)
    return await get_or_404(
        collection_id,
        lambda parsed: session.get(Collection, parsed),
        code="collection_not_found",
        detail="no such collection",
    )


async def admin_documents(
    session: AsyncSession, *, user: User, collection: Collection, limit: int, cursor: str | None
) -> DocumentList:
    """A page of a collection's documents with their ingest state, newest first."""
    require_admin(user, to=ADMINS_ONLY)
    return await _document_page(session, collection_ids=[collection.id], limit=limit, cursor=cursor)


def admin_can_upload(collection: Collection, user: User) -> bool:
    """Admins add to shared collections, courses' and their own; a user's private collection stays
    theirs."""
    return _writable(collection, user, set())


async def admin_upload(
    session: AsyncSession, *, user: User, collection: Collection, uploads: list[Upload], meta: DocumentMeta
) -> list[SubmittedDocument]:
    """submit_uploads into this very collection (not by name: a shared library and an admin's own
    collection may share one)."""
    require_admin(user, to=ADMINS_ONLY)
    if not admin_can_upload(collection, user):
        raise ProblemError(
            403, "collection_read_only", "admins upload to shared collections and their own, not a user's"
        )
    return await _submit_into(session, user=user, collection=collection, uploads=uploads, meta=meta)


async def _any_document(session: AsyncSession, *, user: User, document_id: str) -> Document:
    require_admin(user, to=ADMINS_ONLY)
    return await get_or_404(
        document_id,
        lambda parsed: session.get(Document, parsed, populate_existing=True),
        **DOCUMENT_NOT_FOUND,
    )


async def admin_delete_document(session: AsyncSession, *, user: User, document_id: str) -> uuid.UUID:
    """Delete any document (moderation) with its chunks and embeddings; returns its collection's id."""
    document = await _any_document(session, user=user, document_id=document_id)
    collection_id = document.collection_id
    await _delete(session, document)
    return collection_id


async def reingest_document(session: AsyncSession, *, user: User, document_id: str) -> tuple[Job, uuid.UUID]:
    """Ingest a document again from what is stored: its bytes (uploads, text, archive members) or
    its URL (fetched again). A superseded ingest job is canceled; the searchable chunks stay until
    the new generation replaces them. Returns the new job and the document's collection id."""
    document = await _any_document(session, user=user, document_id=document_id)
    if document.source_url is None and not await document_queries.has_stored_content(
        session, document_id=document.id
    ):
        raise ProblemError(
            409, "document_not_reingestable", "the document has neither stored content nor a URL to fetch"
        )
    # The document's owner owns the job, as with their own uploads: they can follow the ingest job
    # their document names. An admin's one click is not held to the owner's job quota.
    job = await _new_ingest_job(session, document=document, owner_id=document.owner_id)
    await session.flush()
    collection_id = document.collection_id
    await document_queries.mark_for_reingest(session, document_id=document.id, job_id=job.id)
    await commit_async(session)
    return job, collection_id
