"""The `lti.roster` kind's body: read every page of the course's roster, then replace the stored
roster in one transaction, so a sync that fails on its fifth page leaves the previous roster whole."""

from __future__ import annotations

from db import lti
from db.unit_of_work import unit_of_work
from tasks.lti_roster.spec import SPEC, RosterInput, RosterOutput
from workers.errors import JobFailure
from workers.lti.platform_client import roster_pages
from workers.runtime import JobContext, job_task


@job_task(SPEC)
def sync_roster(ctx: JobContext, payload: RosterInput) -> RosterOutput:
    with unit_of_work() as session:
        found = lti.context_with_platform(session, payload.context_id)
        if found is None:
            raise JobFailure("lti_context_not_found", "the course is gone")
        context, platform = found
        if not context.memberships_url:
            raise JobFailure(
                "lti_roster_unavailable", "the platform never offered this course's roster (no NRPS claim)"
            )
        memberships_url = context.memberships_url
        session.expunge(platform)
    members: dict[str, lti.RosterEntry] = {}
    pages = 0
    for page in roster_pages(platform, memberships_url):
        ctx.check_canceled()
        pages += 1
        ctx.progress("reading", message=f"page {pages}")
        for member in page:
            entry = lti.RosterEntry.of(member)
            if entry is not None:
                members[entry.subject] = entry  # a member repeated on two pages counts once
    with unit_of_work() as session:
        lti.replace_roster(
            session,
            context_id=payload.context_id,
            accounts_key=platform.accounts_key,
            members=list(members.values()),
        )
    active = sum(1 for entry in members.values() if entry.status == "Active")
    return RosterOutput(context_id=payload.context_id, members=len(members), active=active, pages=pages)
