"""Scheduled sources for admins: register, list, read with the run log, edit, pause and resume,
delete, run now. The console's Sources page calls these same functions.

A source's URL passes the SSRF guard's syntax check here (no DNS on the API host); the worker
checks every hop again, with DNS, at every run. A folder must lie inside
MENTORQ_SOURCE_FOLDERS_ROOT, symlinks resolved; the worker checks that again at every run too.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ProblemError
from api.jobs.schemas import JobRead
from api.jobs.service import job_read
from api.shared import check_fetchable_url, decode_cursor, encode_cursor, get_or_404, parse_id, require_admin
from api.sources.schemas import (
    SourceCreate,
    SourceDetail,
    SourceList,
    SourceRead,
    SourceRunList,
    SourceRunRead,
    SourceUpdate,
)
from core.settings import get_settings
from core.sources import (
    SOURCE_KINDS,
    URL_KINDS,
    SourceConfigError,
    check_schedule,
    folder_root,
    next_run_after,
    resolve_folder,
)
from db import sources as source_queries
from db.jobs import create_job
from db.models import Collection, Source, SourceRun, User
from db.unit_of_work import commit_async
from tasks.source_run.spec import SPEC as SOURCE_RUN

# What the admin check says only admins may do here (403 admin_only).
ADMINS_ONLY = "manage sources"
SOURCE_NOT_FOUND = {"code": "source_not_found", "detail": "no such source"}

RECENT_RUNS = 20


def _config_problem(error: SourceConfigError, path: str) -> ProblemError:
    return ProblemError(422, error.code, error.message, errors=[{"path": path, "message": error.message}])


def _schedule(expression: str) -> str:
    try:
        return check_schedule(expression)
    except SourceConfigError as error:
        raise _config_problem(error, "schedule") from None


def _location(kind: str, location: str) -> str:
    """The location as stored: a URL as given, once the guard accepts it; a folder resolved."""
    settings = get_settings()
    if kind in URL_KINDS:
        url = location.strip()
        check_fetchable_url(url, field="location")
        return url
    try:
        folder = resolve_folder(location, settings.source_folders_root)
    except SourceConfigError as error:
        raise _config_problem(error, "location") from None
    # The API host may not see the workers' disk (compose): check only where the root is visible.
    if folder_root(settings.source_folders_root).is_dir() and not folder.is_dir():
        message = f"{str(folder)!r} is not a folder"
        raise ProblemError(
            422, "folder_not_found", message, errors=[{"path": "location", "message": message}]
        )
    return str(folder)


def _now() -> datetime:
    return datetime.now(UTC)


async def _source(session: AsyncSession, source_id: str | uuid.UUID, *, lock: bool = False) -> Source:
    return await get_or_404(
        source_id,
        lambda parsed: source_queries.get_source(session, source_id=parsed, lock=lock),
        **SOURCE_NOT_FOUND,
    )


def run_read(run: SourceRun) -> SourceRunRead:
    return SourceRunRead.model_validate(run, from_attributes=True)


async def _reads(session: AsyncSession, sources: list[Source]) -> list[SourceRead]:
    ids = [source.id for source in sources]
    names = await source_queries.collection_names(session, ids=list({s.collection_id for s in sources}))
    counts = await source_queries.document_counts(session, source_ids=ids)
    last = await source_queries.last_runs(session, source_ids=ids)
    return [
        SourceRead(
            id=source.id,
            collection_id=source.collection_id,
            collection=names.get(source.collection_id, ""),
            owner_id=source.owner_id,
            name=source.name,
            kind=source.kind,
            location=source.location,
            schedule=source.schedule,
            remove_missing=source.remove_missing,
            paused=source.paused,
            paused_reason=source.paused_reason,
            consecutive_failures=source.consecutive_failures,
            next_run_at=source.next_run_at,
            last_run_at=source.last_run_at,
            created_at=source.created_at,
            documents=counts.get(source.id, 0),
            last_run=run_read(last[source.id]) if source.id in last else None,
        )
        for source in sources
    ]


async def create_source(session: AsyncSession, *, user: User, request: SourceCreate) -> SourceRead:
    """Register a source; its first run is the schedule's next time (or POST .../run for one now)."""
    require_admin(user, to=ADMINS_ONLY)
    if request.kind not in SOURCE_KINDS:
        message = f"unknown source kind {request.kind!r}; kinds: {', '.join(SOURCE_KINDS)}"
        raise ProblemError(422, "invalid_source_kind", message, errors=[{"path": "kind", "message": message}])
    schedule = _schedule(request.schedule)
    location = _location(request.kind, request.location)
    collection = await session.get(Collection, request.collection_id)
    if collection is None:
        raise ProblemError(404, "collection_not_found", "no such collection")
    if collection.owner_id not in (None, user.id):
        raise ProblemError(
            403, "collection_read_only", "a source feeds a shared collection or one of your own"
        )
    source = await source_queries.create_source(
        session,
        values={
            "collection_id": collection.id,
            "owner_id": user.id,
            "name": request.name,
            "kind": request.kind,
            "location": location,
            "schedule": schedule,
            "remove_missing": request.remove_missing,
            "next_run_at": next_run_after(schedule, _now()),
        },
    )
    if source is None:
        raise ProblemError(409, "source_exists", f"the collection already has a source at {location!r}")
    await commit_async(session)
    [read] = await _reads(session, [source])
    return read


