"""The `lti.line_item` kind's body: find mentorq's column for the exercise in the course's line
items (by `resource_id` and mentorq's tag), else create it, and keep it as the course's column for
the exercise. A retry after the platform made the column finds it: one column, however often the
job runs."""

from __future__ import annotations

from db import lti
from db.unit_of_work import unit_of_work
from tasks.lti_line_item.spec import SPEC, LineItemInput, LineItemOutput
from workers.errors import JobFailure
from workers.lti.platform_client import create_line_item, find_line_item
from workers.runtime import JobContext, job_task


@job_task(SPEC)
def make_line_item(ctx: JobContext, payload: LineItemInput) -> LineItemOutput:
    with unit_of_work() as session:
        found = lti.context_with_platform(session, payload.context_id)
        if found is None:
            raise JobFailure("lti_context_not_found", "the course is gone")
        context, platform = found
        if not context.lineitems_url:
            raise JobFailure(
                "lti_line_items_unavailable", "the platform never let mentorq manage this course's line items"
            )
        lineitems_url = context.lineitems_url
        session.expunge(platform)
    resource_id = str(payload.exercise_id)
    ctx.progress("looking")
    item = find_line_item(platform, lineitems_url, resource_id)
    created = item is None
    if item is None:
        ctx.progress("creating")
        item = create_line_item(
            platform, lineitems_url, {"label": payload.label, "scoreMaximum": 1, "resourceId": resource_id}
        )
    with unit_of_work() as session:
        lti.remember_line_item(
            session,
            context_id=payload.context_id,
            exercise_id=payload.exercise_id,
            lineitem_url=item["id"],
            label=payload.label,
            created_by_tool=True,
        )
    return LineItemOutput(
        context_id=payload.context_id,
        exercise_id=payload.exercise_id,
        lineitem_url=item["id"],
        created=created,
    )
