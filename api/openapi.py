"""The OpenAPI document tells the truth about errors.

FastAPI documents what a route declares, plus a 422 in its own shape that this API never sends.
Every error here is `application/problem+json` with one schema (`Problem`), so the document is
post-processed once: each operation gets the error statuses it can answer, all with that schema.
What every operation can answer is derived (a body can be too large, a path id not found, a
protected route unauthorized...); what only some routes answer (403, 409, 412, 415) they declare
with `responses=problems(...)`. A schemathesis run over the whole document, in `make test`,
checks that what the API really answers is documented (tests/api/test_openapi_conformance.py).

A model's JSON schema given inline (a route's `openapi_extra`, such as the matches' multipart and
JSON body) carries its own `$defs`, and its `#/$defs/X` references resolve from the document's
root, where there are none: each such definition moves to the components, its references with it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.errors import Problem

PROBLEM_JSON = "application/problem+json"

STATUS_MEANINGS = {
    400: "Malformed request: JSON, a header value (Prefer, Idempotency-Key, Last-Event-ID) or a cursor",
    401: "No valid bearer token or session cookie (missing, expired or revoked)",
    403: "Not allowed: admins only, a read-only collection, or a request riding the session cookie "
    "from another origin (csrf_failed)",
    404: "No such resource (another user's resources answer 404 too)",
    409: "Conflict with the resource's current state",
    412: "The resource changed since the version the request names (If-Match)",
    413: "The request body is over the size limit",
    415: "Unsupported media type",
    422: "The request does not validate (invalid_input, validation_error, invalid_text, ...)",
    428: "The request must name the version it changes (If-Match)",
    429: "Too many requests, or a quota is full; see Retry-After and the RateLimit headers",
    500: "The server could not produce the response (report_unrenderable: a PDF layout refused its text)",
    503: "A backing service (database, broker, a worker) is unavailable; see Retry-After",
}
UNPROBED = {"/healthz", "/readyz"}  # probes: no auth, no rate limit, no parameters
STATE_CHANGING = {"post", "put", "patch", "delete"}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route that can answer these statuses beyond the derived ones."""
    return {status: {"description": STATUS_MEANINGS[status], "model": Problem} for status in statuses}


def install_openapi(app: FastAPI) -> None:
    """Replace the app's OpenAPI builder with one that documents every error as problem+json."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            app.openapi_schema = _with_problems(schema)
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]


LOCAL_REF = "#/$defs/"
COMPONENT_REF = "#/components/schemas/"


def _hoist_local_definitions(node: Any, components: dict[str, Any]) -> None:
    """Move every nested `$defs` entry into the components (a component of that name, FastAPI's
    rendering of the same model, stays) and point its `#/$defs/` references there."""
    if isinstance(node, list):
        for item in node:
            _hoist_local_definitions(item, components)
        return
    if not isinstance(node, dict):
        return
    for name, definition in node.pop("$defs", {}).items():
        _hoist_local_definitions(definition, components)
        components.setdefault(name, definition)
    reference = node.get("$ref")
    if isinstance(reference, str) and reference.startswith(LOCAL_REF):
        node["$ref"] = COMPONENT_REF + reference.removeprefix(LOCAL_REF)
    for value in node.values():
        _hoist_local_definitions(value, components)


def _with_problems(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(components["Problem"].pop("$defs", {}))
    _hoist_local_definitions(schema.get("paths", {}), components)
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in _error_statuses(path, method, operation):
                responses.setdefault(str(status), {"description": STATUS_MEANINGS[status]})
            for status, response in responses.items():
                if status.startswith(("4", "5")) and not (path in UNPROBED and status == "503"):
                    response["content"] = problem
                    response["description"] = STATUS_MEANINGS.get(
                        int(status), response.get("description", "")
                    )
            if path.endswith("/logout") or path == "/auth/cookie/login":
                responses.pop("200", None)  # these answer 204 No Content, never 200
                responses.setdefault("204", {"description": "Done; no content"})
    for unused in ("HTTPValidationError", "ValidationError", "ErrorModel"):
        components.pop(unused, None)
    return schema


def _error_statuses(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    if path in UNPROBED:
        return {422}  # a NUL in the query string (api/request_guard.py) reaches every route;
        # /readyz's 503 is declared by its route (plain JSON with the failing checks)
    statuses = {422, 429, 503}
    if operation.get("parameters") or operation.get("requestBody"):
        statuses.add(400)
    if operation.get("requestBody"):
        statuses.add(413)
    if operation.get("security"):
        statuses.add(401)
    # The cookie session's origin rule (api/cookie_guard.py) refuses a change from another origin.
    if method in STATE_CHANGING and (operation.get("security") or path.startswith("/auth/cookie/")):
        statuses.add(403)
    if "{" in path:
        statuses.add(404)
    return statuses
