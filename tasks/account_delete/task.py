"""The `account.delete` kind's body: cancel the user's jobs, then delete the account and all it owns."""

from __future__ import annotations

from db import jobs as job_queries
from db import users
from db.unit_of_work import unit_of_work
from tasks.account_delete.spec import SPEC, AccountDeleteInput, AccountDeleteOutput
from workers.runtime import JobContext, job_task


@job_task(SPEC)
def delete_account(ctx: JobContext, payload: AccountDeleteInput) -> AccountDeleteOutput:
    """Two transactions: the cancels commit (and are announced) first, so a worker running one of the
    user's jobs stops; the delete then removes the rows, each cascading to what hangs off it. A worker
    that finishes late finds its job gone and writes nothing (every transition is conditional)."""
    ctx.progress("canceling")
    with unit_of_work() as session:
        canceled = len(job_queries.cancel_active_jobs_of(session, owner_id=payload.user_id))
    ctx.progress("deleting")
    with unit_of_work() as session:
        deleted = users.delete_account(session, user_id=payload.user_id)
    return AccountDeleteOutput(user_id=payload.user_id, canceled_jobs=canceled, deleted=deleted)
