"""The `xapi.send` kind's body: claim unsent statements, post them in batches, mark each sent or
refused.

A batch the LRS refuses (400) is halved until the bad statement is alone; it is kept with the
LRS's reason and never sent again, and the others go. A worker that dies mid-send leaves its claim;
the job's retry takes the same statements back and sends them again with the same ids, which the
LRS stores once."""

from __future__ import annotations

from typing import Any

import httpx

from db import xapi
from db.unit_of_work import unit_of_work
from tasks.xapi_send.spec import SPEC, SendInput, SendOutput
from workers.runtime import JobContext, job_task
from workers.xapi import lrs_client

BATCH = 50
MAX_BATCHES = 20  # per job: a long backlog is shared with the jobs behind it


@job_task(SPEC)
def send_statements(ctx: JobContext, payload: SendInput) -> SendOutput:
    sent = refused = 0
    with lrs_client.client() as client:
        for _ in range(MAX_BATCHES):
            with unit_of_work() as session:
                claimed = [
                    (row.id, row.statement) for row in xapi.claim(session, job_id=ctx.job_id, limit=BATCH)
                ]
            if not claimed:
                break
            ctx.progress("sending", None, f"{len(claimed)} statements")
            done, bad = _deliver(client, claimed)
            sent += done
            refused += bad
    return SendOutput(sent=sent, refused=refused)


def _deliver(client: httpx.Client, batch: list[tuple[Any, dict[str, Any]]]) -> tuple[int, int]:
    """(sent, refused) for this batch: all of it at once, or its halves when the LRS refuses it."""
    posted = lrs_client.post_statements(client, [statement for _, statement in batch])
    if posted.ok:
        with unit_of_work() as session:
            xapi.mark_sent(session, [statement_id for statement_id, _ in batch])
        return len(batch), 0
    if len(batch) == 1:
        with unit_of_work() as session:
            xapi.mark_refused(
                session,
                batch[0][0],
                code="xapi_statement_refused",
                message=f"the LRS answered {posted.status}: {posted.reason}",
            )
        return 0, 1
    middle = len(batch) // 2
    first, second = _deliver(client, batch[:middle]), _deliver(client, batch[middle:])
    return first[0] + second[0], first[1] + second[1]
