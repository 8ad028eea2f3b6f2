"""Errors are part of the API: application/problem+json with a stable machine `code`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import errors as psycopg_errors
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.metrics import catalog

log = logging.getLogger(__name__)

TRANSIENT_CONFLICTS = (
    psycopg_errors.DeadlockDetected,
    psycopg_errors.SerializationFailure,
    psycopg_errors.LockNotAvailable,
)

PROBLEM_JSON = "application/problem+json"

STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    428: "precondition_required",
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}


class ProblemError(Exception):
    """Raised by services and routes; rendered as problem+json. Never carries a stack trace out."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail)
        self.status, self.code, self.detail, self.errors, self.headers = status, code, detail, errors, headers


class RequestRefused(StarletteHTTPException):
    """A request refused while its body is read (api/request_guard.py). An HTTPException, so FastAPI's
    body parsing lets it through instead of turning it into a generic 400; rendered with its own code."""

    def __init__(self, status: int, code: str, detail: str, *, errors: list[dict[str, Any]] | None = None):
        super().__init__(status, detail)
        self.code = code
        self.errors = errors


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    instance: str | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://mentorq.dev/problems/{code}",
        "title": code.replace("_", " ").capitalize(),
        "status": status,
        "code": code,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    if status == 429:  # every fair-use refusal is answered here: rate limits, quotas, throttles
        catalog.REFUSED_REQUESTS.labels(catalog.bounded(code)).inc()
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def field_path(location: tuple[Any, ...] | list[Any]) -> str:
    """('body', 'input', 'messages', 0, 'role') -> 'input.messages[0].role'."""
    path = ""
    for part in location:
        if part == "body" and not path:
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def _validation_problem(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return problem_response(
            400, "malformed_json", "the request body is not valid JSON", instance=request.url.path
        )
    return _shape_problem(request, errors)


def _model_validation_problem(request: Request, exc: ValidationError) -> JSONResponse:
    """A model validated inside a route (multipart metadata, say) failed: the client's input, so 422."""
    return _shape_problem(request, exc.errors(include_url=False))


def _shape_problem(request: Request, errors: Any) -> JSONResponse:
    details = [
        {"path": field_path(error.get("loc", ())), "message": error.get("msg", "")} for error in errors
    ]
    return problem_response(
        422,
        "validation_error",
        "the request does not match the expected shape",
        errors=details,
        instance=request.url.path,
    )


def _http_problem(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail, code = "request refused", STATUS_CODES.get(exc.status_code, "error")
    # fastapi-users reports machine codes (REGISTER_USER_ALREADY_EXISTS), or {code, reason}, as the detail.
    if isinstance(exc.detail, dict) and isinstance(exc.detail.get("code"), str):
        code, detail = exc.detail["code"].lower(), str(exc.detail.get("reason") or exc.detail["code"])
    elif isinstance(exc.detail, str):
        detail = exc.detail
        if detail.isupper() and " " not in detail:
            code = detail.lower()
    if exc.status_code == 401:
        code = "unauthorized"
        detail = "a valid bearer token or session cookie is required"
    return problem_response(
        exc.status_code, code, detail, headers=getattr(exc, "headers", None), instance=request.url.path
    )


def _is_connection_problem(exc: Exception) -> bool:
    if isinstance(exc, (OperationalError, PoolTimeoutError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def _retry_later(request: Request, code: str, why: str, retry_after_s: int = 5) -> JSONResponse:
    """503 for what recovers by itself, with when to come back."""
    return problem_response(
        503,
        code,
        f"{why}; retry shortly",
        headers={"Retry-After": str(retry_after_s)},
        instance=request.url.path,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Map every failure to problem+json; unknown errors become a bare 500 with no internals."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.code,
            exc.detail,
            errors=exc.errors,
            headers=exc.headers,
            instance=request.url.path,
        )

    @app.exception_handler(RequestRefused)
    async def _refused(request: Request, exc: RequestRefused) -> JSONResponse:
        return problem_response(
            exc.status_code, exc.code, exc.detail, errors=exc.errors, instance=request.url.path
        )

    app.add_exception_handler(RequestValidationError, _validation_problem)  # type: ignore[arg-type]
    app.add_exception_handler(ValidationError, _model_validation_problem)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_problem)  # type: ignore[arg-type]

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        if isinstance(exc.orig, TRANSIENT_CONFLICTS):
            # Two transactions wanted each other's rows (a delete racing an ingest, say); PostgreSQL
            # rolled this one back. Nothing was written: the same request again will pass.
            log.warning("database conflict: %s", type(exc.orig).__name__)
            return _retry_later(
                request, "database_busy", "a concurrent change got in the way; nothing was done", 1
            )
        if _is_connection_problem(exc):
            log.warning("database unavailable: %s", type(exc.orig).__name__ if exc.orig else exc)
            return _retry_later(request, "database_unavailable", "the database is unavailable")
        log.exception("database error")
        return problem_response(
            500, "internal_error", "an unexpected error occurred", instance=request.url.path
        )

    @app.exception_handler(PoolTimeoutError)
    async def _pool(request: Request, exc: PoolTimeoutError) -> JSONResponse:
        return _retry_later(request, "database_unavailable", "the database is busy or unavailable")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, OSError) or type(exc).__module__.startswith("psycopg"):
            return _retry_later(request, "database_unavailable", "a backing service is unavailable")
        log.exception("unhandled error on %s", request.url.path)
        return problem_response(
            500, "internal_error", "an unexpected error occurred", instance=request.url.path
        )


class ProblemField(BaseModel):
    path: str = Field(description="where in the request, e.g. `input.messages[0].role` or `query.kind`")
    message: str


class Problem(BaseModel):
    """Every error: RFC 9457 problem details with a stable machine `code` (application/problem+json)."""

    type: str
    title: str
    status: int
    code: str = Field(
        description="stable and machine-readable; the documentation lists them all (docs/api/errors.md)"
    )
    detail: str
    instance: str | None = None
    errors: list[ProblemField] | None = None
