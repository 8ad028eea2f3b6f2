"""/api/targets and /api/matches: what a learner aims at, how they measure up, the plan, the report."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.errors import ProblemError
from api.matches import service as match_service
from api.matches.schemas import MatchCreate, MatchCreated, MatchDetail, MatchList, TargetCreate, TargetRead
from api.openapi import problems
from api.shared import CurrentUser, SessionDep, Upload
from core.matches import report

router = APIRouter(tags=["matches"])

MATCH_BODY = {
    "requestBody": {
        "content": {
            "application/json": {"schema": MatchCreate.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "cv": {"type": "string", "format": "binary"},
                        "target_id": {"type": "string"},
                        "target": {
                            "type": "string",
                            "description": "a target as JSON ({text} or {document_id})",
                        },
                    },
                    "required": ["cv"],
                }
            },
        }
    }
}


@router.post("/api/targets", response_model=TargetRead, status_code=201, responses=problems(404, 409, 413))
async def create_target(body: TargetCreate, session: SessionDep, user: CurrentUser) -> TargetRead:
    """A target as `{title?, text}` or `{title?, document_id}` (a document you can read; its text is
    copied, so later changes to the document do not move your matches)."""
    return await match_service.add_target(session, user=user, body=body)


@router.get("/api/targets", response_model=list[TargetRead])
async def list_targets(session: SessionDep, user: CurrentUser) -> list[TargetRead]:
    return await match_service.list_targets(session, user=user)


@router.get("/api/targets/{target_id}", response_model=TargetRead, responses=problems(404))
async def get_target(target_id: str, session: SessionDep, user: CurrentUser) -> TargetRead:
    return match_service.target_read(
        await match_service.owned_target(session, user=user, target_id=target_id)
    )


@router.delete("/api/targets/{target_id}", status_code=204, responses=problems(404))
async def delete_target(target_id: str, session: SessionDep, user: CurrentUser) -> Response:
    """The target and every match against it."""
    await match_service.delete_target(session, user=user, target_id=target_id)
    return Response(status_code=204)


@router.post(
    "/api/matches",
    response_model=MatchCreated,
    status_code=202,
    responses=problems(404, 409, 413, 415),
    openapi_extra=MATCH_BODY,
)
async def create_match(
    request: Request, session: SessionDep, user: CurrentUser, response: Response
) -> MatchCreated:
    """JSON `{target_id}` or `{target: {text | document_id}}` matches your profile; multipart with a
    `cv` file (and `target_id` or `target` as JSON) matches that CV. A `match` job does the work."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    cv = None
    try:
        if content_type == "multipart/form-data":
            form = await request.form(max_files=1, max_fields=10)
            file = form.get("cv")
            if not isinstance(file, UploadFile):
                raise ProblemError(422, "invalid_input", "send the CV as the multipart field `cv`")
            fields = {k: v for k, v in form.items() if k != "cv" and isinstance(v, str) and v}
            if "target" in fields:
                fields["target"] = _target_field(fields["target"])
            body = MatchCreate.model_validate(fields)
            cv = Upload(filename=file.filename, content_type=file.content_type, content=await file.read())
        elif content_type == "application/json":
            body = MatchCreate.model_validate_json(await request.body())
        else:
            raise ProblemError(415, "unsupported_media_type", "send JSON, or multipart/form-data with `cv`")
    except ValidationError as error:
        raise RequestValidationError(error.errors(include_url=False)) from None
    created = await match_service.create_match(session, user=user, body=body, cv=cv)
    response.headers["Location"] = f"/api/matches/{created.id}"
    return created


def _target_field(raw: str) -> TargetCreate:
    """A multipart `target` field, JSON read by pydantic's parser: a hostile nesting depth is a 422
    like any invalid JSON (the standard library's parser would raise RecursionError, a 500)."""
    try:
        return TargetCreate.model_validate_json(raw)
    except ValidationError as error:
        errors = [{**e, "loc": ("target", *e["loc"])} for e in error.errors(include_url=False)]
        raise RequestValidationError(errors) from None


@router.get("/api/matches", response_model=MatchList)
async def list_matches(session: SessionDep, user: CurrentUser) -> MatchList:
    return MatchList(items=await match_service.list_matches(session, user=user))


@router.get("/api/matches/{match_id}", response_model=MatchDetail, responses=problems(404))
async def get_match(match_id: str, session: SessionDep, user: CurrentUser) -> MatchDetail:
    """The score and how it was computed, strengths and gaps with evidence from both sides, the plan
    (each gap's resources and exercise jobs, closed as you master it) and the score's history."""
    return await match_service.match_detail(session, user=user, match_id=match_id)


@router.delete("/api/matches/{match_id}", status_code=204, responses=problems(404))
async def delete_match(match_id: str, session: SessionDep, user: CurrentUser) -> Response:
    await match_service.delete_match(session, user=user, match_id=match_id)
    return Response(status_code=204)


async def _finished(session, user, match_id: str) -> MatchDetail:
    detail = await match_service.match_detail(session, user=user, match_id=match_id)
    if detail.score is None:
        raise ProblemError(
            409, "match_not_ready", f"the match is {detail.status}; its report follows its result"
        )
    return detail


@router.get("/api/matches/{match_id}/report.json", response_model=MatchDetail, responses=problems(404, 409))
async def report_json(match_id: str, session: SessionDep, user: CurrentUser) -> MatchDetail:
    return await _finished(session, user, match_id)


@router.get("/api/matches/{match_id}/report.md", responses=problems(404, 409))
async def report_markdown(match_id: str, session: SessionDep, user: CurrentUser) -> Response:
    detail = await _finished(session, user, match_id)
    return Response(
        report.markdown(detail.model_dump(mode="json")), media_type="text/markdown; charset=utf-8"
    )


@router.get("/api/matches/{match_id}/report.pdf", responses=problems(404, 409, 500, 503))
async def report_pdf(match_id: str, session: SessionDep, user: CurrentUser) -> Response:
    """Rendered on request, off the event loop (about 0.13 s for 30 requirements; benchmarks.match).
    A report whose text the PDF layout refuses is 500 `report_unrenderable` (report.json and
    report.md still serve it)."""
    detail = await _finished(session, user, match_id)
    try:
        content = await run_in_threadpool(report.pdf, detail.model_dump(mode="json"))
    except report.ReportUnavailable as error:
        raise ProblemError(503, "report_unavailable", str(error)) from None
    except report.ReportUnrenderable:
        raise ProblemError(
            500,
            "report_unrenderable",
            "this report's text could not be laid out as a PDF; report.json and report.md show it",
        ) from None
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="match-{detail.id}.pdf"'},
    )
