"""Scheduled sources: registration and reading (API), due sources (beat), and a run's log (workers).

A run opens its `source_runs` row first. The database admits one running row per source (a
unique partial index), so of two runs at once one runs and the other is recorded `skipped`. A
running row left by a run that can no longer finish (its job ended or is gone) is closed as
failed, so a crash never blocks a source for good.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from db.models import ACTIVE, Collection, Document, Job, Source, SourceRun

ABANDONED = {
    "code": "run_abandoned",
    "message": "the run's job ended or disappeared without closing the run (a crashed or canceled worker)",
}


# --- the API ----------------------------------------------------------------------------------


async def create_source(session: AsyncSession, *, values: dict[str, Any]) -> Source | None:
    """A new source; None when the collection already has a source at that location."""
    result = await session.execute(
        insert(Source)
        .values(id=uuid.uuid4(), **values)
        .on_conflict_do_nothing(constraint="uq_sources_collection_location")
        .returning(Source)
    )
    return result.scalar_one_or_none()


async def get_source(session: AsyncSession, *, source_id: uuid.UUID, lock: bool = False) -> Source | None:
    query = select(Source).where(Source.id == source_id).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def list_sources(session: AsyncSession) -> list[Source]:
    """Every source, by collection then name."""
    result = await session.execute(select(Source).order_by(Source.collection_id, Source.name, Source.id))
    return list(result.scalars())


async def collection_names(session: AsyncSession, *, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    result = await session.execute(select(Collection.id, Collection.name).where(Collection.id.in_(ids)))
    return dict(result.tuples().all())


async def document_counts(session: AsyncSession, *, source_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How many documents each source has brought in (and still has)."""
    if not source_ids:
        return {}
    result = await session.execute(
        select(Document.source_id, func.count())
        .where(Document.source_id.in_(source_ids))
        .group_by(Document.source_id)
    )
    return dict(result.tuples().all())


async def last_runs(session: AsyncSession, *, source_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, SourceRun]:
    """Each source's most recent run (skipped ones included)."""
    if not source_ids:
        return {}
    result = await session.execute(
        select(SourceRun)
        .where(SourceRun.source_id.in_(source_ids))
        .distinct(SourceRun.source_id)
        .order_by(SourceRun.source_id, SourceRun.started_at.desc(), SourceRun.id.desc())
    )
    return {run.source_id: run for run in result.scalars()}


async def list_runs(
    session: AsyncSession, *, source_id: uuid.UUID, limit: int, before: tuple[datetime, uuid.UUID] | None
) -> list[SourceRun]:
    """Newest first; `before` is the (started_at, id) of the last run of the previous page."""
    query = select(SourceRun).where(SourceRun.source_id == source_id)
    if before is not None:
        started_at, run_id = before
        query = query.where(
            or_(
                SourceRun.started_at < started_at,
                and_(SourceRun.started_at == started_at, SourceRun.id < run_id),
            )
        )
    query = query.order_by(SourceRun.started_at.desc(), SourceRun.id.desc()).limit(limit)
    return list((await session.execute(query.execution_options(populate_existing=True))).scalars())


async def delete_source(session: AsyncSession, *, source_id: uuid.UUID) -> bool:
    """Delete the source and its run log; its documents stay (their source_id becomes NULL)."""
    result = await session.execute(delete(Source).where(Source.id == source_id).returning(Source.id))
    return result.first() is not None


# --- beat ------------------------------------------------------------------------------------------


