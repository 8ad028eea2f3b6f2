"""Beat's re-embedding pass: move search to the configured embedding model without an outage, fill gaps."""

from __future__ import annotations

import logging

from core.platform_tasks import SCHEDULE_REEMBEDDING
from core.settings import get_settings
from db.unit_of_work import unit_of_work
from tasks.reembed.advance import advance
from workers.celery_app import platform_task

log = logging.getLogger(__name__)


@platform_task(SCHEDULE_REEMBEDDING)
def schedule_reembedding() -> dict[str, object]:
    """One pass (tasks/reembed/advance.py): the next `reembed` jobs, or the switch to the configured
    model once it covers every searchable chunk. The same pass embeds chunks the active model lacks
    (the nightly run relies on it)."""
    settings = get_settings()
    with unit_of_work() as session:
        done = advance(session, target=settings.embed_model, batch=settings.reembed_batch_chunks)
    if "switched_from" in done:
        log.info("embedding model switched from %s to %s", done["switched_from"], done["active"])
    return done
