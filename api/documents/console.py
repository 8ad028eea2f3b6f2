"""/admin/library: every collection (shared and per-user), a collection's documents with their ingest
state, upload (the document upload service), delete, re-ingest, and a search form over the
collection, so an operator sees a document become searchable."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from api.console.auth import AdminForm, AdminUser
from api.console.routing import ConsoleRoute, error_page
from api.console.templating import NavEntry, render
from api.documents import service as document_service
from api.documents.schemas import CollectionCreate, DocumentMeta, SpeakerRename
from api.errors import ProblemError
from api.search import service as search_service
from api.shared import SessionDep

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
NAV = NavEntry("Library", "/admin/library")

UPLOAD_PATH = "/admin/library/upload"
PAGE_SIZE = 50
SEARCH_MODES = ("hybrid", "keyword", "vector")  # keyword needs no query worker
NOTICES = {
    "created": "The shared collection is created.",
    "uploaded": "Uploaded: each new or changed file is being ingested (watch its state below).",
    "unchanged": "Nothing new: those files are already here with the same content.",
    "deleted": "The document is deleted, with its chunks and embeddings.",
    "reingesting": "The document is being ingested again.",
    "renamed": "Renamed: the transcript, its files, the passages and their citations show the new name.",
    "merged": "Merged: the two speakers are one now, under that name.",
}


def _collection_url(collection_id: object, notice: str) -> str:
    return f"/admin/library/{collection_id}?notice={notice}"


@router.get("/admin/library")
async def collections(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    notice: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    rows = await document_service.admin_collections(session, user=admin)
    return render(
        request,
        "library.html",
        title="Library",
        rows=rows,
        shown=document_service.ADMIN_COLLECTIONS_SHOWN,
        notice=NOTICES.get(notice),
    )


@router.post("/admin/library/collections")
async def create_collection(request: Request, session: SessionDep, form: AdminForm) -> Response:
    wanted = CollectionCreate.model_validate(
        {"name": form.text("name"), "description": form.text("description") or None, "shared": True}
    )
    await document_service.create_collection(session, user=form.admin, request=wanted)
    return RedirectResponse("/admin/library?notice=created", status_code=303)


@router.get("/admin/library/{collection_id}")
async def collection_page(
    request: Request,
    collection_id: str,
    session: SessionDep,
    admin: AdminUser,
    q: Annotated[str, Query(max_length=2000)] = "",
    mode: Annotated[str, Query(max_length=10)] = "hybrid",
    cursor: Annotated[str, Query(max_length=200)] = "",
    notice: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    collection = await document_service.admin_collection(session, user=admin, collection_id=collection_id)
    documents = await document_service.admin_documents(
        session, user=admin, collection=collection, limit=PAGE_SIZE, cursor=cursor or None
    )
    hits, search_error = None, None
    if q.strip():
        try:
            found = await search_service.search_collection(
                session, user=admin, collection_id=collection.id, query=q.strip(), mode=mode
            )
            hits = found.items
        except ProblemError as problem:  # no query worker: the page still shows the documents
            search_error = f"{problem.code}: {problem.detail}"
    return render(
        request,
        "collection.html",
        title=f"Collection {collection.name}",
        collection=collection,
        documents=documents.items,
        next_cursor=documents.next_cursor,
        later_page=bool(cursor),
        can_upload=document_service.admin_can_upload(collection, admin),
        upload_path=UPLOAD_PATH,
        q=q,
        mode=mode,
        modes=SEARCH_MODES,
        hits=hits,
        search_error=search_error,
        notice=NOTICES.get(notice),
    )


@router.post(UPLOAD_PATH)
async def upload(request: Request, session: SessionDep, form: AdminForm) -> Response:
    """Files into the collection the form names; refused files are listed on an error page."""
    collection = await document_service.admin_collection(
        session, user=form.admin, collection_id=form.text("collection_id")
    )
    files = [f for f in form.fields.getlist("files") if isinstance(f, UploadFile) and f.filename]
    if not files:
        raise ProblemError(422, "validation_error", "choose at least one file to upload")
    meta = DocumentMeta.model_validate(
        {
            "collection": collection.name,
            "title": form.text("title") or None,
            "tags": [tag.strip() for tag in form.text("tags").split(",") if tag.strip()],
        }
    )
    uploads = [
        document_service.Upload(filename=f.filename, content_type=f.content_type, content=await f.read())
        for f in files
    ]
    items = await document_service.admin_upload(
        session, user=form.admin, collection=collection, uploads=uploads, meta=meta
    )
    refused = [item for item in items if item.action == "rejected"]
    if refused:
        accepted = len(items) - len(refused)
        detail = "; ".join(f"{item.filename}: {item.error.message}" for item in refused)
        return error_page(
            request,
            422,
            refused[0].error.code,
            f"{len(refused)} file(s) refused ({detail}); {accepted} accepted.",
        )
    notice = "unchanged" if all(item.action == "unchanged" for item in items) else "uploaded"
    return RedirectResponse(_collection_url(collection.id, notice), status_code=303)


@router.post("/admin/library/documents/{document_id}/delete")
async def delete_document(document_id: str, session: SessionDep, form: AdminForm) -> Response:
    collection_id = await document_service.admin_delete_document(
        session, user=form.admin, document_id=document_id
    )
    return RedirectResponse(_collection_url(collection_id, "deleted"), status_code=303)


@router.post("/admin/library/documents/{document_id}/reingest")
async def reingest(document_id: str, session: SessionDep, form: AdminForm) -> Response:
    _job, collection_id = await document_service.reingest_document(
        session, user=form.admin, document_id=document_id
    )
    return RedirectResponse(_collection_url(collection_id, "reingesting"), status_code=303)


@router.get("/admin/library/documents/{document_id}/speakers")
async def speakers_page(
    request: Request,
    document_id: str,
    session: SessionDep,
    admin: AdminUser,
    notice: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    """Who speaks in a recording (or a subtitle file), each with a form to rename or merge it."""
    document, speakers = await document_service.admin_speakers(session, user=admin, document_id=document_id)
    return render(
        request,
        "speakers.html",
        title=f"Speakers of {document.title or document.filename or document.id}",
        document=document,
        speakers=speakers.items,
        notice=NOTICES.get(notice),
    )


@router.post("/admin/library/documents/{document_id}/speakers/rename")
async def rename_speaker(document_id: str, session: SessionDep, form: AdminForm) -> Response:
    wanted = SpeakerRename.model_validate({"speaker": form.text("speaker"), "name": form.text("name")})
    renamed = await document_service.admin_rename_speaker(
        session, user=form.admin, document_id=document_id, request=wanted
    )
    notice = "merged" if renamed.merged else "renamed"
    return RedirectResponse(
        f"/admin/library/documents/{document_id}/speakers?notice={notice}", status_code=303
    )