def claim_due_sources(session: Session, *, limit: int) -> list[Source]:
    """Unpaused sources whose next run is due, locked (SKIP LOCKED: two beats never take the same one)
    until the caller's transaction advances them and submits their runs."""
    result = session.execute(
        select(Source)
        .where(Source.paused.is_(False), Source.next_run_at <= func.now())
        .order_by(Source.next_run_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(result.scalars())


def close_abandoned_runs(session: Session, *, pause_after: int, limit: int = 100) -> int:
    """Close as failed every running row nothing will finish: its job is gone, or no longer queued or
    running (beat's pass; a run does the same for its own source when it finds one). Each counts as
    a failed run of its source."""
    rows = session.execute(
        select(SourceRun, Job.status)
        .outerjoin(Job, Job.id == SourceRun.job_id)
        .where(SourceRun.status == "running", or_(Job.id.is_(None), Job.status.not_in(tuple(ACTIVE))))
        .limit(limit)
        .with_for_update(of=SourceRun, skip_locked=True)
    ).tuples()
    closed = 0
    for run, job_status in list(rows):
        _close(session, run, status="failed", error=_abandoned_error(job_status), pause_after=pause_after)
        closed += 1
    return closed


def _abandoned_error(job_status: str | None) -> dict[str, str]:
    """run_abandoned (a failure of the source), or canceled when an admin canceled its job (not one)."""
    if job_status == "canceled":
        return {"code": "canceled", "message": "the run's job was canceled"}
    return ABANDONED


# --- a run (workers) -------------------------------------------------------------------------------


def get_source_sync(session: Session, *, source_id: uuid.UUID) -> Source | None:
    return session.get(Source, source_id, populate_existing=True)


@dataclass
class OpenedRun:
    """The run this job goes on with (`run_id`), or the skipped row it recorded instead."""

    run_id: uuid.UUID | None
    taken_over: bool = False
    skipped_run_id: uuid.UUID | None = None


def _insert_running(session: Session, *, source_id: uuid.UUID, job_id: uuid.UUID, trigger: str):
    return session.execute(
        insert(SourceRun)
        .values(id=uuid.uuid4(), source_id=source_id, job_id=job_id, trigger=trigger, status="running")
        .on_conflict_do_nothing(index_elements=["source_id"], index_where=text("status = 'running'"))
        .returning(SourceRun.id)
    ).scalar_one_or_none()


def _running_row(session: Session, *, source_id: uuid.UUID) -> SourceRun | None:
    return session.execute(
        select(SourceRun)
        .where(SourceRun.source_id == source_id, SourceRun.status == "running")
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _job_status(session: Session, run: SourceRun) -> str | None:
    """The status of the run's job; None when it has none or it is gone."""
    if run.job_id is None:
        return None
    return session.execute(select(Job.status).where(Job.id == run.job_id)).scalar_one_or_none()


def open_run(
    session: Session, *, source_id: uuid.UUID, job_id: uuid.UUID, trigger: str, pause_after: int
) -> OpenedRun:
    """Open this job's run of the source. The unique index refuses a second running row: then the
    job's own row (a redelivery) is taken over, an abandoned one is closed as failed and replaced,
    and a live one makes this run `skipped` (a row of its own, closed at once)."""
    for _ in range(3):  # a row can finish, or be closed by another run, between the statements
        run_id = _insert_running(session, source_id=source_id, job_id=job_id, trigger=trigger)
        if run_id is not None:
            return OpenedRun(run_id)
        running = _running_row(session, source_id=source_id)
        if running is None:
            continue
        if running.job_id == job_id:
            return OpenedRun(running.id, taken_over=True)
        job_status = _job_status(session, running)
        if job_status in ACTIVE:
            skipped_id = record_skipped_run(
                session,
                source_id=source_id,
                job_id=job_id,
                trigger=trigger,
                code="already_running",
                message=f"run {running.id} of this source is still running",
            )
            return OpenedRun(None, skipped_run_id=skipped_id)
        _close(session, running, status="failed", error=_abandoned_error(job_status), pause_after=pause_after)
        session.flush()
    raise RuntimeError(f"could not open a run of source {source_id}")


def record_skipped_run(
    session: Session, *, source_id: uuid.UUID, job_id: uuid.UUID, trigger: str, code: str, message: str
) -> uuid.UUID:
    """A run that did not start (another run of the source is running; the source is paused),
    closed at once."""
    run = SourceRun(
        id=uuid.uuid4(),
        source_id=source_id,
        job_id=job_id,
        trigger=trigger,
        status="skipped",
        error={"code": code, "message": message},
        finished_at=func.now(),
    )
    session.add(run)
    return run.id


def finish_run(
    session: Session,
    *,
    run_id: uuid.UUID,
    status: str,
    counts: dict[str, Any],
    error: dict[str, Any] | None,
    pause_after: int,
) -> Source | None:
    """Close the run (succeeded or failed) with its counts, and record the outcome on its source.
    Only a row still running is closed: a run closed meanwhile as abandoned stays as it was."""
    run = session.execute(
        select(SourceRun)
        .where(SourceRun.id == run_id, SourceRun.status == "running")
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if run is None:
        return None
    for name, value in counts.items():
        setattr(run, name, value)
    return _close(session, run, status=status, error=error, pause_after=pause_after)


def _close(
    session: Session, run: SourceRun, *, status: str, error: dict[str, Any] | None, pause_after: int
) -> Source | None:
    """The run ends; its source's last run, failure streak and (at `pause_after` failures) pause."""
    run.status = status
    run.error = error
    run.finished_at = func.now()
    source = session.execute(
        select(Source)
        .where(Source.id == run.source_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if source is None:
        return None
    source.last_run_at = func.now()
    if status == "succeeded":
        source.consecutive_failures = 0
    elif status == "failed" and (error or {}).get("code") != "canceled":
        source.consecutive_failures = source.consecutive_failures + 1
        if source.consecutive_failures >= pause_after and not source.paused:
            source.paused = True
            last = f"{error['code']}: {error['message']}" if error else "unknown error"
            source.paused_reason = f"{source.consecutive_failures} failed runs in a row; the last: {last}"[
                :2000
            ]
    session.flush()
    return source


def source_documents(
    session: Session, *, source_id: uuid.UUID
) -> list[tuple[uuid.UUID, str, uuid.UUID | None]]:
    """(id, source_key, ingest_job_id) of every document the source brought in."""
    result = session.execute(
        select(Document.id, Document.source_key, Document.ingest_job_id).where(
            Document.source_id == source_id
        )
    )
    return [tuple(row) for row in result.tuples()]
