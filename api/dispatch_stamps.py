"""`dispatched_at` for jobs the API published, written in batches off the request path.

The outbox needs to know a job reached the broker: the reconciler re-publishes queued jobs
still unstamped after its grace period. Stamping each job in its own UPDATE and COMMIT cost
every submit a transaction; under a burst one statement now stamps every job published in the
last STAMP_DELAY_S. Losing a batch (the process dies, PostgreSQL blips) costs a duplicate
message after the grace period, which the worker's claim makes harmless.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from db import jobs as job_queries
from db.session import async_session_factory

log = logging.getLogger(__name__)

STAMP_DELAY_S = 0.02  # a burst's publishes gather this long into one UPDATE


class DispatchStamps:
    def __init__(self) -> None:
        self._job_ids: list[uuid.UUID] = []
        self._writer: asyncio.Task[None] | None = None

    def add(self, job_id: uuid.UUID) -> None:
        """Note that this job's message is on the broker; it is stamped within a few milliseconds."""
        self._job_ids.append(job_id)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_soon(), name="dispatch-stamps")

    async def _write_soon(self) -> None:
        await asyncio.sleep(STAMP_DELAY_S)
        while self._job_ids:
            job_ids, self._job_ids = self._job_ids, []
            try:
                async with async_session_factory()() as session:
                    await job_queries.mark_published_async(session, job_ids=job_ids)
                    await session.commit()
            except Exception:  # noqa: BLE001 - the reconciler re-publishes them; the claim dedupes
                log.warning("could not stamp %d published jobs; the reconciler will re-publish them", len(job_ids))

    async def drain(self) -> None:
        """Write what is pending (at shutdown)."""
        if self._writer is not None:
            await self._writer


dispatch_stamps = DispatchStamps()
