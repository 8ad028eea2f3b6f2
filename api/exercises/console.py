"""/admin/questions: the question bank. Import a Moodle GIFT file and read its per-line report, see
the exercise jobs that failed with the publish gate's reasons, and grade the submissions left for an
instructor.

Everything goes through the services the JSON API uses: api/exercises/service.py's import_gift
(POST /v1/admin/exercises/gift), awaiting_grades and grade_by_instructor (/v1/admin/exercises/
submissions), and the job listing of GET /v1/jobs (kind `exercise`, status `failed`), where the gate's
reasons are the failed job's `error.details.reasons`, one list per draft.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from api.console.auth import AdminForm, AdminUser
from api.console.routing import ConsoleRoute
from api.console.templating import NavEntry, render
from api.errors import ProblemError
from api.exercises import service as exercise_service
from api.exercises.schemas import GiftImport, InstructorGrade
from api.jobs import service as job_service
from api.request_guard import INVALID_TEXT, UNSTORABLE
from api.shared import SessionDep, parse_id
from api.users import service as user_admin_service
from tasks.exercise.spec import SPEC as EXERCISE

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
NAV = NavEntry("Question bank", "/admin/questions")

GIFT_PATH = "/admin/questions/gift"
GRADING_PATH = "/admin/questions/grading"
PAGE_SIZE = 50
NOTICES = {
    "graded": "Graded: the learner sees the score and feedback, and their mastery moved.",
}


def _skills(text: str) -> list[str]:
    return [skill.strip() for skill in text.split(",") if skill.strip()]


async def _gift_text(form: AdminForm) -> tuple[str, str | None]:
    """The GIFT text from the uploaded file (UTF-8, a byte order mark dropped) or the text box."""
    upload = form.fields.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        try:
            text = (await upload.read()).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ProblemError(422, "validation_error", "the GIFT file is not UTF-8 text") from None
        # A file's content is bytes to the request guard: its text rules apply here, as to a field.
        if UNSTORABLE.search(text):
            raise ProblemError(422, "invalid_text", INVALID_TEXT)
        return text, upload.filename
    # Not stripped: the report's line numbers are the pasted text's own.
    pasted = form.fields.get("text")
    return (pasted if isinstance(pasted, str) else ""), None


@router.get("/admin/questions")
async def question_bank(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    cursor: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    refused, next_cursor = await job_service.page_of_jobs(
        session, user=admin, kind=EXERCISE.name, status="failed", limit=PAGE_SIZE, cursor=cursor or None
    )
    owners = await user_admin_service.emails_of(
        session, admin=admin, user_ids={job.owner_id for job in refused}
    )
    waiting = await exercise_service.awaiting_grades(session, user=admin)
    return render(
        request,
        "question_bank.html",
        title="Question bank",
        refused=refused,
        owners=owners,
        next_cursor=next_cursor,
        later_page=bool(cursor),
        waiting=len(waiting.submissions),
        waiting_limit=exercise_service.AWAITING_LIMIT,
        gift_path=GIFT_PATH,
    )


@router.post(GIFT_PATH)
async def import_gift(request: Request, session: SessionDep, form: AdminForm) -> Response:
    """The report is this response (what was refused is known only now): a page, not a redirect."""
    text, filename = await _gift_text(form)
    if not text.strip():
        raise ProblemError(422, "validation_error", "choose a GIFT file, or paste its text")
    wanted = GiftImport.model_validate(
        {"text": text, "topic": form.text("topic") or None, "skills": _skills(form.text("skills"))}
    )
    imported = await exercise_service.import_gift(session, user=form.admin, request=wanted)
    return render(
        request,
        "gift_report.html",
        title="GIFT import report",
        filename=filename,
        imported=imported,
        lines=len(text.splitlines()),
    )


@router.get(GRADING_PATH)
async def grading(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    notice: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    waiting = await exercise_service.awaiting_grades(session, user=admin)
    learners = await user_admin_service.emails_of(
        session, admin=admin, user_ids={submission.user_id for submission in waiting.submissions}
    )
    return render(
        request,
        "grading.html",
        title="Submissions awaiting a grade",
        submissions=waiting.submissions,
        learners=learners,
        limit=exercise_service.AWAITING_LIMIT,
        notice=NOTICES.get(notice),
    )


@router.post("/admin/questions/submissions/{submission_id}/grade")
async def grade(submission_id: str, session: SessionDep, form: AdminForm) -> Response:
    parsed = parse_id(submission_id, code="submission_not_found", detail="no such submission")
    wanted = InstructorGrade.model_validate({"score": form.text("score"), "feedback": form.text("feedback")})
    await exercise_service.grade_by_instructor(session, user=form.admin, submission_id=parsed, grade=wanted)
    return RedirectResponse(f"{GRADING_PATH}?notice=graded", status_code=303)