async def list_sources(session: AsyncSession, *, user: User) -> SourceList:
    """Every source with its state (paused, failure streak, next run) and its last run."""
    require_admin(user, to=ADMINS_ONLY)
    return SourceList(items=await _reads(session, await source_queries.list_sources(session)))


async def get_source(session: AsyncSession, *, user: User, source_id: str | uuid.UUID) -> SourceDetail:
    """One source with its last 20 runs."""
    require_admin(user, to=ADMINS_ONLY)
    source = await _source(session, source_id)
    [read] = await _reads(session, [source])
    runs = await source_queries.list_runs(session, source_id=source.id, limit=RECENT_RUNS, before=None)
    return SourceDetail(**read.model_dump(), runs=[run_read(run) for run in runs])


async def update_source(
    session: AsyncSession, *, user: User, source_id: str | uuid.UUID, request: SourceUpdate
) -> SourceRead:
    """Rename, reschedule, switch removal, pause or resume. A new schedule, or resuming, sets the
    next run to the schedule's next time from now; resuming also clears the failure streak."""
    require_admin(user, to=ADMINS_ONLY)
    source = await _source(session, source_id, lock=True)
    changes = request.model_dump(exclude_unset=True)
    if changes.get("name") is not None:
        source.name = changes["name"]
    if changes.get("remove_missing") is not None:
        source.remove_missing = changes["remove_missing"]
    if changes.get("schedule") is not None:
        source.schedule = _schedule(changes["schedule"])
        source.next_run_at = next_run_after(source.schedule, _now())
    if changes.get("paused") is True and not source.paused:
        source.paused = True
        source.paused_reason = f"paused by {user.email}"
    elif changes.get("paused") is False and source.paused:
        source.paused = False
        source.paused_reason = None
        source.consecutive_failures = 0
        source.next_run_at = next_run_after(source.schedule, _now())
    await commit_async(session)
    source = await _source(session, source.id)
    [read] = await _reads(session, [source])
    return read


async def delete_source(session: AsyncSession, *, user: User, source_id: str | uuid.UUID) -> None:
    """The source and its run log go; the documents it brought in stay, as ordinary documents."""
    require_admin(user, to=ADMINS_ONLY)
    if not await source_queries.delete_source(session, source_id=parse_id(source_id, **SOURCE_NOT_FOUND)):
        raise ProblemError(404, "source_not_found", "no such source")
    await commit_async(session)


async def run_now(session: AsyncSession, *, user: User, source_id: str | uuid.UUID) -> JobRead:
    """Submit a manual run (paused or not; its schedule is unchanged). If a run of the source is
    already running, this one is recorded as skipped (the job's output says so)."""
    require_admin(user, to=ADMINS_ONLY)
    source = await _source(session, source_id)
    job = create_job(
        session, SOURCE_RUN, input={"source_id": str(source.id), "trigger": "manual"}, owner_id=user.id
    )
    await commit_async(session)
    return job_read(job)


async def list_runs(
    session: AsyncSession, *, user: User, source_id: str | uuid.UUID, limit: int, cursor: str | None
) -> SourceRunList:
    """The source's run log, newest first, a page at a time."""
    require_admin(user, to=ADMINS_ONLY)
    source = await _source(session, source_id)
    before = decode_cursor(cursor) if cursor else None
    runs = await source_queries.list_runs(session, source_id=source.id, limit=limit + 1, before=before)
    page, more = runs[:limit], len(runs) > limit
    return SourceRunList(
        items=[run_read(run) for run in page],
        next_cursor=encode_cursor(page[-1], at=page[-1].started_at) if more else None,
    )
