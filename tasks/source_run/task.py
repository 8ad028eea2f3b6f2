"""The `source_run` kind's body: list the source's items, bring in what is new or changed, remove
what disappeared (when asked), and log the run.

Each item is fetched (or read) here, hashed (sha256 of the bytes, as an upload is), and compared
with the document this source brought in under the same source key: same hash, nothing to do;
new or changed, the document, its bytes and its `ingest` job are written in one transaction per
item, through the same upsert a re-upload takes. So a worker dying mid-run loses nothing and
does nothing twice: the redelivered run finds the items already written unchanged (their ingest
is pending or done), and the ingest jobs already committed run anyway. The run does not wait for
ingestion.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import delete

from core.documents.errors import DocumentError
from core.settings import Settings, get_settings
from db import documents
from db import jobs as job_queries
from db import sources as source_queries
from db.models import Document
from db.unit_of_work import unit_of_work
from tasks.ingest.spec import SPEC as INGEST
from tasks.source_run.errors import ItemError, ListingError
from tasks.source_run.listing import Listing
from tasks.source_run.reader import ItemContent, SourceReader
from tasks.source_run.spec import SPEC, SourceRunCounts, SourceRunInput, SourceRunOutput
from workers.deadline import seconds_left
from workers.errors import JobCanceled, JobFailure
from workers.runtime import JobContext, job_task

log = logging.getLogger(__name__)

MAX_ITEM_ERRORS = 50  # kept in the run log; `failed` counts them all
DETAIL_CHARS = 500
# The run stops taking items when less than one fetch and this margin are left of its time.
BUDGET_MARGIN_S = 30.0


@dataclass(frozen=True)
class SourceView:
    """What a run needs of its source, read once at the start."""

    id: uuid.UUID
    collection_id: uuid.UUID
    owner_id: uuid.UUID
    kind: str
    location: str
    remove_missing: bool


class RunLog(SourceRunCounts):
    """The counts as the run goes, and the first MAX_ITEM_ERRORS item errors."""

    item_errors: list[dict[str, Any]] = []

    def error(self, item: str, code: str, detail: str) -> None:
        self.failed += 1
        if len(self.item_errors) < MAX_ITEM_ERRORS:
            self.item_errors.append({"item": item[:1000], "code": code, "detail": detail[:DETAIL_CHARS]})


@job_task(SPEC)
def run_source(ctx: JobContext, payload: SourceRunInput) -> SourceRunOutput:
    """Open the run (or record it skipped), do it, close it; a failed run fails the job with its code."""
    settings = get_settings()
    pause_after = settings.source_pause_after_failures
    with unit_of_work() as session:
        source = source_queries.get_source_sync(session, source_id=payload.source_id)
        if source is None:
            raise JobFailure("source_not_found", "the source was deleted before its run started")
        if source.paused and payload.trigger == "schedule":
            # Submitted by beat just before the source was paused.
            run_id = source_queries.record_skipped_run(
                session,
                source_id=source.id,
                job_id=ctx.job_id,
                trigger=payload.trigger,
                code="paused",
                message=source.paused_reason or "the source is paused",
            )
            return SourceRunOutput(
                source_id=source.id, run_id=run_id, status="skipped", skipped=True, reason="paused"
            )
        opened = source_queries.open_run(
            session, source_id=source.id, job_id=ctx.job_id, trigger=payload.trigger, pause_after=pause_after
        )
        view = SourceView(
            source.id,
            source.collection_id,
            source.owner_id,
            source.kind,
            source.location,
            source.remove_missing,
        )
    if opened.run_id is None:
        return SourceRunOutput(
            source_id=view.id,
            run_id=opened.skipped_run_id,
            status="skipped",
            skipped=True,
            reason="already_running",
        )
    if opened.taken_over:
        log.info("source run %s taken over by its redelivered job %s", opened.run_id, ctx.job_id)
    run = SourceRunner(ctx, view, settings)
    try:
        status, error = run.execute()
    except JobCanceled:
        _close(opened.run_id, "failed", run.log, {"code": "canceled", "message": "the job was canceled"})
        raise
    except SoftTimeLimitExceeded:
        _close(
            opened.run_id,
            "failed",
            run.log,
            {"code": "timeout", "message": "the run ran past its time limit"},
        )
        raise
    except BaseException as unexpected:
        _close(
            opened.run_id, "failed", run.log, {"code": "internal_error", "message": repr(unexpected)[:500]}
        )
        raise
    _close(opened.run_id, status, run.log, error)
    output = SourceRunOutput(
        source_id=view.id, run_id=opened.run_id, status=status, **run.log.model_dump(exclude={"item_errors"})
    )
    if error is not None:
        raise JobFailure(error["code"], error["message"], details=output.model_dump(mode="json"))
    return output


def _close(run_id: uuid.UUID, status: str, log_: RunLog, error: dict[str, Any] | None) -> None:
    settings = get_settings()
    try:
        with unit_of_work() as session:
            source_queries.finish_run(
                session,
                run_id=run_id,
                status=status,
                counts=log_.model_dump(),
                error=error,
                pause_after=settings.source_pause_after_failures,
            )
    except Exception:  # noqa: BLE001 - the run row is closed as abandoned later (beat, or the next run)
        log.warning("could not close source run %s", run_id, exc_info=True)


class SourceRunner:
    """One run: list, bring in each item (bounded), remove what disappeared; the outcome in `log`."""

    def __init__(self, ctx: JobContext, source: SourceView, settings: Settings):
        self.ctx = ctx
        self.source = source
        self.settings = settings
        self.reader = SourceReader(source.kind, source.location, settings)
        self.log = RunLog()

    def execute(self) -> tuple[str, dict[str, Any] | None]:
        """('succeeded' | 'failed', the run's error)."""
        try:
            listing = self.reader.list()
        except ListingError as error:
            return "failed", {"code": error.code, "message": error.message[:DETAIL_CHARS]}
        for problem in listing.problems:
            self.log.error(problem["item"], problem["code"], problem["detail"])
        self.log.listed = len(listing.items)
        cap = self.settings.source_max_items
        self.log.truncated = listing.cut or len(listing.items) > cap
        for index, item in enumerate(listing.items[:cap]):
            self.ctx.progress("items", index / min(cap, len(listing.items)), item[-200:])
            if self._out_of_time():
                self.log.truncated = True
                break
            self._bring_in(item)
        self._remove_missing(listing)
        brought = self.log.added + self.log.changed + self.log.unchanged
        if self.log.failed and not brought:
            first = self.log.item_errors[0]
            if self.source.kind == "page":  # the page is the listing: its own error is the run's
                return "failed", {"code": first["code"], "message": first["detail"]}
            return "failed", {
                "code": "all_items_failed",
                "message": f"none of {self.log.failed} items could be brought in; the first: "
                f"{first['code']}: {first['detail']}",
            }
        return "succeeded", None

    def _out_of_time(self) -> bool:
        left = seconds_left()
        return left is not None and left < self.settings.fetch_timeout_seconds + BUDGET_MARGIN_S

    # --- one item --------------------------------------------------------------------------------

    def _bring_in(self, item: str) -> None:
        try:
            found = self.reader.read(item)
            action = self._store(item, found)
        except ItemError as error:
            self.log.error(item, error.code, error.detail)
            return
        except DocumentError as error:
            self.log.error(item, error.code, error.message)
            return
        if action == "created":
            self.log.added += 1
        elif action == "replaced":
            self.log.changed += 1
        else:
            self.log.unchanged += 1

    def _store(self, item: str, found: ItemContent) -> str:
        """created | replaced | unchanged: the document, its bytes and its ingest job in one transaction."""
        source = self.source
        key = source_key(source.kind, item)
        with unit_of_work() as session:
            document, action = documents.upsert_document_sync(
                session,
                collection_id=source.collection_id,
                owner_id=source.owner_id,
                source_key=key,
                content=found.content,
                content_hash=hashlib.sha256(found.content).hexdigest(),
                fields={
                    "source_url": found.url,
                    "filename": found.filename,
                    "content_type": found.content_type,
                    # The parser's title: a page whose title changed gets the new one.
                    "title": None,
                },
            )
            # The upsert leaves source_id alone, so this is the owner before this run. Refusing here
            # rolls back what the upsert wrote.
            if document.source_id not in (None, source.id):
                raise ItemError(
                    "owned_by_another_source",
                    f"the collection's document for this item belongs to source {document.source_id}",
                )
            # A document added by hand (or by a source since deleted) at the same key is adopted.
            document.source_id = source.id
            if action == "unchanged":
                return action
            if document.ingest_job_id is not None:
                job_queries.cancel_job_sync(session, job_id=document.ingest_job_id)
            job = job_queries.create_job(
                session, INGEST, input={"document_id": str(document.id)}, owner_id=source.owner_id
            )
            document.ingest_job_id = job.id
        return action

    # --- what disappeared ------------------------------------------------------------------------

    def _remove_missing(self, listing: Listing) -> None:
        """Delete this source's documents whose item is no longer listed, only when the listing is
        whole: an item not in a partial list may well still be at the source (it would be deleted
        now and added again next run), and an empty list is more often a fault (an unmounted share,
        a feed served empty by mistake) than a source emptied on purpose."""
        if not self.source.remove_missing:
            return
        if self.log.truncated:
            self.log.removal_skipped = "truncated"
            return
        if listing.problems:
            self.log.removal_skipped = "listing_incomplete"
            return
        if not listing.items:
            self.log.removal_skipped = "empty_listing"
            return
        listed = {source_key(self.source.kind, item) for item in listing.items}
        with unit_of_work() as session:
            known = source_queries.source_documents(session, source_id=self.source.id)
        for document_id, key, ingest_job_id in known:
            if key in listed:
                continue
            self.ctx.check_canceled()
            with unit_of_work() as session:
                if ingest_job_id is not None:
                    job_queries.cancel_job_sync(session, job_id=ingest_job_id)
                gone = session.execute(
                    delete(Document)
                    .where(Document.id == document_id, Document.source_id == self.source.id)
                    .returning(Document.id)
                ).first()
            if gone is not None:
                self.log.removed += 1


def source_key(kind: str, item: str) -> str:
    """What makes an item the same document from run to run: its URL (as POST /v1/documents/url
    keys it, so a page added by hand is the same document), or its path."""
    return f"path:{item}" if kind == "folder" else f"url:{item}"
